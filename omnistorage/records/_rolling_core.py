"""The I/O-free core of a rolling writer, shared by the sync
:class:`~omnistorage.records.RollingRecordWriter` and the async
:class:`~omnistorage.aio.records.AsyncRollingRecordWriter`.

:class:`RollingCore` holds everything a rolling writer decides without touching the
store or a clock thread: the options and their checks, the name template and the
layers (format, codec) chosen from it, the rotation limits, the sequence numbers
(resuming after the highest one found, and a gallop-then-bisect search for the next
free one, as a generator that asks the shell which names exist), the order in which
objects are published (tickets), the counters, failures and callback errors, and
what the age timer should do next. The shells add the I/O and the concurrency: the
sync one a lock, a condition and a timer thread; the async one the event loop.

Methods that change shared state assume the shell's lock is held (the sync shell's
``_lock``; the async shell needs none, since it never awaits inside them).
"""

from __future__ import annotations

import contextlib
import sys
import time
import warnings
from collections.abc import Callable, Generator, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Literal, Protocol, TypeVar

from omnistorage.compression import Codec
from omnistorage.errors import AlreadyExists, ConfigurationError, StreamClosed
from omnistorage.formats import Format
from omnistorage.records._open import WRITER_OPTIONS, record_writer_options
from omnistorage.records._options import resolve_layers
from omnistorage.records._publish import PublishError, PublishInfo, Reason, RollingStats
from omnistorage.records._template import Template
from omnistorage.records._tuning import check_positive

__all__ = ["CHUNK", "IDLE_WAIT", "ObjectWriter", "OpenObject", "RollingCore"]

IDLE_WAIT = 5.0  # seconds the timer sleeps with no open object (it also notices GC)
CHUNK = 1024  # records per locked step of write_many


class ObjectWriter(Protocol):
    """What the core reads from an object's record writer (sync or async)."""

    @property
    def records(self) -> int: ...

    @property
    def bytes_in(self) -> int: ...

    @property
    def bytes_out(self) -> int: ...

    @property
    def closed(self) -> bool: ...


class OpenObject:
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
        self, writer: Any, path: str, seq: int, opened_at: datetime, deadline: float
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
        return int(self.writer.bytes_in)


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(date: datetime) -> datetime:
    return date.replace(tzinfo=UTC) if date.tzinfo is None else date.astimezone(UTC)


def _seconds(max_age: float | timedelta | None) -> float | None:
    if max_age is None:
        return None
    seconds = max_age.total_seconds() if isinstance(max_age, timedelta) else max_age
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise ConfigurationError(
            f"max_age must be positive seconds or a timedelta, got {max_age!r}"
        )
    return float(seconds)


StoreT = TypeVar("StoreT")


class RollingCore(Generic[StoreT]):
    """Options, names, limits, sequence numbers, ordering and counters (see the module
    docstring). Not used on its own: the shells subclass it, and set up their own I/O
    and concurrency in :meth:`_started`."""

    def __init__(
        self,
        store: StoreT,
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
        clock: Callable[[], datetime] = utc_now,
        start_seq: int = 0,
        if_exists: Literal["skip", "fail"] = "skip",
        on_publish: Callable[[PublishInfo], object] | None = None,
        on_failure: Callable[[PublishInfo], object] | None = None,
        **options: Any,
    ) -> None:
        self._closing = True  # until built: __del__ then does nothing
        self._store = store
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
        self._writer_options = record_writer_options(own, options)
        self._content_type: str | None = own.get("content_type")
        self._metadata: Mapping[str, str] | None = own.get("metadata")
        self._if_exists = if_exists
        self._on_publish = on_publish
        self._on_failure = on_failure
        self._next_seq = start_seq
        self._resumed = if_exists == "fail"  # a replaying producer keeps its numbers

        self._tickets = 0  # objects detached so far
        self._serving = 0  # objects whose publishing finished
        self._current: OpenObject | None = None
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
        # True once the writer is closing or holds a failure or callback error
        # to raise: the per-record path tests this one flag.
        self._alert = False
        self._closed = False
        self._closing = False
        try:
            self._started()
        except BaseException:
            self._closing = True  # not built: __del__ does nothing
            raise

    def _started(self) -> None:
        """The shell's own setup (locks, timer), at the end of construction."""

    # ------------------------------------------------------------ names

    @property
    def template(self) -> str:
        """The object name template."""
        return self._template.template

    def name_for(self, seq: int, date: datetime | None = None) -> str:
        """The key of object ``seq`` opened at ``date`` (default: now, from ``clock``)."""
        return self._template.render(seq, self._now() if date is None else as_utc(date))

    @property
    def closed(self) -> bool:
        """True once :meth:`close` finished."""
        return self._closed

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.template!r})"

    def _now(self) -> datetime:
        return as_utc(self._clock())

    def _resume_scan(self) -> tuple[str, Callable[[Iterable[str]], None]]:
        """Resuming (before the first object): the folder to list, and the function that
        takes the names found there (files and crash leftovers) and continues after the
        highest sequence number of this stream among them."""
        self._resumed = True
        folder, pattern = self._template.matcher()

        def found(names: Iterable[str]) -> None:
            highest = -1
            for name in names:
                match = pattern.fullmatch(name)
                if match is not None:
                    highest = max(highest, int(match["seq"]))
            self._next_seq = max(self._next_seq, highest + 1)

        return folder, found

    def _next_name(self) -> tuple[int, datetime, str]:
        """The sequence number, date and name of the next object to open."""
        seq = self._next_seq
        now = self._now()
        return seq, now, self._template.render(seq, now)

    def _taken(self, seq: int, name: str) -> AlreadyExists | None:
        """The name of the next object exists: the error to raise (``if_exists="fail"``),
        or ``None`` to search for a free number."""
        if self._if_exists != "fail":
            return None
        return AlreadyExists(
            f"object {name!r} (seq {seq}) already exists; not overwriting it (if_exists='fail')",
            path=name,
            op="write",
        )

    def _free_seq(self, taken: int, now: datetime) -> Generator[str, bool, int]:
        """A free seq after ``taken`` whose predecessor is taken (gallop, then bisect).

        A generator: it yields the names to check and is sent whether each exists; its
        return value is the free sequence number.
        """
        render = self._template.render
        low, step = taken, 1
        while (yield render(taken + step, now)):
            low = taken + step
            step *= 2
        high = taken + step
        while high - low > 1:
            middle = (low + high) // 2
            if (yield render(middle, now)):
                low = middle
            else:
                high = middle
        return high

    def _opened(self, writer: Any, name: str, seq: int, now: datetime) -> OpenObject:
        """Make ``writer`` the open object ``seq`` (lock held)."""
        deadline = time.monotonic() + self._max_age if self._max_age is not None else 0.0
        obj = OpenObject(writer, name, seq, now, deadline)
        self._current = obj
        self._next_seq = seq + 1
        return obj

    # ------------------------------------------------------------ rotation

    def _chunk_size(self) -> int:
        """Records per write_many step: about what is left before ``max_bytes``.

        Read without the lock: it is an estimate (another thread may rotate
        meanwhile); the overshoot stays within one step.
        """
        if self._max_bytes is None:
            return CHUNK
        current = self._current
        left = self._max_bytes
        size = self._record_size
        if current is not None:
            left -= current.bytes_in
            if current.accepted and current.bytes_in:
                size = current.bytes_in / current.accepted
        if size <= 0:
            return 1  # nothing measured yet: the first record tells its size
        return max(1, min(CHUNK, int(left / size)))

    def _rotation_reason(self, obj: OpenObject) -> Reason | None:
        """Why ``obj`` must rotate now (a size or count limit), or ``None``."""
        if self._max_records is not None and obj.accepted >= self._max_records:
            return "max_records"
        if self._max_bytes is not None and obj.bytes_in >= self._max_bytes:
            return "max_bytes"
        return None

    def _detach(self, reason: Reason) -> tuple[OpenObject | None, OpenObject | None]:
        """Take the open object out (lock held): ``(to publish, to discard)``.

        An object that accepted nothing (its first record failed to encode) is to be
        discarded (aborted by the shell); its number is given back.
        """
        obj = self._current
        if obj is None:
            return None, None
        self._current = None
        if not obj.accepted:
            if self._next_seq == obj.seq + 1:
                self._next_seq = obj.seq
            return None, obj
        self._records += obj.accepted
        self._bytes_in_done += obj.bytes_in
        self._record_size = obj.bytes_in / obj.accepted
        obj.reason = reason
        obj.ticket = self._take_ticket()
        return obj, None

    def _take_ticket(self) -> int:
        ticket = self._tickets
        self._tickets += 1
        return ticket

    def _age_due(self) -> tuple[tuple[OpenObject | None, OpenObject | None], float | None]:
        """For the timer (lock held): the detached object to publish or discard now, or
        how long to wait (``None``: no open object)."""
        obj = self._current
        if obj is None:
            return (None, None), None
        left = obj.deadline - time.monotonic()
        if left > 0:
            return (None, None), left
        return self._detach("max_age"), None

    # ------------------------------------------------------------ outcomes

    def _died(self, obj: OpenObject, exc: BaseException) -> OpenObject:
        """The store failed while ``obj`` was written (lock held): count it as failed.

        The object's writer aborted itself; its accepted records are lost.
        Returns ``obj`` for the shell to report in its turn.
        """
        obj.error = exc
        obj.reason = "error"
        self._current = None
        self._records += obj.accepted
        self._bytes_in_done += obj.bytes_in
        self._failed_objects += 1
        self._failed_records += obj.accepted
        obj.ticket = self._take_ticket()
        return obj

    def _info(self, obj: OpenObject, error: BaseException | None) -> PublishInfo:
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

    def _outcome(self, info: PublishInfo) -> None:
        """Count a finished publish, or a failed one to report (lock held)."""
        if info.error is None:
            self._objects += 1
            self._published_records += info.records
            self._bytes_out += info.bytes_out
        else:
            self._failed_objects += 1
            self._failed_records += info.records
            self._failures.append(info)
            self._alert = True

    def _call_back(self, info: PublishInfo) -> Exception | None:
        """Run the callback for a finished object (``on_publish`` or ``on_failure``),
        without the lock; what it raised, for :meth:`_callback_failed` under the lock."""
        callback = self._on_publish if info.error is None else self._on_failure
        if callback is not None:
            try:
                callback(info)
            except Exception as exc:  # noqa: BLE001 - raised by the writer's next call
                return exc
        return None

    def _next_part(self, obj: OpenObject, chunk: list[Any], start: int) -> list[Any]:
        """The records of ``chunk`` from ``start`` that ``obj`` may take (lock held):
        all of them, or as many as ``max_records`` leaves room for."""
        room = len(chunk) - start
        if self._max_records is not None:
            room = min(room, self._max_records - obj.accepted)
        return chunk[start : start + room]

    def _callback_failed(self, exc: BaseException) -> None:
        """A callback raised (lock held): the writer's next call raises it."""
        self._callback_errors.append(exc)
        self._alert = True

    def _check_usable(self) -> None:
        """Raise for a closed writer or an unreported failure (lock held)."""
        if self._closing:
            raise StreamClosed(f"write to a closed {type(self).__name__} ({self.template!r})")
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

    def _stats(self) -> RollingStats:
        """A snapshot of the counters (lock held)."""
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

    def __del__(self) -> None:
        """A writer never closed warns (``ResourceWarning``) of the records it did not
        publish; its open object is aborted by that object's own writer."""
        if getattr(self, "_closing", True):
            return
        current = self._current
        if current is None:
            return
        warnings.warn(
            f"{type(self).__name__} {self.template!r} was never closed: "
            f"{current.writer.records} record(s) of {current.path!r} were not published",
            ResourceWarning,
            stacklevel=1,
        )


def discard_quietly(abort: Callable[[], object]) -> None:
    """Abort an object that holds nothing (nothing to lose, nothing to report)."""
    with contextlib.suppress(Exception):
        abort()
