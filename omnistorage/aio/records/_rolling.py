"""AsyncRollingRecordWriter: one record stream, many objects, rotated by size, count or
age, over an AsyncStore, with its age timer on the event loop.

The decisions — options, names, limits, sequence numbers and the search for a free
one, the publish order, counters, failures — are
:class:`~omnistorage.records._rolling_core.RollingCore`, the same code the sync
:class:`~omnistorage.records.RollingRecordWriter` runs; each object is an
:class:`~omnistorage.aio.records.AsyncRecordWriter`, itself the sync records writer
with its sends awaited. This module adds only the awaited I/O, an ``asyncio.Lock``
for the writing tasks and a timer scheduled with ``loop.call_later``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from datetime import timedelta
from itertools import islice
from typing import Any

from omnistorage.aio._store import AsyncStore
from omnistorage.aio._streams import finish_in_background
from omnistorage.aio.records._writer import AsyncRecordWriter, check_parallel
from omnistorage.records._open import sealed_metadata
from omnistorage.records._publish import PublishError, PublishInfo, Reason, RollingStats
from omnistorage.records._rolling_core import OpenObject, RollingCore

__all__ = ["AsyncRollingRecordWriter"]


class AsyncRollingRecordWriter(RollingCore[AsyncStore]):
    """Writes one record stream as a sequence of objects: the async twin of
    :class:`~omnistorage.records.RollingRecordWriter`.

    Example::

        async with AsyncRollingRecordWriter(
            store, "{prefix}/{date:%Y/%m/%d}/{stream}-{seq:020d}.ndjson.zst",
            prefix="logs", stream="api", max_bytes=64 << 20, max_age=60,
        ) as out:
            await out.write({"level": "info", "message": "started"})

    Rotation (``max_bytes``, ``max_records``, ``max_age``), names, restarts
    (``if_exists``), failures (:class:`~omnistorage.records.PublishError`, raised by the
    call during which they happened or by the next one), callbacks, counters
    (:meth:`stats`) and what a returned ``write`` means are exactly the sync writer's:
    read its docstring. What differs:

    - The age timer runs on the event loop (``loop.call_later``), not in a thread: an
      idle stream still publishes its last records on time, as long as the loop runs.
      Callbacks run on the loop, in sequence order.
    - Any number of tasks of one loop may write at once; an ``asyncio.Lock`` orders
      them, and objects are published one at a time, in sequence order.
    - Cancellation never loses acknowledged records: a ``write`` cancelled while its
      chunk goes to the store lets that chunk finish (the record is then accepted)
      and raises ``CancelledError``; a publish, once started, runs to its end. Leaving
      the ``async with`` block, even by an exception or a cancellation, publishes the
      open object, because its records were acknowledged.
    - ``parallel=True`` needs zstd (libzstd's threads); other codecs compress on the
      loop in steps of ``batch_bytes``.
    """

    def _started(self) -> None:
        check_parallel(self._codec, self._writer_options["parallel"])
        self._lock = asyncio.Lock()
        self._turn = asyncio.Condition()
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------ public API

    async def write(self, record: Any) -> None:
        """Write one record (encoded now: an encoding error raises here).

        Raises as :meth:`omnistorage.records.RollingRecordWriter.write`.
        """
        detached: OpenObject | None = None
        dead: OpenObject | None = None
        async with self._lock:
            if self._alert:
                self._check_usable()
            obj = self._current or await self._open()
            writer = obj.writer
            try:
                await writer.write(record)
            except BaseException as exc:
                if writer.closed:  # the store failed: the record was taken, the object is lost
                    obj.accepted += 1
                    dead = self._died(obj, exc)
                elif isinstance(exc, asyncio.CancelledError):
                    obj.accepted += 1  # encoded and kept; cancelled while a chunk went out
                    raise
                else:
                    raise  # the record cannot be encoded: not accepted
            else:
                obj.accepted += 1
                core = writer._core
                if obj.accepted >= self._limit_records or core.bytes_in >= self._limit_bytes:
                    detached = await self._rotation_due(obj)
        if dead is not None:
            await self._report_death(dead)
        if detached is not None:
            await self._publish_now(detached)

    async def write_many(self, records: Iterable[Any] | AsyncIterable[Any]) -> None:
        """Write ``records`` (a sync or async iterable) in order, in batches, as
        :meth:`omnistorage.records.RollingRecordWriter.write_many` does: rotation
        between batches, exactly at ``max_records``; if an error stops the call, the
        records before the failing point are written (the note says how many)."""
        done = 0
        try:
            async for chunk in self._chunks(records):
                start = 0
                while start < len(chunk):
                    detached: OpenObject | None = None
                    dead: OpenObject | None = None
                    async with self._lock:
                        self._check_usable()
                        obj = self._current or await self._open()
                        part = self._next_part(obj, chunk, start)
                        writer = obj.writer
                        before = writer.records
                        try:
                            await writer.write_many(part)
                        except BaseException as exc:
                            # The records before the failing point were taken (all of
                            # them when a cancellation came while a chunk went out).
                            taken = writer.records - before
                            obj.accepted += taken
                            if not writer.closed:
                                done += taken
                                raise
                            dead = self._died(obj, exc)
                        else:
                            obj.accepted += len(part)
                            done += len(part)
                            detached = await self._rotation_due(obj)
                    if dead is not None:
                        await self._report_death(dead)
                    start += len(part)
                    if detached is not None:
                        await self._publish_now(detached)
        except BaseException as exc:
            if done:
                exc.add_note(f"write_many: {done} record(s) of this call were accepted")
            raise

    async def _chunks(
        self, records: Iterable[Any] | AsyncIterable[Any]
    ) -> AsyncIterator[list[Any]]:
        """``records`` in chunks of about what is left before ``max_bytes``."""
        if isinstance(records, AsyncIterable):
            chunk: list[Any] = []
            async for record in records:
                chunk.append(record)
                if len(chunk) >= self._chunk_size():
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk
            return
        iterator = iter(records)
        while chunk := list(islice(iterator, self._chunk_size())):
            yield chunk

    async def rotate(self) -> PublishInfo | None:
        """Finish and publish the open object now; ``None`` if no object is open.

        Raises:
            PublishError: this or an earlier object failed.
        """
        async with self._lock:
            self._check_usable()
            detached = await self._take("rotate")
        if detached is None:
            return None
        return await self._publish_now(detached)

    async def close(self) -> None:
        """Publish the open object, stop the timer, wait for publishes in flight.

        Idempotent. Raises :class:`~omnistorage.records.PublishError` for failures not
        raised yet (the writer is closed anyway).
        """
        async with self._lock:
            if self._closing:
                return
            self._closing = self._alert = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            detached = await self._take("close")
        if detached is not None:
            await self._publish(detached)
        async with self._turn:
            await self._turn.wait_for(lambda: self._serving >= self._tickets)
        self._closed = True
        self._raise_deferred()

    def stats(self) -> RollingStats:
        """A consistent snapshot of the counters (no I/O)."""
        return self._stats()

    async def __aenter__(self) -> AsyncRollingRecordWriter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ------------------------------------------------------------ internals

    async def _take(self, reason: Reason) -> OpenObject | None:
        """Detach the open object for publishing (lock held); abort one that is empty."""
        detached, empty = self._detach(reason)
        if empty is not None:
            with contextlib.suppress(Exception):  # nothing to lose
                await empty.writer.abort()
        return detached

    async def _rotation_due(self, obj: OpenObject) -> OpenObject | None:
        reason = self._rotation_reason(obj)
        return None if reason is None else await self._take(reason)

    async def _wait_turn(self, ticket: int) -> None:
        async with self._turn:
            await self._turn.wait_for(lambda: self._serving == ticket)

    async def _served(self) -> None:
        async with self._turn:
            self._serving += 1
            self._turn.notify_all()

    async def _report_death(self, obj: OpenObject) -> None:
        """Report an object that died while written, in its turn; raise PublishError
        (or the cancellation that killed it, the loss then reported by the next call)."""
        await self._wait_turn(obj.ticket)
        info = self._info(obj, obj.error)
        try:
            if self._on_failure is not None:
                self._on_failure(info)
        except Exception as exc:  # noqa: BLE001 - raised by the writer's next call
            self._callback_failed(exc)
        finally:
            await self._served()
        if not isinstance(obj.error, Exception):
            self._failures.append(info)  # the next call reports the lost records
            self._alert = True
            assert obj.error is not None
            raise obj.error
        raise PublishError((info,)) from obj.error

    async def _resume(self) -> None:
        """Continue after the highest sequence this stream already used (lock held)."""
        folder, found = self._resume_scan()
        names = [info.path async for info in self._store.list_files(folder, recursive=True)]
        with contextlib.suppress(Exception):  # leftovers are a refinement, never a failure
            report = await self._store.cleanup(folder, older_than=timedelta(0), dry_run=True)
            names += [item.key for item in report.removed]
        found(names)

    async def _open(self) -> OpenObject:
        """Open the next object (lock held)."""
        if not self._resumed:
            await self._resume()
        seq, now, name = self._next_name()
        store = self._store
        if await store.is_file(name):
            error = self._taken(seq, name)
            if error is not None:
                raise error
            search = self._free_seq(seq, now)
            try:
                exists = await store.is_file(next(search))
                while True:
                    exists = await store.is_file(search.send(exists))
            except StopIteration as stop:
                seq = stop.value
            name = self._template.render(seq, now)
        metadata = sealed_metadata(store, self._codec, True, self._metadata)
        target = store.open_writer(
            name, overwrite=False, content_type=self._content_type, metadata=metadata
        )
        writer = AsyncRecordWriter(
            target, format=self._format, codec=self._codec, path=name, **self._writer_options
        )
        writer._shielded = True
        await writer.__aenter__()  # the store writer opens now, as the sync writer's does
        obj = self._opened(writer, name, seq, now)
        self._arm_timer(obj.deadline)
        return obj

    async def _publish_now(self, obj: OpenObject) -> PublishInfo:
        """Publish ``obj`` for the calling task; a failure is raised right away."""
        info = await self._publish(obj)
        if info.error is not None:
            self._raise_deferred()
        return info

    async def _publish(self, obj: OpenObject) -> PublishInfo:
        """Finish and publish ``obj`` in its turn, to its end even if the caller is
        cancelled meanwhile (its records were acknowledged)."""
        task = finish_in_background(self._publish_in_turn(obj))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            await asyncio.wait([task])
            raise

    async def _publish_in_turn(self, obj: OpenObject) -> PublishInfo:
        await self._wait_turn(obj.ticket)
        try:
            writer = obj.writer
            error: BaseException | None = None
            try:
                await writer.close()
            except BaseException as exc:  # noqa: BLE001 - counted and reported as a failure
                error = exc
                with contextlib.suppress(Exception):  # the publish error is the one to report
                    await writer.abort()
            info = self._info(obj, error)
            self._outcome(info)
            raised = self._call_back(info)
            if raised is not None:
                self._callback_failed(raised)
            return info
        finally:
            await self._served()

    # ------------------------------------------------------------ the age timer

    def _arm_timer(self, deadline: float) -> None:
        """Wake up at ``deadline`` (``time.monotonic``) unless a wake-up is set already."""
        if self._max_age is None or self._timer is not None or self._closing:
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(max(0.0, deadline - time.monotonic()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if not self._closing:
            task = asyncio.ensure_future(self._age_rotation())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _age_rotation(self) -> None:
        """Publish the open object if it is ``max_age`` old, else wake up again then."""
        async with self._lock:
            if self._closing:
                return
            (detached, empty), wait = self._age_due()
            if empty is not None:
                with contextlib.suppress(Exception):  # nothing to lose
                    await empty.writer.abort()
            if wait is not None:
                self._arm_timer(time.monotonic() + wait)
                return
        if detached is not None:
            await self._publish(detached)  # a failure is reported by the next call
