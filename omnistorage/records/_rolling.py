"""RollingRecordWriter: one record stream, many objects, rotated by size, count or age.

The decisions (options, names, limits, sequence numbers, publish order, counters) are
:class:`~omnistorage.records._rolling_core.RollingCore`, shared with the async
:class:`~omnistorage.aio.records.AsyncRollingRecordWriter`; this module adds the store
I/O, a lock for the writing threads and the age timer thread: the public API and the
per-record write paths here, the objects' opening, publishing and timer in
:mod:`omnistorage.records._rolling_objects`.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

import orjson

from omnistorage.errors import StreamClosed
from omnistorage.records._publish import PublishInfo, RollingStats
from omnistorage.records._rolling_core import OpenObject
from omnistorage.records._rolling_objects import RollingObjects, run_timer
from omnistorage.records._tuning import ENCODE_ERRORS

__all__ = ["RollingRecordWriter"]

_NEWLINE = orjson.OPT_APPEND_NEWLINE
#: Lines the batched path of ``write`` gathers before it moves them into the
#: open object under the lock (and checks the limits). Each orjson output
#: holds about 4 KiB while it waits, so a few dozen keep that memory in cache.
PENDING_LINES = 64
#: The longest line (with its newline) the batched path takes; longer lines
#: go through the locked path, so the gathered lines stay small.
PENDING_LINE_MAX = 16 << 10


class RollingRecordWriter(RollingObjects):
    """Writes one record stream as a sequence of objects, rotated by size, count or age.

    Example::

        with RollingRecordWriter(
            store, "{prefix}/{date:%Y/%m/%d}/{stream}-{seq:020d}.ndjson.zst",
            prefix="logs", stream="api", max_bytes=64 << 20, max_age=60,
        ) as out:
            out.write({"level": "info", "message": "started"})

    **Rotation.** The open object is finished and published when, whichever
    comes first, its encoded size reaches ``max_bytes`` (it ends with the
    record that crossed the limit; ``write_many`` keeps the overshoot to
    about one record), it holds ``max_records`` records (exactly), or it is
    ``max_age`` old (seconds or a ``timedelta``, counted from its first
    record). Age is checked by a timer thread, so an idle stream still
    publishes its last records on time; the timer holds the writer's lock
    only to swap the open object out, never while publishing. An object is
    opened by the first record after a rotation, so an idle stream writes
    no empty objects. :meth:`rotate` finishes the open object now;
    :meth:`close` publishes the last one.

    **Names.** ``template`` is a :meth:`str.format` pattern over ``prefix``,
    ``date`` (when the object's first record arrived, a UTC ``datetime``
    from ``clock``), ``stream``, ``seq`` (``start_seq``, ``start_seq + 1`` …)
    and the extra ``fields``; empty path segments (an empty prefix) are
    dropped. Unless given, the format and codec are inferred from the
    template's suffixes, as in :func:`~omnistorage.records.open_writer`; the
    other keyword options go to the format, the codec or each object's
    :class:`~omnistorage.records.RecordWriter` (``parallel=True`` …).

    **Restarts and retries.** Every object is published create-only, so an
    existing object is never overwritten. Before opening an object the
    writer checks its name: with ``if_exists="skip"`` (default) it moves on
    to the next free sequence number, and before its first object it lists
    the template's folder once (and the store's crash leftovers there, such
    as an S3 upload killed mid-object) and continues after the highest
    sequence number of its stream, so a restarted service continues and
    names keep sorting by time even after retention deleted the oldest
    objects; with ``if_exists="fail"`` it raises
    :class:`~omnistorage.errors.AlreadyExists` from that ``write`` (the
    record is not accepted), which is what a producer that replays its
    input from a checkpoint wants: object *n* always holds the same records,
    and a replay cannot store them twice. Two writers must not share a
    stream name: if another writer publishes the same name between the check
    and the publish, the publish fails (see below).

    **Failures.** If the store fails while an object is written or
    published, that object is aborted (nothing partial appears), its
    records are lost — counted in ``failed_records``/``failed_objects`` —
    and :class:`PublishError` lists each failed object with its record
    count. It is raised by the call during which the failure happened (a
    ``write`` whose record filled the object, say; that call's records are
    among the lost ones), or, for publishes by the timer or by another
    thread, by the next :meth:`write`, :meth:`write_many`, :meth:`rotate`
    or :meth:`close`, before that call accepts anything. Each lost record
    is reported exactly once; the writer then goes on with a new object.
    There is no retry here: wrap the store's backend in a retry layer for
    temporary errors. A record that cannot be encoded raises from its own
    ``write`` (:class:`~omnistorage.errors.DataError`, ``TypeError``) and
    is not accepted; nothing else is affected.

    **Callbacks.** ``on_publish(info)`` after each published object,
    ``on_failure(info)`` after each failed one (``info.error`` set). Objects
    are published in sequence order, one at a time, and callbacks run on
    the publishing thread (a writer thread or the timer) in that order. An
    exception from a callback is raised by the next call, like a failure.
    Callbacks must not call this writer's :meth:`close` or :meth:`rotate`.

    **What a returned write means.** The record is encoded (so later changes
    to the object do not change it) and held in this process's memory, in
    the open object's buffer; it is durable only once that object is
    published (``on_publish`` tells when). A SIGKILL loses the records of
    the open object and of any object detached but not yet published (at
    most ``max_bytes`` of encoded records each, or ``max_age`` worth); every
    published object is complete and stays. On S3 the killed upload is left
    as an incomplete multipart upload, which a restarted writer counts when
    it picks its next sequence number, so that number is not reused; on
    stores where the killed object left nothing visible to the listing its
    number may be reused, and since it was never published the names still
    sort by time. ``store.cleanup()`` removes such leftovers.

    **Speed.** For NDJSON encoded by orjson (no ``default=``) with
    ``if_exists="skip"``, :meth:`write` encodes the record on the calling
    thread, outside the lock, and appends the line to a short list of
    gathered lines without taking the lock; every ``PENDING_LINES`` (64)
    records, and whenever the timer, :meth:`rotate`, :meth:`close` or
    :meth:`write_many` runs, the gathered lines move, in order, into the open
    object's :class:`~omnistorage.records.RecordWriter` buffer (compressed in
    batches of ``batch_bytes``). Rotation stays exact: the lines are split
    at the record that reaches ``max_bytes`` or ``max_records``; an object
    that reached a limit is only published up to 64 records later (or by
    the timer). Other formats, ``if_exists="fail"`` and lines over 16 KiB
    take the lock per record. :meth:`write_many` encodes and compresses
    whole batches and is faster still; it checks the size limit per batch
    of about ``max_bytes`` minus what the object holds, so an object
    overshoots by at most about one record.

    Thread-safe: any number of threads may write. :meth:`stats` returns a
    :class:`RollingStats` snapshot. Use as a context manager or call
    :meth:`close`: leaving the ``with`` block, even by an exception,
    publishes the last object, because its records were acknowledged. A
    writer that is never closed publishes nothing more (its open object is
    aborted when it is garbage collected).
    """

    def _started(self) -> None:
        # The batched path of write(): orjson and the NaN check of NDJSON, when
        # names are not pinned (if_exists="fail" raises from the write that
        # needs the next name, so it takes the lock per record).
        encoder: Any = self._format.encoder()
        fast = getattr(encoder, "fast_dumps", None) if self._if_exists == "skip" else None
        self._fast_dumps: Callable[[Any, Any, int], bytes] | None = fast
        suspect = getattr(encoder, "fast_suspect", None)
        self._suspect: Callable[[bytes, Any], object] | None = None
        self._suspect_arg: Any = None
        if suspect is not None:
            self._suspect, self._suspect_arg = suspect
        self._fast_max = min(getattr(encoder, "max_line", 0), PENDING_LINE_MAX) + 1
        # Lines accepted by write() and not yet in an object. Appended without
        # the lock (list.append is atomic); taken, in order, under the lock by
        # _drain. Whenever lines are pending, an object is open or a drain is
        # about to run, and every detach drains first.
        self._pending: list[bytes] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._turn = threading.Condition()
        self._timer: threading.Thread | None = None
        if self._max_age is not None:
            self._timer = threading.Thread(
                target=run_timer,
                args=(weakref.ref(self), self._cond),
                name="omnistorage-rolling-timer",
                daemon=True,
            )
            self._timer.start()

    # ------------------------------------------------------------ public API

    def write(self, record: Any) -> None:
        """Write one record (encoded now: an encoding error raises here).

        Raises:
            StreamClosed: the writer is closed.
            PublishError: an object failed: an earlier one (then this record
                was not accepted) or one this record went into (then it is
                among the lost records the error lists).
            DataError, TypeError: this record cannot be encoded (not accepted).
            AlreadyExists: ``if_exists="fail"`` and the next object's name exists.
            StorageError: the store failed opening the next object.
        """
        dumps = self._fast_dumps
        if dumps is not None and not self._alert and self._current is not None:
            try:
                data = dumps(record, None, _NEWLINE)
            except ENCODE_ERRORS:
                pass  # the locked path raises the format's own error
            else:
                suspect = self._suspect
                if not (
                    (suspect is not None and suspect(data, self._suspect_arg))
                    or len(data) > self._fast_max
                ):
                    pending = self._pending
                    pending.append(data)  # accepted
                    if len(pending) >= PENDING_LINES or self._alert or self._current is None:
                        self._gathered(data)
                    return
        self._write_locked(record)

    def _gathered(self, data: bytes) -> None:
        """After appending ``data``: move the gathered lines into objects, unless the
        writer was closed meanwhile (then ``data``, if still gathered, is taken back)."""
        with self._lock:
            if self._closing:
                pending = self._pending
                for index, line in enumerate(pending):
                    if line is data:  # close() had drained before it came: not accepted
                        del pending[index]
                        raise StreamClosed(
                            f"write to a closed {type(self).__name__} ({self.template!r})"
                        )
                return  # close() took it: it is published with the last object
            finished = self._drain()
        if self._finish(finished):
            self._raise_failures()

    def _write_locked(self, record: Any) -> None:
        """The per-record path under the lock: encode into the open object's writer."""
        finished: list[OpenObject] = []
        failed = False
        lock = self._lock
        lock.acquire()  # cheaper than "with" on the per-record path
        try:
            if self._alert:
                self._check_usable()
            if self._pending:  # gathered lines go first
                finished = self._drain()
            obj = self._current or self._open()
            writer = obj.writer
            # The object's RecordWriter encodes the record now into its buffer
            # and compresses a batch once the buffer is full.
            try:
                writer.write(record)
            except BaseException as exc:
                if not writer.closed:
                    raise  # the record cannot be encoded: not accepted, nothing else changed
                obj.accepted += 1  # the record was taken before the store failed
                finished.append(self._died_in_turn(obj, exc))
                finished += self._orphans()
            else:
                obj.accepted += 1
                if obj.accepted >= self._limit_records or writer.bytes_in >= self._limit_bytes:
                    detached = self._rotation_due(obj)
                    if detached is not None:
                        finished.append(detached)
                        finished += self._orphans()
        finally:
            lock.release()
            if finished:
                failed = self._finish(finished)
        if failed:
            self._raise_failures()

    def write_many(self, records: Iterable[Any]) -> None:
        """Write ``records`` in order, in batches (faster than :meth:`write` per record).

        Rotation happens between batches, exactly at ``max_records``. If an
        error stops the call, the records before the failing point are
        written and the rest are not (the error's note says how many were).
        """
        iterator = iter(records)
        done = 0
        try:
            while chunk := list(islice(iterator, self._chunk_size())):
                start = 0
                while start < len(chunk):
                    finished: list[OpenObject] = []
                    failed = False
                    self._lock.acquire()
                    try:
                        self._check_usable()
                        if self._pending:  # gathered lines go first
                            finished = self._drain()
                        obj = self._current or self._open()
                        part = self._next_part(obj, chunk, start)
                        writer = obj.writer
                        before = writer.records
                        try:
                            writer._write_many(part)
                        except BaseException as exc:
                            # The records before the failing point were taken.
                            taken = writer.records - before
                            obj.accepted += taken
                            if not writer.closed:
                                done += taken
                                raise  # a record that cannot be encoded
                            finished.append(self._died_in_turn(obj, exc))
                        else:
                            obj.accepted += len(part)
                            done += len(part)
                            detached = self._rotation_due(obj)
                            if detached is not None:
                                finished.append(detached)
                        finished += self._orphans()
                    finally:
                        self._lock.release()
                        if finished:
                            failed = self._finish(finished)
                    if failed:
                        self._raise_failures()
                    start += len(part)
        except BaseException as exc:
            if done:
                exc.add_note(f"write_many: {done} record(s) of this call were accepted")
            raise

    def rotate(self) -> PublishInfo | None:
        """Finish and publish the open object now; ``None`` if no object is open.

        Raises:
            PublishError: this or an earlier object failed.
        """
        with self._lock:
            self._check_usable()
            finished = self._drain()
            detached = self._take("rotate")
            if detached is not None:
                finished.append(detached)
            finished += self._orphans()
        failed = self._finish(finished)
        if failed:
            self._raise_failures()
        if detached is None:
            return None
        return self._info(detached, None)

    def close(self) -> None:
        """Publish the open object, stop the timer, wait for publishes in flight.

        Idempotent. Raises :class:`PublishError` for failures not raised yet
        (the writer is closed anyway).
        """
        with self._lock:
            if self._closing:
                already = True
            else:
                already = False
                self._closing = self._alert = True
                self._cond.notify_all()
                # Gathered lines go into the last object; lines gathered after
                # this are refused by their own write (see _gathered).
                finished = self._drain()
                detached = self._take("close")
                if detached is not None:
                    finished.append(detached)
        if already:
            return
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.join()
        self._finish(finished)
        with self._turn:
            while self._serving < self._tickets:
                self._turn.wait()
        with self._lock:
            self._closed = True
            self._raise_deferred()

    def stats(self) -> RollingStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            stats = self._stats()
            gathered = len(self._pending)
        if not gathered:
            return stats
        return dataclasses.replace(
            stats,
            records=stats.records + gathered,
            pending_records=stats.pending_records + gathered,
        )

    def __enter__(self) -> RollingRecordWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
