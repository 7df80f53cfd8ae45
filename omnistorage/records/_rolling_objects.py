"""The objects of a :class:`~omnistorage.records.RollingRecordWriter`: opening them in
sequence, moving gathered lines into them, publishing them one at a time in ticket
order (a failed one reported in its turn), and the age timer.

:class:`RollingObjects` holds that machinery; :mod:`omnistorage.records._rolling`
adds the public API over it. Methods marked "lock held" run under ``_lock``.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from bisect import bisect_left
from collections.abc import Callable
from datetime import timedelta
from itertools import accumulate
from typing import Any

from omnistorage.records._open import sealed_metadata
from omnistorage.records._publish import PublishInfo
from omnistorage.records._rolling_core import (
    IDLE_WAIT,
    OpenObject,
    RollingCore,
    discard_quietly,
)
from omnistorage.records._writer import RecordWriter
from omnistorage.store import Store

__all__ = ["RollingObjects", "run_timer"]


class _Unopened:
    """The writer of an object that could not be opened for gathered lines (it
    holds them, as far as the counters are concerned, but wrote nothing)."""

    __slots__ = ("bytes_in", "records")

    bytes_out = 0
    closed = True

    def __init__(self, records: int, bytes_in: int) -> None:
        self.records = records
        self.bytes_in = bytes_in


class RollingObjects(RollingCore[Store]):
    """The store I/O and the publish order of a rolling writer (see the module docstring).

    The subclass sets these attributes in its constructor."""

    _pending: list[bytes]
    """Lines accepted by ``write`` and not yet in an object (appended without the lock)."""
    _fast_max: int
    _lock: threading.Lock
    _cond: threading.Condition
    _turn: threading.Condition

    def _ticketed(self, call: Callable[[], Any]) -> Any:
        """Run ``call`` (it may take a ticket) under the turn condition, so tickets and
        serving counts are read and written under one lock."""
        with self._turn:
            return call()

    def _died_in_turn(self, obj: OpenObject, exc: BaseException) -> OpenObject:
        return self._ticketed(lambda: self._died(obj, exc))  # type: ignore[no-any-return]

    def _drain(self) -> list[OpenObject]:
        """Move the gathered lines, in order, into objects (lock held).

        The lines are split where an object reaches ``max_records`` or
        ``max_bytes`` (exactly at the record that reaches it); such objects
        are detached. Returns the objects finished meanwhile, in ticket order:
        detached ones to publish, and failed ones (``error`` set: the store
        failed while writing or opening them; their lines are lost and
        counted) to report, both once the lock is released (:meth:`_finish`).
        """
        finished: list[OpenObject] = []
        while self._pending:
            if self._drain_once(finished):
                break
            if self._current is not None or self._closing:
                break  # later lines wait for the next drain (their object is open)
        return finished

    def _drain_once(self, finished: list[OpenObject]) -> bool:
        """One pass of :meth:`_drain`; True if an object could not be opened."""
        pending = self._pending
        count = len(pending)
        lines = pending[:count]
        del pending[:count]  # lines appended meanwhile stay, after these
        start = 0
        while start < count:
            obj = self._current
            if obj is None:
                seq, now, name = self._next_name()
                try:
                    obj = self._open()
                except Exception as exc:  # noqa: BLE001 - the lines are lost: reported
                    rest = lines[start:]
                    lost = OpenObject(_Unopened(len(rest), sum(map(len, rest))), name, seq, now, 0)
                    lost.accepted = len(rest)
                    finished.append(self._died_in_turn(lost, exc))
                    return True
            take = count - start
            if self._max_records is not None:
                take = min(take, self._max_records - obj.accepted)
            left = self._limit_bytes - obj.bytes_in
            if take * self._fast_max >= left:  # the limit may be reached in these lines
                sizes = list(accumulate(map(len, lines[start : start + take])))
                take = min(take, bisect_left(sizes, left) + 1)
            writer = obj.writer
            try:
                writer._write_lines(lines[start : start + take])
            except Exception as exc:  # noqa: BLE001 - the object is lost: reported
                obj.accepted += take
                start += take
                finished.append(self._died_in_turn(obj, exc))
                continue
            obj.accepted += take
            start += take
            detached = self._rotation_due(obj)
            if detached is not None:
                finished.append(detached)
        return False

    def _orphans(self) -> list[OpenObject]:
        """After a detach (lock held): lines gathered meanwhile, whose writers saw an
        object open, go into a new one now, so that no line waits without an object."""
        if self._current is None and self._pending and not self._closing:
            return self._drain()
        return []

    def _finish(self, finished: list[OpenObject]) -> bool:
        """Publish detached objects and report failed ones, in ticket order (lock not
        held); True if any failed (the failures are kept for :meth:`_raise_failures`
        or the next call)."""
        failed = False
        for obj in finished:
            if obj.error is None:
                failed = self._publish(obj).error is not None or failed
            else:
                self._report_failed(obj)
                failed = True
        return failed

    def _raise_failures(self) -> None:
        """Raise the failures kept so far (``PublishError``)."""
        with self._lock:
            self._raise_deferred()

    def _report_failed(self, obj: OpenObject) -> None:
        """Report an object that died while written, in its turn, for the next call to raise."""
        with self._turn:
            while self._serving != obj.ticket:
                self._turn.wait()
        info = self._info(obj, obj.error)
        try:
            if self._on_failure is not None:
                self._on_failure(info)
        except Exception as exc:  # noqa: BLE001 - raised by the writer's next call
            with self._lock:
                self._callback_failed(exc)
        finally:
            with self._lock:
                self._failures.append(info)
                self._alert = True
            with self._turn:
                self._serving += 1
                self._turn.notify_all()

    def _take(self, reason: Any) -> OpenObject | None:
        """Detach the open object for publishing (lock held); abort one that is empty."""
        detached, empty = self._ticketed(lambda: self._detach(reason))
        if empty is not None:
            discard_quietly(empty.writer.abort)
        return detached  # type: ignore[no-any-return]

    def _rotation_due(self, obj: OpenObject) -> OpenObject | None:
        """Detach ``obj`` if it reached a size or count limit (lock held)."""
        reason = self._rotation_reason(obj)
        return None if reason is None else self._take(reason)

    def _resume(self) -> None:
        """Continue after the highest sequence this stream already used (lock held).

        One listing of the template's folder, plus the store's crash
        leftovers there (an upload killed mid-object took a number too), so
        names keep sorting by time after retention deleted the oldest
        objects and after a crash.
        """
        folder, found = self._resume_scan()
        names = [info.path for info in self._store.list_files(folder, recursive=True)]
        with contextlib.suppress(Exception):  # leftovers are a refinement, never a failure
            report = self._store.cleanup(folder, older_than=timedelta(0), dry_run=True)
            names += [item.key for item in report.removed]
        found(names)

    def _open(self) -> OpenObject:
        """Open the next object (lock held)."""
        if not self._resumed:
            self._resume()
        seq, now, name = self._next_name()
        if self._store.is_file(name):
            error = self._taken(seq, name)
            if error is not None:
                raise error
            search = self._free_seq(seq, now)
            exists = self._store.is_file
            try:
                checked = exists(next(search))
                while True:
                    checked = exists(search.send(checked))
            except StopIteration as stop:
                seq = stop.value
            name = self._template.render(seq, now)
        metadata = sealed_metadata(self._store, self._codec, True, self._metadata)
        target = self._store.open_writer(
            name, overwrite=False, content_type=self._content_type, metadata=metadata
        )
        try:
            writer = RecordWriter(
                target, format=self._format, codec=self._codec, path=name, **self._writer_options
            )
        except BaseException:
            with contextlib.suppress(Exception):  # the configuration error is the one to report
                target.abort()
            raise
        obj = self._opened(writer, name, seq, now)
        self._cond.notify_all()
        return obj

    def _publish(self, obj: OpenObject) -> PublishInfo:
        """Finish and publish ``obj`` in its turn; record the outcome (lock not held)."""
        with self._turn:
            while self._serving != obj.ticket:
                self._turn.wait()
        try:
            return self._publish_in_turn(obj)
        finally:
            with self._turn:
                self._serving += 1
                self._turn.notify_all()

    def _publish_in_turn(self, obj: OpenObject) -> PublishInfo:
        writer = obj.writer
        error: BaseException | None = None
        try:
            writer.close()
        except BaseException as exc:  # noqa: BLE001 - counted and reported as a failure
            error = exc
            with contextlib.suppress(Exception):  # the publish error is the one to report
                writer.abort()
        info = self._info(obj, error)
        with self._lock:
            self._outcome(info)
        raised = self._call_back(info)
        if raised is not None:
            with self._lock:
                self._callback_failed(raised)
        if error is not None and not isinstance(error, Exception):
            raise error  # KeyboardInterrupt and the like: counted, then re-raised
        return info

    def _timer_step(self) -> tuple[list[OpenObject], float | None]:
        """For the timer (lock held): the objects to publish (or report) now, or how long
        to wait."""
        current = self._current
        if self._pending and current is not None and current.deadline <= time.monotonic():
            finished = self._drain()  # the gathered lines belong to the object that is due
        else:
            finished = []
        (detached, empty), wait = self._ticketed(self._age_due)
        if empty is not None:
            discard_quietly(empty.writer.abort)
        if detached is not None:
            finished.append(detached)
            finished += self._orphans()
        return finished, None if finished else wait


def run_timer(ref: weakref.ref[RollingObjects], cond: threading.Condition) -> None:
    """The age timer: sleeps until the open object's deadline, then rotates it.

    Holds only a weak reference between wake-ups, so an abandoned writer can
    be garbage collected (the timer then ends).
    """
    while True:
        with cond:
            writer = ref()
            if writer is None or writer._closing:
                return
            due, wait = writer._timer_step()
            if not due:
                del writer
                cond.wait(IDLE_WAIT if wait is None else min(wait, IDLE_WAIT))
                continue
        writer._finish(due)
        del writer, due
