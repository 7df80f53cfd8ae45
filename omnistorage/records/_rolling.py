"""RollingRecordWriter: one record stream, many objects, rotated by size, count or age."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from itertools import islice
from types import TracebackType
from typing import Any, Literal

from omnistorage.compression import Codec
from omnistorage.errors import AlreadyExists, ConfigurationError, StreamClosed
from omnistorage.formats import Format
from omnistorage.records._open import WRITER_OPTIONS, sealed_metadata
from omnistorage.records._options import resolve_layers
from omnistorage.records._publish import PublishError, PublishInfo, Reason, RollingStats
from omnistorage.records._template import Template
from omnistorage.records._writer import (
    DEFAULT_BATCH_BYTES,
    DEFAULT_BATCH_RECORDS,
    DEFAULT_QUEUE_DEPTH,
    DEFAULT_WRITE_SIZE,
    RecordWriter,
    check_positive,
)
from omnistorage.store import Store

__all__ = ["RollingRecordWriter"]

_IDLE_WAIT = 5.0  # seconds the timer sleeps with no open object (it also notices GC)
_CHUNK = 1024  # records per locked step of write_many


class _Object:
    """The open object: its writer (which buffers encoded records) and its bookkeeping."""

    __slots__ = (
        "accepted",
        "deadline",
        "error",
        "opened_at",
        "path",
        "reason",
        "seq",
        "ticket",
        "writer",
    )

    def __init__(
        self, writer: RecordWriter, path: str, seq: int, opened_at: datetime, deadline: float
    ) -> None:
        self.writer = writer
        self.path = path
        self.seq = seq
        self.opened_at = opened_at
        self.deadline = deadline
        self.ticket = -1
        self.reason: Reason = "close"
        self.accepted = 0  # records the rolling writer acknowledged into this object
        self.error: BaseException | None = None

    @property
    def bytes_in(self) -> int:
        return self.writer.bytes_in


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _seconds(max_age: float | timedelta | None) -> float | None:
    if max_age is None:
        return None
    seconds = max_age.total_seconds() if isinstance(max_age, timedelta) else max_age
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise ConfigurationError(
            f"max_age must be positive seconds or a timedelta, got {max_age!r}"
        )
    return float(seconds)


class RollingRecordWriter:
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

    **Speed.** :meth:`write` takes the lock, encodes the record straight
    into the open object's :class:`~omnistorage.records.RecordWriter` buffer
    (compressed in batches of ``batch_bytes``) and checks the size and count
    limits after every record, so rotation is exact, not per batch.
    :meth:`write_many` encodes and compresses whole batches and is faster
    still; it checks the size limit per batch of about ``max_bytes`` minus
    what the object holds, so an object overshoots by at most about one
    record.

    Thread-safe: any number of threads may write. :meth:`stats` returns a
    :class:`RollingStats` snapshot. Use as a context manager or call
    :meth:`close`: leaving the ``with`` block, even by an exception,
    publishes the last object, because its records were acknowledged. A
    writer that is never closed publishes nothing more (its open object is
    aborted when it is garbage collected).
    """

    def __init__(
        self,
        store: Store,
        template: str,
        *,
        format: str | Format | None = None,
        compression: str | Codec | None = None,
        max_bytes: int | None = None,
        max_records: int | None = None,
        max_age: float | timedelta | None = None,
        stream: str = "events",
        prefix: str = "",
        fields: Mapping[str, Any] | None = None,
        clock: Callable[[], datetime] = _utc_now,
        start_seq: int = 0,
        if_exists: Literal["skip", "fail"] = "skip",
        on_publish: Callable[[PublishInfo], object] | None = None,
        on_failure: Callable[[PublishInfo], object] | None = None,
        **options: Any,
    ) -> None:
        self._closing = True  # until fully built: __del__ then does nothing
        self._max_bytes = None if max_bytes is None else check_positive("max_bytes", max_bytes)
        self._max_records = (
            None if max_records is None else check_positive("max_records", max_records)
        )
        self._max_age = _seconds(max_age)
        # The same limits as plain ints, for the per-record check.
        self._limit_records = self._max_records or sys.maxsize
        self._limit_bytes = self._max_bytes or sys.maxsize
        if isinstance(start_seq, bool) or not isinstance(start_seq, int) or start_seq < 0:
            raise ConfigurationError(f"start_seq must be an int >= 0, got {start_seq!r}")
        if if_exists not in ("skip", "fail"):
            raise ConfigurationError(f"if_exists must be 'skip' or 'fail', got {if_exists!r}")
        self._clock = clock
        self._template = Template(template, prefix=prefix, stream=stream, fields=fields or {})
        now = self._now()
        sample = self._template.render(start_seq, now)
        if sample == self._template.render(start_seq + 1, now):
            raise ConfigurationError(
                f"the template {template!r} must use {{seq}}: every object needs its own name"
            )
        layers = resolve_layers(sample, format, compression, options, WRITER_OPTIONS)
        own = layers.options
        self._format = layers.format
        self._codec = layers.codec
        self._writer_options: dict[str, Any] = {
            "parallel": own.get("parallel", False),
            "batch_bytes": own.get("batch_bytes", DEFAULT_BATCH_BYTES),
            "batch_records": own.get("batch_records", DEFAULT_BATCH_RECORDS),
            "write_size": own.get("write_size", DEFAULT_WRITE_SIZE),
            "queue_depth": own.get("queue_depth", DEFAULT_QUEUE_DEPTH),
        }
        self._content_type: str | None = own.get("content_type")
        self._metadata: Mapping[str, str] | None = own.get("metadata")
        self._store = store
        self._if_exists = if_exists
        self._on_publish = on_publish
        self._on_failure = on_failure
        self._next_seq = start_seq
        self._resumed = if_exists == "fail"  # a replaying producer keeps its numbers

        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._turn = threading.Condition()
        self._tickets = 0  # objects detached so far
        self._serving = 0  # objects whose publishing finished
        self._current: _Object | None = None
        self._failures: list[PublishInfo] = []
        self._callback_errors: list[BaseException] = []
        self._records = 0
        self._bytes_in_done = 0  # encoded bytes of detached objects
        self._record_size = 0.0  # average encoded record size of the last object
        self._bytes_out = 0
        self._objects = 0
        self._published_records = 0
        self._failed_objects = 0
        self._failed_records = 0
        self._timer: threading.Thread | None = None
        self._closing = False
        # True once the writer is closing or holds a failure or callback error
        # to raise: the per-record path tests this one flag.
        self._alert = False
        self._closed = False
        if self._max_age is not None:
            self._timer = threading.Thread(
                target=_run_timer,
                args=(weakref.ref(self), self._cond),
                name="omnistorage-rolling-timer",
                daemon=True,
            )
            self._timer.start()

    # ------------------------------------------------------------ public API

    @property
    def template(self) -> str:
        """The object name template."""
        return self._template.template

    def name_for(self, seq: int, date: datetime | None = None) -> str:
        """The key of object ``seq`` opened at ``date`` (default: now, from ``clock``)."""
        return self._template.render(seq, self._now() if date is None else _as_utc(date))

    def write(self, record: Any) -> None:
        """Write one record (encoded now: an encoding error raises here).

        Raises:
            StreamClosed: the writer is closed.
            PublishError: an object failed: an earlier one (then this record
                was not accepted) or the one this record completed (then it
                is among the lost records the error lists).
            DataError, TypeError: this record cannot be encoded (not accepted).
            AlreadyExists: ``if_exists="fail"`` and the next object's name exists.
            StorageError: the store failed opening the next object.
        """
        detached: _Object | None = None
        dead: _Object | None = None
        lock = self._lock
        lock.acquire()  # cheaper than "with" on the per-record path
        try:
            if self._alert:
                self._check_usable()
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
                dead = self._died(obj, exc)
            else:
                obj.accepted += 1
                if (
                    obj.accepted >= self._limit_records
                    or writer._bytes_in + len(writer._buf) >= self._limit_bytes
                ):
                    detached = self._rotation_due(obj)
        finally:
            lock.release()
        if dead is not None:
            self._report_death(dead)
        if detached is not None:
            self._publish_now(detached)

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
                    detached: _Object | None = None
                    dead: _Object | None = None
                    with self._lock:
                        self._check_usable()
                        obj = self._current or self._open()
                        room = len(chunk) - start
                        if self._max_records is not None:
                            room = min(room, self._max_records - obj.accepted)
                        part = chunk[start : start + room]
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
                            dead = self._died(obj, exc)
                        else:
                            obj.accepted += len(part)
                            done += len(part)
                            detached = self._rotation_due(obj)
                    if dead is not None:
                        self._report_death(dead)
                    start += room
                    if detached is not None:
                        self._publish_now(detached)
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
            detached = self._detach("rotate") if self._current is not None else None
        if detached is None:
            return None
        return self._publish_now(detached)

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
                detached = self._detach("close") if self._current is not None else None
        if already:
            return
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.join()
        if detached is not None:
            self._publish(detached)
        with self._turn:
            while self._serving < self._tickets:
                self._turn.wait()
        with self._lock:
            self._closed = True
            self._raise_deferred()

    def stats(self) -> RollingStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            current = self._current
            bytes_in = self._bytes_in_done + (current.bytes_in if current else 0)
            records = self._records + (current.accepted if current else 0)
            return RollingStats(
                records=records,
                bytes_in=bytes_in,
                bytes_out=self._bytes_out,
                objects=self._objects,
                published_records=self._published_records,
                pending_records=records - self._published_records - self._failed_records,
                failed_objects=self._failed_objects,
                failed_records=self._failed_records,
            )

    @property
    def closed(self) -> bool:
        """True once :meth:`close` finished."""
        return self._closed

    def __enter__(self) -> RollingRecordWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_closing", True):
            return
        current = self._current
        if current is not None:
            warnings.warn(
                f"RollingRecordWriter {self.template!r} was never closed: "
                f"{current.writer.records} record(s) of {current.path!r} were not published",
                ResourceWarning,
                stacklevel=1,
            )

    def __repr__(self) -> str:
        return f"RollingRecordWriter({self.template!r})"

    # ------------------------------------------------------------ internals

    def _now(self) -> datetime:
        return _as_utc(self._clock())

    def _check_usable(self) -> None:
        """Raise for a closed writer or an unreported failure (lock held)."""
        if self._closing:
            raise StreamClosed(f"write to a closed RollingRecordWriter ({self.template!r})")
        try:
            self._raise_deferred()
        finally:
            self._alert = bool(self._failures or self._callback_errors)

    def _raise_deferred(self) -> None:
        if self._failures:
            failures = tuple(self._failures)
            self._failures.clear()
            error = PublishError(failures)
            raise error from failures[0].error
        if self._callback_errors:
            first = self._callback_errors[0]
            self._callback_errors.clear()
            raise first

    def _chunk_size(self) -> int:
        """Records per write_many step: about what is left before ``max_bytes``.

        Read without the lock: it is an estimate (another thread may rotate
        meanwhile); the overshoot stays within one step.
        """
        if self._max_bytes is None:
            return _CHUNK
        current = self._current
        left = self._max_bytes
        size = self._record_size
        if current is not None:
            left -= current.bytes_in
            if current.accepted and current.bytes_in:
                size = current.bytes_in / current.accepted
        if size <= 0:
            return 1  # nothing measured yet: the first record tells its size
        return max(1, min(_CHUNK, int(left / size)))

    def _died(self, obj: _Object, exc: BaseException) -> _Object:
        """The store failed while ``obj`` was written (lock held): count it as failed.

        The object's writer aborted itself; its accepted records are lost.
        Returns ``obj`` for the caller to report (:meth:`_report_death`).
        """
        obj.error = exc
        obj.reason = "error"
        self._current = None
        self._records += obj.accepted
        self._bytes_in_done += obj.bytes_in
        self._failed_objects += 1
        self._failed_records += obj.accepted
        with self._turn:
            obj.ticket = self._tickets
            self._tickets += 1
        return obj

    def _report_death(self, obj: _Object) -> None:
        """Report an object that died while written, in its turn; raise PublishError."""
        with self._turn:
            while self._serving != obj.ticket:
                self._turn.wait()
        info = self._info(obj, obj.error)
        try:
            if self._on_failure is not None:
                self._on_failure(info)
        except Exception as exc:  # noqa: BLE001 - raised by the writer's next call
            with self._lock:
                self._callback_errors.append(exc)
                self._alert = True
        finally:
            with self._turn:
                self._serving += 1
                self._turn.notify_all()
        raise PublishError((info,)) from obj.error

    def _info(self, obj: _Object, error: BaseException | None) -> PublishInfo:
        writer = obj.writer
        return PublishInfo(
            path=obj.path,
            seq=obj.seq,
            records=obj.accepted,
            bytes_in=obj.bytes_in,
            bytes_out=writer.bytes_out,
            opened_at=obj.opened_at,
            reason=obj.reason,
            error=error,
        )

    def _resume(self) -> None:
        """Continue after the highest sequence this stream already used (lock held).

        One listing of the template's folder, plus the store's crash
        leftovers there (an upload killed mid-object took a number too), so
        names keep sorting by time after retention deleted the oldest
        objects and after a crash.
        """
        self._resumed = True
        folder, pattern = self._template.matcher()
        highest = -1
        for info in self._store.list_files(folder, recursive=True):
            found = pattern.fullmatch(info.path)
            if found is not None:
                highest = max(highest, int(found["seq"]))
        with contextlib.suppress(Exception):  # leftovers are a refinement, never a failure
            report = self._store.cleanup(folder, older_than=timedelta(0), dry_run=True)
            for item in report.removed:
                found = pattern.fullmatch(item.key)
                if found is not None:
                    highest = max(highest, int(found["seq"]))
        self._next_seq = max(self._next_seq, highest + 1)

    def _open(self) -> _Object:
        """Open the next object (lock held)."""
        if not self._resumed:
            self._resume()
        seq = self._next_seq
        now = self._now()
        name = self._template.render(seq, now)
        if self._store.is_file(name):
            if self._if_exists == "fail":
                raise AlreadyExists(
                    f"object {name!r} (seq {seq}) already exists; not overwriting it "
                    "(if_exists='fail')",
                    path=name,
                    op="write",
                )
            seq = self._free_seq(seq, now)
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
        deadline = time.monotonic() + self._max_age if self._max_age is not None else 0.0
        obj = _Object(writer, name, seq, now, deadline)
        self._current = obj
        self._next_seq = seq + 1
        self._cond.notify_all()
        return obj

    def _free_seq(self, taken: int, now: datetime) -> int:
        """A free seq after ``taken`` whose predecessor is taken (gallop, then bisect)."""
        exists = self._store.is_file
        render = self._template.render
        low, step = taken, 1
        while exists(render(taken + step, now)):
            low = taken + step
            step *= 2
        high = taken + step
        while high - low > 1:
            middle = (low + high) // 2
            if exists(render(middle, now)):
                low = middle
            else:
                high = middle
        return high

    def _rotation_due(self, obj: _Object) -> _Object | None:
        """Detach ``obj`` if it reached a size or count limit (lock held)."""
        if self._max_records is not None and obj.accepted >= self._max_records:
            return self._detach("max_records")
        if self._max_bytes is not None and obj.bytes_in >= self._max_bytes:
            return self._detach("max_bytes")
        return None

    def _detach(self, reason: Reason) -> _Object | None:
        """Take the open object out for publishing (lock held); ``None`` if it is empty."""
        obj = self._current
        if obj is None:
            return None
        self._current = None
        if not obj.accepted:
            # Opened but nothing accepted (its first record failed to encode).
            with contextlib.suppress(Exception):  # nothing to lose
                obj.writer.abort()
            if self._next_seq == obj.seq + 1:
                self._next_seq = obj.seq
            return None
        self._records += obj.accepted
        self._bytes_in_done += obj.bytes_in
        self._record_size = obj.bytes_in / obj.accepted
        obj.reason = reason
        with self._turn:
            obj.ticket = self._tickets
            self._tickets += 1
        return obj

    def _publish_now(self, obj: _Object) -> PublishInfo:
        """Publish ``obj`` for the calling thread; a failure is raised right away."""
        info = self._publish(obj)
        if info.error is not None:
            with self._lock:
                self._raise_deferred()
        return info

    def _publish(self, obj: _Object) -> PublishInfo:
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

    def _publish_in_turn(self, obj: _Object) -> PublishInfo:
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
            if error is None:
                self._objects += 1
                self._published_records += info.records
                self._bytes_out += info.bytes_out
            else:
                self._failed_objects += 1
                self._failed_records += info.records
                self._failures.append(info)
                self._alert = True
        callback = self._on_publish if error is None else self._on_failure
        if callback is not None:
            try:
                callback(info)
            except Exception as exc:  # noqa: BLE001 - raised by the writer's next call
                with self._lock:
                    self._callback_errors.append(exc)
                    self._alert = True
        if error is not None and not isinstance(error, Exception):
            raise error  # KeyboardInterrupt and the like: counted, then re-raised
        return info

    def _age_due(self) -> tuple[_Object | None, float | None]:
        """For the timer (lock held): the object to rotate now, or how long to wait."""
        obj = self._current
        if obj is None:
            return None, None
        left = obj.deadline - time.monotonic()
        if left > 0:
            return None, left
        return self._detach("max_age"), None


def _as_utc(date: datetime) -> datetime:
    return date.replace(tzinfo=UTC) if date.tzinfo is None else date.astimezone(UTC)


def _run_timer(ref: weakref.ref[RollingRecordWriter], cond: threading.Condition) -> None:
    """The age timer: sleeps until the open object's deadline, then rotates it.

    Holds only a weak reference between wake-ups, so an abandoned writer can
    be garbage collected (the timer then ends).
    """
    while True:
        with cond:
            writer = ref()
            if writer is None or writer._closing:
                return
            due, wait = writer._age_due()
            if due is None:
                del writer
                cond.wait(_IDLE_WAIT if wait is None else min(wait, _IDLE_WAIT))
                continue
        writer._publish(due)
        del writer, due
