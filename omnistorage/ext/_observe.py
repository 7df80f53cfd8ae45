"""MetricsLayer and LoggingLayer: see every driver call, its bytes, time and outcome.

Both wrap each call the same way and differ in what they do with the
observation (:class:`Observation`): :class:`MetricsLayer` aggregates counts,
errors, bytes and latency per operation (``snapshot()``), and, with
``opentelemetry-api`` installed and ``otel=True``, also records OpenTelemetry
counters and histograms and one span per call (nothing is imported
otherwise). :class:`LoggingLayer` logs one structured record per call on the
``omnistorage.ops`` logger (DEBUG for reads, INFO for changes, WARNING for
failures) with the key, bytes, milliseconds and error.

Both observe the driver's native exceptions, below the Store's error boundary,
so everything they export is scrubbed here (DESIGN §5b): log messages, and a
span's exception event (type, message, the formatted traceback with its chained
causes) and status description pass through
:func:`~omnistorage._redact.scrub` with the backend's ``secret_values``, never
the raw exception (OpenTelemetry's ``record_exception`` would export its text
as it is).

Stream bytes are counted as they flow: a reader's or writer's observation is
made when it is closed (or published), with the total bytes.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from time import perf_counter
from typing import BinaryIO, TypeVar

from omnistorage._reader_base import WrappedReader
from omnistorage._redact import scrub
from omnistorage.driver import Backend, PinnedReader, WriteOptions, Writer
from omnistorage.ext._layer import Layer
from omnistorage.models import ObjectInfo

__all__ = ["LoggingLayer", "MetricsLayer", "Observation", "OpStats"]

T = TypeVar("T")

_CHANGES = frozenset({"write", "delete", "copy", "move", "mkdir", "rmdir"})


@dataclass(frozen=True, slots=True)
class Observation:
    """One finished driver call."""

    backend: str
    op: str
    key: str | None
    seconds: float
    bytes: int = 0
    error: BaseException | None = None


@dataclass(slots=True)
class OpStats:
    """Aggregates for one operation."""

    calls: int = 0
    errors: int = 0
    bytes: int = 0
    seconds: float = 0.0
    max_seconds: float = 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {
            "calls": self.calls,
            "errors": self.errors,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 6),
            "max_seconds": round(self.max_seconds, 6),
        }


class _Observed(Layer):
    """Times every call and hands an :class:`Observation` to :meth:`observe`."""

    def observe(
        self, op: str, key: str | None, seconds: float, nbytes: int, error: BaseException | None
    ) -> None:
        raise NotImplementedError

    def _timed(self, op: str, key: str | None, call: Callable[[], T]) -> T:
        started = perf_counter()
        try:
            result = call()
        except BaseException as exc:
            self.observe(op, key, perf_counter() - started, 0, exc)
            raise
        self.observe(op, key, perf_counter() - started, 0, None)
        return result

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        inner = self._timed("open_write", key, lambda: self.inner.new_writer(key, options))
        return _ObservedWriter(self, key, inner)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        started = perf_counter()
        try:
            inner = self.inner.new_reader(key, offset=offset, length=length)
        except BaseException as exc:
            self.observe("read", key, perf_counter() - started, 0, exc)
            raise
        return _ObservedReader(self, key, inner, started)  # type: ignore[return-value]

    def read_object(self, key: str) -> bytes:
        started = perf_counter()
        try:
            data = self.inner.read_object(key)
        except BaseException as exc:
            self.observe("read", key, perf_counter() - started, 0, exc)
            raise
        self.observe("read", key, perf_counter() - started, len(data), None)
        return data

    def exists(self, key: str) -> bool:
        return self._timed("exists", key, lambda: self.inner.exists(key))

    def delete(self, key: str) -> None:
        self._timed("delete", key, lambda: self.inner.delete(key))

    def delete_version(self, key: str, version: str) -> None:
        self._timed("delete", key, lambda: self.inner.delete_version(key, version))

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        started = perf_counter()
        count = 0
        try:
            for info in self.inner.list(prefix, recursive=recursive):
                count += 1
                yield info
        except BaseException as exc:
            self.observe("list", prefix, perf_counter() - started, 0, exc)
            raise
        self.observe("list", prefix, perf_counter() - started, 0, None)

    def stat(self, key: str) -> ObjectInfo:
        return self._timed("stat", key, lambda: self.inner.stat(key))

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._timed("copy", dst, lambda: self.inner.copy(src, dst, overwrite=overwrite))

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._timed("move", dst, lambda: self.inner.move(src, dst, overwrite=overwrite))

    def mkdir(self, key: str) -> None:
        self._timed("mkdir", key, lambda: self.inner.mkdir(key))

    def rmdir(self, key: str) -> None:
        self._timed("rmdir", key, lambda: self.inner.rmdir(key))

    def open_pinned(self, key: str) -> PinnedReader:
        pinned = self._timed("open_read", key, lambda: self.inner.open_pinned(key))
        return _ObservedPin(self, key, pinned)


class _ObservedWriter(Writer):
    def __init__(self, layer: _Observed, key: str, inner: Writer) -> None:
        self._layer = layer
        self._key = key
        self._inner = inner
        self._bytes = 0
        self._started = perf_counter()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        n = self._inner.write(data)
        self._bytes += len(data) if not isinstance(data, memoryview) else data.nbytes
        return n

    def close(self) -> None:
        layer, started = self._layer, self._started
        try:
            self._inner.close()
        except BaseException as exc:
            seconds = perf_counter() - started
            layer.observe("write", self._key, seconds, self._bytes, exc)
            raise
        seconds = perf_counter() - started
        layer.observe("write", self._key, seconds, self._bytes, None)

    def flush(self) -> None:
        self._inner.flush()

    def abort(self) -> None:
        self._inner.abort()

    @property
    def version(self) -> str | None:  # type: ignore[override]
        return self._inner.version


class _ObservedReader(WrappedReader):
    def __init__(self, layer: _Observed, key: str, inner: BinaryIO, started: float) -> None:
        super().__init__(inner)
        self._layer = layer
        self._key = key
        self._bytes = 0
        self._started = started
        self._error: BaseException | None = None

    def read(self, size: int | None = -1) -> bytes:
        try:
            data = self._inner.read(-1 if size is None else size)
        except BaseException as exc:
            self._error = exc
            raise
        self._bytes += len(data)
        return data

    def close(self) -> None:
        if self.closed:
            return
        super().close()
        seconds = perf_counter() - self._started
        self._layer.observe("read", self._key, seconds, self._bytes, self._error)


class _ObservedPin(PinnedReader):
    def __init__(self, layer: _Observed, key: str, inner: PinnedReader) -> None:
        self._layer = layer
        self._key = key
        self._inner = inner
        self.size = inner.size
        self.version = inner.version

    def read_range(self, offset: int, length: int) -> bytes:
        started = perf_counter()
        try:
            data = self._inner.read_range(offset, length)
        except BaseException as exc:
            self._layer.observe("read_range", self._key, perf_counter() - started, 0, exc)
            raise
        self._layer.observe("read_range", self._key, perf_counter() - started, len(data), None)
        return data

    def close(self) -> None:
        self._inner.close()


class MetricsLayer(_Observed):
    """Counts, errors, bytes and latency per operation (see the module docstring).

    Args:
        inner: the backend to wrap.
        otel: also record OpenTelemetry metrics and spans (needs ``opentelemetry-api``,
            the ``otel`` extra); ``False`` by default, so nothing is imported.
    """

    def __init__(self, inner: Backend, *, otel: bool = False) -> None:
        super().__init__(inner)
        self._lock = threading.Lock()
        self._stats: dict[str, OpStats] = {}
        self._otel: _Otel | None = _Otel(inner.name, self.secret_values) if otel else None

    def observe(
        self, op: str, key: str | None, seconds: float, nbytes: int, error: BaseException | None
    ) -> None:
        lock = self._lock
        lock.acquire()  # cheaper than a with-block on this per-call path
        try:
            stats = self._stats.get(op)
            if stats is None:
                stats = self._stats[op] = OpStats()
            stats.calls += 1
            stats.bytes += nbytes
            stats.seconds += seconds
            if seconds > stats.max_seconds:
                stats.max_seconds = seconds
            if error is not None:
                stats.errors += 1
        finally:
            lock.release()
        if self._otel is not None:
            self._otel.record(Observation(self.name, op, key, seconds, nbytes, error))

    def snapshot(self) -> dict[str, dict[str, float | int]]:
        """``{op: {calls, errors, bytes, seconds, max_seconds}}`` so far."""
        with self._lock:
            return {op: stats.to_dict() for op, stats in sorted(self._stats.items())}

    def reset(self) -> None:
        with self._lock:
            self._stats.clear()


class _Otel:
    """OpenTelemetry instruments, imported only when asked for."""

    def __init__(self, backend: str, secrets: tuple[str, ...]) -> None:
        try:
            from opentelemetry import metrics, trace
            from opentelemetry.trace import Status, StatusCode
        except ImportError as exc:
            from omnistorage.errors import DependencyMissing

            raise DependencyMissing(
                "MetricsLayer(otel=True) needs opentelemetry-api: pip install 'omnistorage[otel]'"
            ) from exc
        meter = metrics.get_meter("omnistorage")
        self._tracer = trace.get_tracer("omnistorage")
        self._calls = meter.create_counter("omnistorage.calls", unit="1")
        self._errors = meter.create_counter("omnistorage.errors", unit="1")
        self._bytes = meter.create_counter("omnistorage.bytes", unit="By")
        self._latency = meter.create_histogram("omnistorage.duration", unit="s")
        self._backend = backend
        self._secrets = secrets
        self._status, self._error = Status, StatusCode.ERROR

    def record(self, observation: Observation) -> None:
        attributes = {"omnistorage.backend": self._backend, "omnistorage.op": observation.op}
        self._calls.add(1, attributes)
        self._bytes.add(observation.bytes, attributes)
        self._latency.record(observation.seconds, attributes)
        if observation.error is not None:
            self._errors.add(1, attributes)
        end = time.time_ns()
        start = end - int(observation.seconds * 1e9)
        span = self._tracer.start_span(f"omnistorage.{observation.op}", start_time=start)
        span.set_attributes(attributes)
        error = observation.error
        if error is not None:
            kind = f"{type(error).__module__}.{type(error).__qualname__}"
            message = scrub(str(error), self._secrets)
            stack = scrub("".join(traceback.format_exception(error)), self._secrets)
            span.add_event(
                "exception",
                {
                    "exception.type": kind,
                    "exception.message": message,
                    "exception.stacktrace": stack,
                    "exception.escaped": False,
                },
            )
            span.set_status(self._status(self._error, f"{type(error).__name__}: {message}"))
        span.end(end_time=end)


class LoggingLayer(_Observed):
    """One structured log record per driver call (see the module docstring)."""

    def __init__(self, inner: Backend, *, logger: logging.Logger | None = None) -> None:
        super().__init__(inner)
        self._log = logger or logging.getLogger("omnistorage.ops")

    def observe(
        self, op: str, key: str | None, seconds: float, nbytes: int, error: BaseException | None
    ) -> None:
        observation = Observation(self.name, op, key, seconds, nbytes, error)
        if observation.error is not None:
            level = logging.WARNING
        elif observation.op in _CHANGES:
            level = logging.INFO
        else:
            level = logging.DEBUG
        if not self._log.isEnabledFor(level):
            return
        failure = (
            f" error={type(observation.error).__name__}: {observation.error}"
            if observation.error is not None
            else ""
        )
        message = scrub(
            f"{observation.backend} {observation.op} key={observation.key!r} "
            f"bytes={observation.bytes} ms={observation.seconds * 1000:.2f}{failure}",
            self.secret_values,
        )
        self._log.log(
            level,
            "%s",
            message,
            extra={
                "omnistorage_backend": observation.backend,
                "omnistorage_op": observation.op,
                "omnistorage_key": observation.key,
                "omnistorage_bytes": observation.bytes,
                "omnistorage_seconds": observation.seconds,
                "omnistorage_ok": observation.error is None,
            },
        )
