"""RetryLayer: retry temporary failures, and only those, within a budget.

What is retried (each call independently, with exponential backoff and full
jitter, honouring a ``Retry-After`` the error carries, until ``attempts`` or
the ``budget`` in seconds runs out):

- idempotent calls: ``exists``, ``stat``, ``delete``, ``delete_many``,
  ``mkdir``, ``rmdir``, ``list_leftovers``/``remove_leftover``, opening a
  reader, opening a pin, and a listing until its first entry (a listing that
  fails midway is not restarted: entries would repeat);
- whole-object reads (``read_object``, what ``Store.read_bytes`` calls), each
  attempt a whole version;
- ranged reads of a pinned version (``open_pinned``), which are safe to repeat;
  with ``PINNED_READ``, streaming reads are served from a pin and so resume
  after a temporary failure *at the same version* (a changed object raises
  ``ChangedDuringRead``, which is never retried);
- ``copy`` and ``move``, and conditional deletes (``delete_version``: a retry
  that finds another version there says truly that ours is gone).

Ownership after a lost reply. A retried call whose first attempt failed
temporarily may have taken effect: the reply, not the operation, was lost. Its
retry then meets its own work, and that is not a failure. As the drivers do for
create-only publishes, the layer decides by what it can compare:

- a ``move`` retried into "source not found": the move happened if the
  destination now holds the source's content (recorded by a ``stat`` before the
  first attempt: same size and a hash both report, an MD5-kind ETag, or a strong
  version token that the move kept). Then it succeeds;
- a create-only ``copy`` or ``move`` retried into "destination exists": the
  destination is ours if it holds the source's content (a move whose copy landed
  but whose source stayed is finished by deleting the source). If it holds other
  content, another writer's object is there: ``AlreadyExists``;
- where nothing can be compared (no hash, no content ETag, no version the
  operation keeps), the answer is unknown and the original temporary failure is
  raised, never ``NotFound`` or ``AlreadyExists`` for what may be its own success.

A ``delete`` needs none of this (deleting a missing key succeeds).

What is never retried: anything the classifier does not mark
``temporary``; a writer's ``write``/``close`` (the bytes of a stream cannot be
replayed here; the drivers' own clients retry each request, and a
create-only publish whose reply was lost checks ownership in the driver);
``ChangedDuringRead``.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, BinaryIO, TypeVar

from omnistorage._reader_base import RangeReader
from omnistorage.capabilities import Capability, ETagKind, Features
from omnistorage.driver import Backend, PinnedReader, WriteOptions, Writer
from omnistorage.errors import ErrorKind
from omnistorage.ext._layer import Layer
from omnistorage.models import Leftover, ObjectInfo

__all__ = ["RetryLayer"]

_SMALL = 256 << 10
_STEP = 8 << 20  # bytes per ranged read of a stream read to its end

T = TypeVar("T")


class RetryLayer(Layer):
    """Retries temporary failures (see the module docstring).

    Writers pass through unwrapped, so a staged write works behind it; a staged publish is
    retried like any idempotent call (``DEFERRED_PUBLISH`` is declared when the inner
    backend declares it).

    Args:
        inner: the backend to wrap.
        attempts: tries per call, the first included.
        base_delay: the first backoff ceiling in seconds (doubling each retry).
        max_delay: the largest backoff ceiling.
        budget: seconds a call may spend in total, retries included.
        sleep, rng: injectable for tests.
    """

    def __init__(
        self,
        inner: Backend,
        *,
        attempts: int = 5,
        base_delay: float = 0.1,
        max_delay: float = 5.0,
        budget: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(inner)
        if attempts < 1:
            raise ValueError("attempts must be >= 1")
        self._attempts = attempts
        self._base = base_delay
        self._max = max_delay
        self._budget = budget
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.retries = 0
        """Retries made so far (for tests and metrics)."""
        self._pinned_reads = Capability.PINNED_READ in self.features().capabilities

    def __repr__(self) -> str:
        return f"RetryLayer({self.inner!r}, attempts={self._attempts})"

    def features(self) -> Features:
        inner = super().features()
        if Capability.PINNED_READ in inner.capabilities:
            # Reads are then served from pins, which carry no info: no READ_INFO.
            return inner.with_capabilities(inner.capabilities - {Capability.READ_INFO})
        return inner

    # ------------------------------------------------------------ the loop

    def _temporary(self, exc: BaseException) -> bool:
        try:
            verdict = self.inner.classify_error(exc)
        except Exception:  # noqa: BLE001 - a broken classifier means: do not retry
            return False
        return verdict.temporary and verdict.kind is not ErrorKind.CHANGED

    def _call(self, call: Callable[..., T], *args: Any) -> T:
        started = time.monotonic()
        try:
            return call(*args)  # the fast path: one frame, no loop
        except Exception as exc:  # noqa: BLE001 - judged in _retried, raised there
            failed = exc
        return self._retried(call, args, started, failed)

    def _retried(
        self, call: Callable[..., T], args: tuple[Any, ...], started: float, failed: Exception
    ) -> T:
        waited = 0.0  # counted apart too: an injected sleep does not move the clock
        attempt = 1
        while True:
            if attempt >= self._attempts or not self._temporary(failed):
                raise failed
            delay = self._delay(attempt, failed)
            spent = max(time.monotonic() - started, waited)
            if spent + delay > self._budget:
                raise failed
            self.retries += 1
            attempt += 1
            waited += delay
            self._sleep(delay)
            try:
                return call(*args)
            except Exception as exc:  # noqa: BLE001 - judged at the top of the loop
                failed = exc

    def _delay(self, attempt: int, exc: BaseException) -> float:
        hinted = retry_after(exc)
        if hinted is not None:
            return min(hinted, self._budget)
        ceiling = min(self._max, self._base * (2 ** (attempt - 1)))
        return self._rng.uniform(0, ceiling)  # full jitter

    # ------------------------------------------------------------ idempotent calls

    def exists(self, key: str) -> bool:
        return self._call(self.inner.exists, key)

    def stat(self, key: str) -> ObjectInfo:
        return self._call(self.inner.stat, key)

    def delete(self, key: str) -> None:
        self._call(lambda: self.inner.delete(key))

    def delete_many(self, keys: Iterable[str]) -> None:
        batch = list(keys)
        self._call(lambda: super(RetryLayer, self).delete_many(batch))

    def mkdir(self, key: str) -> None:
        self._call(lambda: self.inner.mkdir(key))

    def rmdir(self, key: str) -> None:
        self._call(lambda: self.inner.rmdir(key))

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        return iter(self._call(lambda: list(super(RetryLayer, self).list_leftovers(prefix))))

    def remove_leftover(self, leftover: Leftover) -> None:
        self._call(lambda: self.inner.remove_leftover(leftover))

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        def first() -> tuple[Iterator[ObjectInfo], list[ObjectInfo]]:
            entries = iter(self.inner.list(prefix, recursive=recursive))
            head = next(entries, None)
            return entries, ([] if head is None else [head])

        entries, head = self._call(first)
        yield from head
        yield from entries

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return self._call(lambda: self.inner.new_writer(key, options))

    forwards_staging = True

    def publish_staged(self, key: str, staged: Mapping[str, Any], *, overwrite: bool) -> str | None:
        # Idempotent by contract: a retry that finds its own object succeeds.
        return self._call(lambda: self.inner.publish_staged(key, staged, overwrite=overwrite))

    def abort_staged(self, key: str, staged: Mapping[str, Any]) -> None:
        self._call(lambda: self.inner.abort_staged(key, staged))

    # ------------------------------------------------------------ reads

    def read_object(self, key: str) -> bytes:
        # Each attempt returns a whole object of one version or fails (a change during
        # the read is ChangedDuringRead, never retried), so the call is retried as one:
        # no pin on the way, and a failure midway restarts rather than resumes.
        return self._call(self.inner.read_object, key)

    def open_pinned(self, key: str) -> PinnedReader:
        pinned = self._call(lambda: self.inner.open_pinned(key))
        return _RetriedPin(pinned, self)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        if self._pinned_reads:
            ext = self.inner
            pinned = self._call(lambda: ext.open_pinned(key))
            end = pinned.size if length is None else min(pinned.size, offset + length)
            if end - offset <= _SMALL:
                # Small objects are read in one pinned request (retried as one): nothing
                # left to resume.
                try:
                    if end <= offset:
                        return io.BytesIO(b"")
                    size = end - offset
                    return io.BytesIO(self._call(lambda: pinned.read_range(offset, size)))
                finally:
                    pinned.close()
            return RangeReader(_RetriedPin(pinned, self), offset, end, step=_STEP, owns_pin=True)  # type: ignore[return-value]
        return self._call(lambda: self.inner.new_reader(key, offset=offset, length=length))

    # ------------------------------------------------------------ copies

    def delete_version(self, key: str, version: str) -> None:
        self._call(lambda: self.inner.delete_version(key, version))

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._transfer("copy", src, dst, overwrite)

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._transfer("move", src, dst, overwrite)

    def _transfer(self, op: str, src: str, dst: str, overwrite: bool) -> None:
        """A copy or move, retried, with the ownership check (module docstring)."""
        ext = self.inner
        call = ext.copy if op == "copy" else ext.move
        # A moved source is gone afterwards: what it held is recorded before.
        before = _Content.of(self, src) if op == "move" else None
        first: list[BaseException] = []

        def attempt() -> None:
            try:
                call(src, dst, overwrite=overwrite)
            except Exception as exc:
                if first:
                    verdict = self._settled(op, exc, src, dst, overwrite, before)
                    if verdict == "done":
                        return  # the earlier attempt did it; only its reply was lost
                    if verdict == "unknown":
                        raise _Ambiguous(first[0]) from exc
                elif self._temporary(exc):
                    first.append(exc)
                raise

        try:
            self._call(attempt)
        except _Ambiguous as ambiguous:
            raise ambiguous.first from ambiguous

    def _settled(
        self,
        op: str,
        exc: Exception,
        src: str,
        dst: str,
        overwrite: bool,
        before: _Content | None,
    ) -> str:
        """After a retry failed with ``exc``: ``"done"`` when an earlier attempt did the
        work, ``"answer"`` when ``exc`` is the truth, ``"unknown"`` when nothing tells."""
        kind = self._kind(exc)
        if kind is ErrorKind.NOT_FOUND and op == "move":
            held = before.held_at(self, dst) if before is not None else None
            return "done" if held else "unknown"  # moved, or who knows where it went
        if kind is ErrorKind.ALREADY_EXISTS and not overwrite:
            source = before or _Content.of(self, src)
            held = source.held_at(self, dst) if source is not None else None
            if held is None:
                return "unknown"
            if not held:
                return "answer"  # other content there: another writer's object
            if op == "move":
                self._call(lambda: self.inner.delete(src))  # finish the move
            return "done"
        return "answer"

    def _kind(self, exc: BaseException) -> ErrorKind:
        try:
            return self.inner.classify_error(exc).kind
        except Exception:  # noqa: BLE001
            return ErrorKind.UNKNOWN


class _Ambiguous(Exception):
    """A retried transfer met an outcome its own earlier attempt may have caused, and
    nothing tells whose it is (not retried; the first failure is reported)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.first = cause


class _Content:
    """What a file held, as far as the backend's facts let a later ``stat`` compare it:
    its size and the hashes it reports, an ETag that is a content digest, or a strong
    version token (which only an operation that keeps the version carries along). A
    size alone can only prove other content, never the same."""

    def __init__(self, size: int | None, marks: frozenset[tuple[str, str]]) -> None:
        self.size = size
        self.marks = marks

    @classmethod
    def of(cls, layer: RetryLayer, key: str) -> _Content | None:
        features = layer.features()
        if Capability.METADATA not in features.capabilities:
            return None
        try:
            info = layer.stat(key)
        except Exception:  # noqa: BLE001 - nothing recorded: later outcomes stay unknown
            return None
        marks = {(str(kind), value) for kind, value in info.hashes.items() if value}
        if info.etag and features.etag in (ETagKind.MD5, ETagKind.MD5_OR_MULTIPART):
            marks.add(("etag", info.etag.strip('"')))
        if info.etag and features.strong_version:
            marks.add(("version", info.etag))
        return cls(info.size, frozenset(marks))

    def held_at(self, layer: RetryLayer, key: str) -> bool | None:
        """Whether ``key`` holds this content now: True when a content mark (hash, MD5
        ETag) or the version token is equal; False when a content mark or the size
        differs (proven other content); ``None`` when nothing tells (a version token that
        differs proves nothing: a copy is a new version of the same bytes)."""
        there = _Content.of(layer, key)
        if there is None:
            return None
        if None not in (self.size, there.size) and self.size != there.size:
            return False
        mine, theirs = dict(self.marks), dict(there.marks)
        shared = (mine.keys() & theirs.keys()) - {"version"}
        if shared:
            return all(mine[kind] == theirs[kind] for kind in shared)
        if "version" in mine and mine.get("version") == theirs.get("version"):
            return True
        return None


class _RetriedPin(PinnedReader):
    """Ranged reads of one pinned version, each retried on temporary failures."""

    def __init__(self, pinned: PinnedReader, layer: RetryLayer) -> None:
        self._pinned = pinned
        self._layer = layer
        self.size = pinned.size
        self.version = pinned.version

    def read_range(self, offset: int, length: int) -> bytes:
        return self._layer._call(lambda: self._pinned.read_range(offset, length))

    def close(self) -> None:
        self._pinned.close()


def retry_after(exc: BaseException) -> float | None:
    """Seconds to wait that the failure itself asks for (``Retry-After``), if any."""
    value: Any = getattr(exc, "retry_after", None)
    if value is None:
        response = getattr(exc, "response", None)
        headers: Any = None
        if isinstance(response, dict):  # botocore ClientError
            headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        elif response is not None:  # azure / requests style
            headers = getattr(response, "headers", None)
        if headers is not None:
            try:
                value = headers.get("retry-after") or headers.get("Retry-After")
            except AttributeError:
                value = None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    try:
        when = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
