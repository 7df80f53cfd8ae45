"""FaultInjectionLayer: make a backend fail on purpose, reproducibly.

Rules say *which* call fails (an operation name, optionally a key predicate),
*when* (the Nth matching call, every call, or with probability ``p`` from a
seeded generator), *how often* (``times``) and *how*: raise an error
(temporary by default), raise a throttling error with a ``retry_after``, cut
a stream after N bytes, add latency, or lose the reply (``lose_reply``: the call
runs and takes effect, then a temporary error is raised as if the connection had
dropped before the answer came: the ambiguous failure a retry must not mistake
for a failure of its own success). The project's own tests use it for fault
injection.

Operation names: ``open_write`` (``new_writer``), ``write`` (each
``Writer.write``), ``publish`` (``Writer.close``; the inner write is aborted,
nothing is published), ``stage`` (``Writer.stage``), ``publish_staged`` and
``abort_staged`` (the deferred publish of a staged object), ``open_read``
(``new_reader``), ``read`` (bytes of an open stream), ``pinned`` (``open_pinned``
and its range reads), ``exists``, ``stat``, ``delete``, ``list``, ``copy``,
``move``, ``mkdir``, ``rmdir``, or ``"*"`` for all.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

from omnistorage._reader_base import WrappedReader
from omnistorage.driver import Backend, PinnedReader, WriteOptions, Writer
from omnistorage.errors import Classification, ErrorKind
from omnistorage.ext._layer import Layer
from omnistorage.models import ObjectInfo

__all__ = ["Fault", "FaultInjectionLayer", "InjectedFault", "InjectedThrottle"]


class InjectedFault(ConnectionError):
    """An injected failure. ``temporary`` says how the layer classifies it."""

    def __init__(self, message: str, *, temporary: bool = True) -> None:
        super().__init__(message)
        self.temporary = temporary


class InjectedThrottle(InjectedFault):
    """An injected throttling reply (like HTTP 429/503 SlowDown) with ``retry_after``."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, temporary=True)
        self.retry_after = retry_after


Action = Literal["error", "throttle", "cut", "latency", "lose_reply"]


@dataclass
class Fault:
    """One rule. Build them with the layer's helpers (``fail_nth`` …) or directly."""

    op: str = "*"
    action: Action = "error"
    nth: int | None = None
    """Fire on the Nth matching call (1-based), then on every later one until spent."""
    probability: float | None = None
    times: int | None = 1
    """How many times it fires (``None``: forever)."""
    temporary: bool = True
    after_bytes: int = 0
    """For ``cut``: bytes let through before the stream breaks."""
    seconds: float = 0.0
    """For ``latency`` (and ``throttle``'s ``retry_after``)."""
    key: Callable[[str], bool] | None = None
    seen: int = field(default=0, init=False)
    fired: int = field(default=0, init=False)

    def matches(self, op: str, key: str | None) -> bool:
        if self.op not in ("*", op):
            return False
        return self.key is None or (key is not None and self.key(key))


class FaultInjectionLayer(Layer):
    """Wraps a backend and fails where its rules say (see the module docstring)."""

    forwards_staging = True

    def __init__(self, inner: Backend, *, seed: int | None = 0) -> None:
        super().__init__(inner)
        self.rules: list[Fault] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    # ------------------------------------------------------------ rule helpers

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.rules.append(fault)
        return fault

    def fail_nth(
        self, op: str, n: int = 1, *, times: int | None = 1, temporary: bool = True
    ) -> Fault:
        """The ``n``-th ``op`` call (and the next ``times - 1``) raises."""
        return self.add(Fault(op, "error", nth=n, times=times, temporary=temporary))

    def fail_with_probability(self, op: str, p: float, *, temporary: bool = True) -> Fault:
        """Each ``op`` call raises with probability ``p`` (seeded, reproducible)."""
        return self.add(Fault(op, "error", probability=p, times=None, temporary=temporary))

    def throttle(self, op: str, *, times: int = 1, retry_after: float | None = None) -> Fault:
        """The next ``times`` ``op`` calls raise a throttling error."""
        return self.add(Fault(op, "throttle", nth=1, times=times, seconds=retry_after or 0.0))

    def cut_stream(
        self, op: Literal["read", "write"], after_bytes: int, *, times: int = 1
    ) -> Fault:
        """The next ``times`` streams break (a dropped connection) after ``after_bytes``."""
        return self.add(Fault(op, "cut", nth=1, times=times, after_bytes=after_bytes))

    def add_latency(self, op: str, seconds: float) -> Fault:
        """Every ``op`` call waits ``seconds`` first."""
        return self.add(Fault(op, "latency", nth=1, times=None, seconds=seconds))

    def lose_reply(self, op: str, n: int = 1, *, times: int | None = 1) -> Fault:
        """The ``n``-th ``op`` call (and the next ``times - 1``) takes effect, then raises
        a temporary error as if its reply had been lost (``copy``, ``move``, ``delete``,
        ``delete_version``, ``mkdir``, ``rmdir``, ``publish``, ``stage``, ``publish_staged``,
        ``abort_staged``)."""
        return self.add(Fault(op, "lose_reply", nth=n, times=times))

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    # ------------------------------------------------------------ firing

    def _due(self, op: str, key: str | None, actions: tuple[Action, ...]) -> Fault | None:
        with self._lock:
            for rule in self.rules:
                if rule.action not in actions or not rule.matches(op, key):
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                rule.seen += 1
                if rule.nth is not None and rule.seen < rule.nth:
                    continue
                if rule.probability is not None and self._rng.random() >= rule.probability:
                    continue
                rule.fired += 1
                return rule
        return None

    def _check(self, op: str, key: str | None = None) -> None:
        latency = self._due(op, key, ("latency",))
        if latency is not None:
            time.sleep(latency.seconds)
        rule = self._due(op, key, ("error", "throttle"))
        if rule is None:
            return
        where = f" {key!r}" if key is not None else ""
        if rule.action == "throttle":
            raise InjectedThrottle(
                f"injected: {op}{where} throttled", retry_after=rule.seconds or None
            )
        raise InjectedFault(f"injected: {op}{where} failed", temporary=rule.temporary)

    def _lost(self, op: str, key: str | None) -> None:
        """After a call took effect: raise as if its reply had been lost, when a rule says."""
        if self._due(op, key, ("lose_reply",)) is not None:
            where = f" {key!r}" if key is not None else ""
            raise InjectedFault(f"injected: {op}{where} done, but its reply was lost")

    def _cut(self, op: str, key: str) -> int | None:
        rule = self._due(op, key, ("cut",))
        return None if rule is None else rule.after_bytes

    def classify_error(self, exc: BaseException) -> Classification:
        if isinstance(exc, InjectedFault):
            kind = ErrorKind.UNAVAILABLE if exc.temporary else ErrorKind.UNKNOWN
            return Classification(kind, temporary=exc.temporary)
        return self.inner.classify_error(exc)

    # ------------------------------------------------------------ wrapped calls

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        self._check("open_write", key)
        return _FaultyWriter(
            self, key, self.inner.new_writer(key, options), self._cut("write", key)
        )

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        self._check("open_read", key)
        reader = self.inner.new_reader(key, offset=offset, length=length)
        cut = self._cut("read", key)
        return _FaultyReader(self, key, reader, cut)  # type: ignore[return-value]

    def exists(self, key: str) -> bool:
        self._check("exists", key)
        return self.inner.exists(key)

    def delete(self, key: str) -> None:
        self._check("delete", key)
        self.inner.delete(key)
        self._lost("delete", key)

    def publish_staged(self, key: str, staged: Mapping[str, Any], *, overwrite: bool) -> str | None:
        self._check("publish_staged", key)
        version = self.inner.publish_staged(key, staged, overwrite=overwrite)
        self._lost("publish_staged", key)
        return version

    def abort_staged(self, key: str, staged: Mapping[str, Any]) -> None:
        self._check("abort_staged", key)
        self.inner.abort_staged(key, staged)
        self._lost("abort_staged", key)

    def delete_version(self, key: str, version: str) -> None:
        self._check("delete_version", key)
        self.inner.delete_version(key, version)
        self._lost("delete_version", key)

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        self._check("list", prefix)
        return self.inner.list(prefix, recursive=recursive)

    def stat(self, key: str) -> ObjectInfo:
        self._check("stat", key)
        return self.inner.stat(key)

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._check("copy", dst)
        self.inner.copy(src, dst, overwrite=overwrite)
        self._lost("copy", dst)

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._check("move", dst)
        self.inner.move(src, dst, overwrite=overwrite)
        self._lost("move", dst)

    def mkdir(self, key: str) -> None:
        self._check("mkdir", key)
        self.inner.mkdir(key)
        self._lost("mkdir", key)

    def rmdir(self, key: str) -> None:
        self._check("rmdir", key)
        self.inner.rmdir(key)
        self._lost("rmdir", key)

    def open_pinned(self, key: str) -> PinnedReader:
        self._check("pinned", key)
        return _FaultyPin(self, key, self.inner.open_pinned(key))


class _FaultyWriter(Writer):
    def __init__(self, layer: FaultInjectionLayer, key: str, inner: Writer, cut: int | None):
        self._layer = layer
        self._key = key
        self._inner = inner
        self._cut = cut
        self._written = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._layer._check("write", self._key)
        size = len(data) if not isinstance(data, memoryview) else data.nbytes
        if self._cut is not None and self._written + size > self._cut:
            room = self._cut - self._written
            if room > 0:
                self._inner.write(bytes(data)[:room])
                self._written += room
            raise InjectedFault(f"injected: connection lost after {self._written} bytes written")
        self._written += size
        return self._inner.write(data)

    def close(self) -> None:
        try:
            self._layer._check("publish", self._key)
        except BaseException:
            self._inner.abort()
            raise
        self._inner.close()
        self._layer._lost("publish", self._key)

    def flush(self) -> None:
        self._inner.flush()

    def abort(self) -> None:
        self._inner.abort()

    def stage(self) -> dict[str, Any]:
        try:
            self._layer._check("stage", self._key)
        except BaseException:
            self._inner.abort()
            raise
        staged = self._inner.stage()
        self._layer._lost("stage", self._key)
        return staged

    @property
    def version(self) -> str | None:  # type: ignore[override]
        return self._inner.version


class _FaultyReader(WrappedReader):
    def __init__(self, layer: FaultInjectionLayer, key: str, inner: BinaryIO, cut: int | None):
        super().__init__(inner)
        self._layer = layer
        self._key = key
        self._cut = cut
        self._read = 0

    def read(self, size: int | None = -1) -> bytes:
        self._layer._check("read", self._key)
        if self._cut is None:
            data = self._inner.read(-1 if size is None else size)
        else:
            room = self._cut - self._read
            want = room + 1 if size is None or size < 0 else min(size, room + 1)
            data = self._inner.read(want)
            if len(data) > room:  # the stream goes on past the cut: the connection drops
                self._read += room
                raise InjectedFault(f"injected: connection lost after {self._read} bytes read")
        self._read += len(data)
        return data


class _FaultyPin(PinnedReader):
    def __init__(self, layer: FaultInjectionLayer, key: str, inner: PinnedReader) -> None:
        self._layer = layer
        self._key = key
        self._inner = inner
        self.size = inner.size
        self.version = inner.version

    def read_range(self, offset: int, length: int) -> bytes:
        self._layer._check("pinned", self._key)
        return self._inner.read_range(offset, length)

    def close(self) -> None:
        self._inner.close()
