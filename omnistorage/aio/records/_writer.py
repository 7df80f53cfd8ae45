"""AsyncRecordWriter: records → format → codec → an async store writer.

The encoding, batching, compression and sealing are the sync
:class:`~omnistorage.records.RecordWriter` itself, given an in-memory target (the
*outbox*) instead of a store writer: with no I/O to do, it is the I/O-free core. This
class sends what lands in the outbox to the store, awaiting each chunk, so the records
layer exists once and the async writer holds only the sends.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterable, Generator, Iterable
from itertools import islice
from typing import Any, Unpack

from omnistorage.aio._streams import AsyncAtomicWriter, finish_in_background
from omnistorage.compression import Codec, ZstdCodec
from omnistorage.errors import ConfigurationError
from omnistorage.records._tuning import (
    ENCODE_ERRORS,
)
from omnistorage.records._writer import RecordWriter, WriterOptions

__all__ = ["AsyncRecordWriter", "check_parallel"]

_STEP = 1024  # records per write_many step: the outbox is drained between steps


def check_parallel(codec: Codec, parallel: object) -> None:
    """``parallel=True`` works in async writers only where no Python thread is needed:
    zstd, compressed by libzstd's own worker threads."""
    if parallel is True and not isinstance(codec, ZstdCodec):
        raise ConfigurationError(
            f"parallel=True in omnistorage.aio.records needs the zstd codec (libzstd's "
            f"worker threads); {codec.name!r} compresses on the event loop, in steps of "
            "batch_bytes"
        )


class _Outbox:
    """The core writer's target: it keeps the compressed chunks for the async writer."""

    __slots__ = ("chunks",)

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes, /) -> int:
        self.chunks.append(data)
        return len(data)

    def close(self) -> None:
        return None

    def abort(self) -> None:
        self.chunks.clear()


class AsyncRecordWriter:
    """Writes records to one object: the async twin of :class:`~omnistorage.records.RecordWriter`.

    Open one with :func:`omnistorage.aio.records.open_writer`; use it as ``async with``.
    Records, batching, encoding errors, seals and counters are exactly those of the
    sync ``RecordWriter`` (read its docstring): ``write`` encodes the record at once
    (an encoding error raises there and only that record is dropped), compressed
    chunks of about ``write_size`` bytes are awaited into the store as they fill,
    ``close()`` seals and publishes. Compression runs on the event loop, in steps of
    ``batch_bytes`` (64 KiB: well under a millisecond with zstd); ``parallel=True``
    (zstd only) moves it to libzstd's worker threads (one unless the codec sets
    ``threads``). ``None`` (default) and ``False`` compress on the event loop.

    An exception or a cancellation inside the ``async with`` block aborts: nothing is
    published. A failure of the store aborts the object and every later call raises
    :class:`~omnistorage.errors.StreamClosed`. Not safe for concurrent use by several
    tasks (use :class:`~omnistorage.aio.records.AsyncRollingRecordWriter`, which is).
    """

    __slots__ = ("_core", "_outbox", "_result", "_shielded", "_target")

    def __init__(
        self,
        target: AsyncAtomicWriter,
        *,
        codec: Codec,
        parallel: bool | None = None,
        **options: Unpack[WriterOptions],
    ) -> None:
        check_parallel(codec, parallel)
        if parallel is True and isinstance(codec, ZstdCodec) and not codec.threads:
            codec = dataclasses.replace(codec, threads=1)  # libzstd's worker, no Python thread
        self._outbox = _Outbox()
        # The outbox is drained by the event loop: no Python thread (parallel=False).
        self._core = RecordWriter(self._outbox, codec=codec, parallel=False, **options)
        self._target = target
        self._result: Any = None
        self._shielded = False
        """Sends run to their end even if the caller is cancelled (the rolling writer)."""

    # ------------------------------------------------------------ counters

    @property
    def path(self) -> str:
        """The store-relative key being written."""
        return self._core.path

    @property
    def records(self) -> int:
        """Records accepted so far (buffered or written), rejected ones excluded."""
        return self._core.records

    @property
    def rejected(self) -> int:
        """Records dropped because they could not be encoded."""
        return self._core.rejected

    @property
    def bytes_in(self) -> int:
        """Encoded (uncompressed) bytes so far."""
        return self._core.bytes_in

    @property
    def bytes_out(self) -> int:
        """Compressed bytes produced so far (the object's size once closed)."""
        return self._core.bytes_out

    @property
    def closed(self) -> bool:
        """True once published, aborted or failed."""
        return self._core.closed

    # ------------------------------------------------------------ writing

    async def write(self, record: Any) -> None:
        """Encode ``record`` now; await the store when a chunk is ready.

        Raises:
            StreamClosed: the writer is closed, aborted or failed.
            DataError, TypeError: this record could not be encoded (it was not
                written; the writer stays usable).
            StorageError: the store failed (the object is aborted).
        """
        self._core.write(record)
        if self._outbox.chunks:
            await self._send()

    async def write_many(self, records: Iterable[Any] | AsyncIterable[Any]) -> None:
        """Write ``records`` (a sync or async iterable) in order, encoded in batches; as
        strict as :meth:`omnistorage.records.RecordWriter.write_many` about a record
        that cannot be encoded."""
        done = 0
        if isinstance(records, AsyncIterable):
            part: list[Any] = []
            async for record in records:
                part.append(record)
                if len(part) >= _STEP:
                    await self._write_part(part, done)
                    done += len(part)
                    part = []
            if part:
                await self._write_part(part, done)
            return
        iterator = iter(records)
        while part := list(islice(iterator, _STEP)):
            await self._write_part(part, done)
            done += len(part)

    async def _write_part(self, part: list[Any], done: int) -> None:
        """Encode ``part`` (records ``done`` onwards of the call), then send what is ready."""
        core = self._core
        before = core.records
        try:
            core._write_many(part)
        except ENCODE_ERRORS as exc:
            exc.add_note(
                f"write_many: record {done + core.records - before} of the call and the ones "
                f"after it were not written to {self.path!r}; the ones before it were"
            )
            raise
        finally:
            if self._outbox.chunks:
                await self._send()

    async def flush(self) -> None:
        """End the gzip member / zstd frame and hand every byte so far to the store
        (see :meth:`omnistorage.records.RecordWriter.flush`)."""
        self._core.flush()
        await self._send()
        await self._target.flush()

    async def close(self) -> Any:
        """Seal and publish the object; return the store's
        :class:`~omnistorage.models.WriteResult`. Closing again returns it again.

        Raises:
            StreamClosed: the writer was aborted or failed.
            DataError, TypeError: a queued record could not be encoded; the writer
                is *not* closed.
            StorageError: publishing failed (nothing was published).
        """
        if self._result is not None and self._core.closed:
            return self._result
        self._core.close()  # encodes and compresses the rest, appends the seal
        await self._send()
        self._result = await self._target.close()
        return self._result

    async def abort(self) -> None:
        """Discard the object: nothing is published. Idempotent."""
        self._core.abort()
        await self._target.abort()

    async def _send(self) -> None:
        """Send the compressed chunks waiting in the outbox, in order."""
        chunks = self._outbox.chunks
        if not chunks:
            return
        self._outbox.chunks = []
        if self._shielded:
            task = finish_in_background(self._send_chunks(chunks))
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                await asyncio.wait([task])  # the chunks go out; then the cancellation holds
                error = None if task.cancelled() else task.exception()
                if error is not None:
                    raise error from None  # the store failed meanwhile: that is what happened
                raise
        else:
            await self._send_chunks(chunks)

    async def _send_chunks(self, chunks: list[bytes]) -> None:
        try:
            for chunk in chunks:
                await self._target.write(chunk)
        except BaseException:
            self._core.abort()  # the target aborted itself: retire the core too
            raise

    async def __aenter__(self) -> AsyncRecordWriter:
        await self._target.__aenter__()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            self._core.abort()
            await self._target.__aexit__(exc_type)
            return
        try:
            await self.close()
        except BaseException as error:
            if not self.closed and isinstance(error, ENCODE_ERRORS):
                error.add_note(f"leaving the with block aborted {self.path!r}: nothing published")
            self._core.abort()
            await self._target.__aexit__(type(error))
            raise

    def __await__(self) -> Generator[Any, None, AsyncRecordWriter]:
        return self.__aenter__().__await__()

    def __del__(self) -> None:
        core = getattr(self, "_core", None)
        if core is not None and not core.closed:
            core.abort()  # no I/O; the store writer warns and aborts itself

    def __repr__(self) -> str:
        return f"AsyncRecordWriter({self.path!r}, records={self.records})"
