"""The mirror's writer: one bounded lane per destination, staged, then published.

Each :meth:`_MirrorWriter.write` hands the same immutable chunk to every
live lane's bounded queue; one thread per lane drains its queue into that
destination's unpublished writer. The slowest lane applies back-pressure
(its full queue blocks the caller) or, under ``quorum``/``best_effort`` with
``max_lag``, is dropped once it has blocked the caller that long. Memory is
bounded by ``queue_chunks`` chunks per destination: never a whole object.

:meth:`_MirrorWriter.close` runs the two phases. Phase 1 ends every lane's
stream and waits until each has written everything into its staged writer.
If fewer lanes staged than the policy needs, all abort and nothing is
published anywhere. Phase 2 publishes the first staged destination alone, then
the others in parallel.

Create-only writes are decided in one place under every policy: destination 0,
the primary. It publishes first, alone, and only if it published do the others;
if it cannot take part (it failed while staging) or refuses (``AlreadyExists``),
every other destination aborts, so of racing create-only writers exactly one
wins, and the same one everywhere: the loser publishes nowhere. (Under
``quorum``/``best_effort`` a create-only write therefore needs the primary;
overwrites keep the policy's availability.)

If fewer than required published, a create-only write is undone: each copy is
deleted by a conditional delete of the version this write published
(``CONDITIONAL_DELETE``), so an object another writer put there since is left
alone (``superseded``). A destination without conditional deletes is not
touched: :class:`PartialPublish` names it. Overwrites that fall short raise
:class:`PartialPublish` naming who has which version.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from omnistorage._io import AtomicWriter
from omnistorage.capabilities import Capability
from omnistorage.driver import WriteOptions, Writer
from omnistorage.errors import PreconditionFailed, StorageError
from omnistorage.multi._policy import WritePolicy
from omnistorage.multi._report import (
    DestinationResult,
    MirrorReport,
    MirrorWriteError,
    PartialPublish,
    State,
    detach,
)
from omnistorage.store import Store

__all__ = ["MirrorWriter"]

_END = object()
_DRAIN = object()  # the lane waits until its writer holds what it was given
_POLL = 0.05


class _Lane:
    """One destination: a bounded queue drained by a thread into its staged writer."""

    def __init__(
        self, index: int, store: Store, key: str, options: WriteOptions, capacity: int
    ) -> None:
        self.index = index
        self.store = store
        self.key = key
        self.options = options
        self.queue: queue.Queue[object] = queue.Queue(maxsize=capacity)
        self.writer: AtomicWriter | None = None
        self.version: str | None = None
        self.error: BaseException | None = None
        self.state: State | None = None
        self.bytes = 0
        self.started = time.perf_counter()
        self.seconds = 0.0
        self.cancelled = threading.Event()
        self.staged = threading.Event()
        self.thread = threading.Thread(
            target=self._run, name=f"omnistorage-mirror-{index}", daemon=True
        )
        self.thread.start()

    @property
    def alive(self) -> bool:
        return self.error is None and self.state is None and not self.cancelled.is_set()

    def _run(self) -> None:
        try:
            options = self.options
            self.writer = self.store.open_writer(
                self.key,
                overwrite=options.overwrite,
                content_type=options.content_type,
                metadata=dict(options.metadata) or None,
                modified=options.modified_ns,
                size_hint=options.size_hint,
            )
            while True:
                try:
                    item = self.queue.get(timeout=_POLL)
                except queue.Empty:
                    if self.cancelled.is_set():
                        break
                    continue
                try:
                    if item is _END or self.cancelled.is_set():
                        break
                    if item is _DRAIN:
                        self.writer.drain()
                        continue
                    assert isinstance(item, bytes)
                    self.writer.write(item)
                    self.bytes += len(item)
                finally:
                    self.queue.task_done()
        except BaseException as exc:  # noqa: BLE001 - kept and reported by the writer
            self.error = exc
            self.state = "failed"
        finally:
            if self.cancelled.is_set() or self.error is not None:
                self.abort_writer()
            self.seconds = time.perf_counter() - self.started
            self.staged.set()

    def put(self, chunk: object, max_lag: float | None) -> bool:
        """Queue ``chunk``; False if the lane died or was cut off for lagging."""
        waited = 0.0
        while self.alive:
            try:
                self.queue.put(chunk, timeout=_POLL)
                return True
            except queue.Full:
                waited += _POLL
                if max_lag is not None and waited >= max_lag:
                    self.drop()
                    return False
        return False

    def drain(self) -> None:
        """Wait until the lane has handed every queued chunk to its writer, or died."""
        while self.alive and self.queue.unfinished_tasks:
            time.sleep(_POLL / 10)

    def finish(self) -> None:
        """End the stream (phase 1); the caller then waits for ``staged``."""
        while self.alive:
            try:
                self.queue.put(_END, timeout=_POLL)
                return
            except queue.Full:
                continue

    def drop(self) -> None:
        self.state = "dropped"
        self.cancelled.set()

    def cancel(self) -> None:
        self.cancelled.set()

    def abort_writer(self) -> None:
        writer = self.writer
        if writer is not None and not writer.closed:
            with contextlib.suppress(Exception):
                writer.abort()

    def publish(self) -> None:
        assert self.writer is not None
        started = time.perf_counter()
        try:
            self.version = self.writer.close().version
        except BaseException as exc:  # noqa: BLE001 - reported by the writer
            self.error = exc
            self.state = "failed"
        else:
            self.state = "published"
        self.seconds += time.perf_counter() - started

    def result(self) -> DestinationResult:
        return DestinationResult(
            index=self.index,
            name=repr(self.store),
            state=self.state or "aborted",
            bytes=self.bytes,
            seconds=self.seconds,
            error=_describe(self.error),
        )


class _NoRollback(Exception):
    """Why a create-only copy was left in place (the report's error for that destination)."""


def _describe(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    return f"{type(exc).__name__}: {exc}"


class MirrorWriter(Writer):
    """Fans one stream out to every destination (see the module docstring)."""

    def __init__(
        self,
        destinations: Sequence[Store],
        key: str,
        options: WriteOptions,
        *,
        policy: WritePolicy,
        queue_chunks: int,
        max_lag: float | None,
        on_report: Callable[[MirrorReport], None] | None,
    ) -> None:
        self._key = key
        self._options = options
        self._policy = policy
        self._required = policy.required(len(destinations))
        self._max_lag = max_lag if policy.kind != "all" else None
        self._on_report = on_report
        self._done = False
        self._lanes = [
            _Lane(i, store, key, options, queue_chunks) for i, store in enumerate(destinations)
        ]

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._done:
            raise ValueError("write to a finished mirror writer")
        chunk = bytes(data)  # immutable, shared by every lane
        for lane in self._lanes:
            if lane.alive:
                lane.put(chunk, self._max_lag)
        self._check_enough_alive()
        return len(chunk)

    def flush(self) -> None:
        """Block until every live destination holds the bytes written so far (its
        writer drained: parts and blocks staged, still invisible).

        Nothing becomes visible (that is still :meth:`close`); it bounds how
        far a destination lags and makes each one's staged state observable. A
        destination that fails here fails as a failed write does (the policy
        decides whether the write goes on).
        """
        if self._done:
            raise ValueError("flush of a finished mirror writer")
        for lane in self._lanes:
            if lane.alive:
                lane.put(_DRAIN, self._max_lag)
        for lane in self._lanes:
            lane.drain()
        self._check_enough_alive()

    def _check_enough_alive(self) -> None:
        if not self._options.overwrite and not self._lanes[0].alive:
            self._abort_all()
            raise self._arbiter_down()
        alive = sum(1 for lane in self._lanes if lane.alive)
        if alive < self._required:
            self._abort_all()
            raise self._error(
                f"write {self._key!r}: only {alive} of {len(self._lanes)} destinations are "
                f"still staging, the {self._policy} policy needs {self._required}; nothing "
                "was published",
                MirrorWriteError,
            )

    def close(self) -> None:
        if self._done:
            raise ValueError("mirror writer already finished")
        self._done = True
        for lane in self._lanes:
            lane.finish()
        for lane in self._lanes:
            lane.staged.wait()
        staged = [lane for lane in self._lanes if lane.alive and lane.writer is not None]
        if not self._options.overwrite and (not staged or staged[0] is not self._lanes[0]):
            self._abort_all()
            raise self._arbiter_down()
        if len(staged) < self._required:
            self._abort_all()
            raise self._error(
                f"write {self._key!r}: {len(staged)} of {len(self._lanes)} destinations "
                f"staged the whole object, the {self._policy} policy needs {self._required}; "
                "nothing was published",
                MirrorWriteError,
            )
        self._publish(staged)

    def _publish(self, staged: list[_Lane]) -> None:
        first, rest = staged[0], staged[1:]
        first.publish()
        arbitrated = not self._options.overwrite  # the primary decides for everyone
        if first.state != "published" and (self._policy.kind == "all" or arbitrated):
            for lane in rest:
                lane.abort_writer()
            raise self._primary_error(first)
        if rest:
            with ThreadPoolExecutor(max_workers=len(rest)) as pool:
                list(pool.map(_Lane.publish, rest))
        published = [lane for lane in staged if lane.state == "published"]
        if len(published) >= self._required:
            self._report()
            return
        if not published:
            raise self._primary_error(first)
        if arbitrated:
            kept = self._roll_back(published)
            if not kept:
                raise self._error(
                    f"write {self._key!r}: {len(published)} of {len(self._lanes)} "
                    f"destinations published, the {self._policy} policy needs "
                    f"{self._required}; this write's create-only copies were deleted again",
                    MirrorWriteError,
                )
            published = kept
        raise self._partial(published)

    def _partial(self, published: list[_Lane]) -> PartialPublish:
        new = tuple(lane.index for lane in published)
        old = tuple(lane.index for lane in self._lanes if lane not in published)
        what = "the old one" if self._options.overwrite else "nothing"
        error = self._error(
            f"write: the new version was published on destinations {list(new)} "
            f"but not on {list(old)}, which keep {what}; rerun the write or repair",
            PartialPublish,
        )
        assert isinstance(error, PartialPublish)
        error.new, error.old = new, old
        return error

    def _roll_back(self, published: list[_Lane]) -> list[_Lane]:
        """Delete this write's version from each destination that published it; return
        those that still hold it (no conditional delete there, or the delete failed)."""
        kept: list[_Lane] = []
        for lane in published:
            if lane.version is None or not lane.store.supports(Capability.CONDITIONAL_DELETE):
                lane.error = lane.error or _NoRollback(
                    "not rolled back: the destination has no conditional delete, and an "
                    "unconditional one could remove another writer's object"
                )
                kept.append(lane)
                continue
            try:
                lane.store.delete(self._key, missing_ok=True, if_version=lane.version)
            except PreconditionFailed:
                lane.state = "superseded"  # another writer's version is there now: kept
            except StorageError as exc:
                lane.error = exc
                kept.append(lane)
            else:
                lane.state = "rolled_back"
        return kept

    def _arbiter_down(self) -> MirrorWriteError:
        """The primary cannot decide a create-only write: nobody may publish it."""
        primary = self._lanes[0]
        error = self._error(
            f"write {self._key!r}: create-only writes are decided by destination 0, which "
            f"did not stage the object ({_describe(primary.error) or primary.state}); "
            "nothing was published",
            MirrorWriteError,
        )
        if isinstance(primary.error, StorageError):
            error.temporary = primary.error.temporary
        error.__cause__ = primary.error
        return error

    @property
    def version(self) -> str | None:  # type: ignore[override]
        """Every destination's version of this write, for the mirror's conditional delete
        (``None`` unless every destination that published named one)."""
        published = [lane for lane in self._lanes if lane.state == "published"]
        if not published or any(lane.version is None for lane in published):
            return None
        return json.dumps([[lane.index, lane.version] for lane in published])

    def _primary_error(self, lane: _Lane) -> StorageError:
        """The first destination's own error (e.g. ``AlreadyExists``), with the report."""
        exc = lane.error
        report = self._report()
        if isinstance(exc, StorageError):
            error = detach(exc)
            error.report = report  # type: ignore[attr-defined]
            return error
        error = MirrorWriteError(f"write {self._key!r}: {_describe(exc)}", op="write")
        error.report = report
        return error

    def _error(self, message: str, cls: type[MirrorWriteError]) -> MirrorWriteError:
        error = cls(message, op="write", temporary=self._any_temporary())
        error.report = self._report()
        return error

    def _any_temporary(self) -> bool:
        errors = [lane.error for lane in self._lanes if lane.error is not None]
        return bool(errors) and all(isinstance(e, StorageError) and e.temporary for e in errors)

    def _report(self) -> MirrorReport:
        report = MirrorReport(
            key=self._key,
            policy=str(self._policy),
            overwrite=self._options.overwrite,
            destinations=tuple(lane.result() for lane in self._lanes),
        )
        if self._on_report is not None:
            self._on_report(report)
        return report

    def _abort_all(self) -> None:
        self._done = True
        for lane in self._lanes:
            lane.cancel()
        for lane in self._lanes:
            lane.staged.wait()
            lane.abort_writer()

    def abort(self) -> None:
        if not self._done:
            self._abort_all()
        else:
            for lane in self._lanes:
                lane.abort_writer()
