"""AsyncRecordReader: an async store stream → codec → format → records.

The state and the decoding steps are :class:`~omnistorage.records._decoding.RecordDecoding`,
the same object the sync :class:`~omnistorage.records.RecordReader` is built on; this
class awaits the chunks it decodes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, Protocol, Unpack

from omnistorage.records._decoding import DecodingOptions, RecordDecoding

__all__ = ["AsyncRecordReader"]


class AsyncSource(Protocol):
    """What an AsyncRecordReader reads from: ``AsyncStore.read``'s stream."""

    async def read(self, size: int = -1, /) -> bytes: ...

    async def close(self) -> None: ...


class AsyncRecordReader(RecordDecoding[AsyncSource]):
    """Reads the records of one object: the async twin of
    :class:`~omnistorage.records.RecordReader` (read its docstring: bounded memory,
    typed errors for damaged input, recover mode, seals).

    Open one with :func:`omnistorage.aio.records.open_reader`, then ``async for record
    in reader`` (inside ``async with`` so the stream is closed), ``await read()`` (the
    next record or ``None``) or ``await read_batch()`` (the next records in bulk). It
    opens on ``async with``, ``await`` or the first read: that is where ``NotFound``
    and the seal check come. Decoding runs on the event loop in steps of about
    256 KiB of decompressed bytes. Not safe for concurrent use by several tasks.
    """

    __slots__ = ("_check_seal",)

    def __init__(
        self,
        source: AsyncSource,
        *,
        check_seal: Callable[[], Awaitable[bool]] | None = None,
        **options: Unpack[DecodingOptions],
    ) -> None:
        super().__init__(source, **options)
        self._check_seal = check_seal
        """Asks the store whether the object is marked sealed (``sealed=None``)."""

    # ------------------------------------------------------------ reading

    def __aiter__(self) -> AsyncRecordReader:
        return self

    async def __anext__(self) -> Any:
        pos = self._pos
        batch = self._batch
        if pos < len(batch):
            self._pos = pos + 1
            return batch[pos]
        if not await self._fill_until_records():
            raise StopAsyncIteration
        self._pos = 1
        return self._batch[0]

    async def read(self) -> Any:
        """The next record, or ``None`` at the end (an NDJSON ``null`` reads as ``None``
        too; iterate to tell them apart)."""
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            return None

    async def read_batch(self) -> list[Any]:
        """The next records in bulk (at least one), or ``[]`` at the end."""
        if self._pos >= len(self._batch) and not await self._fill_until_records():
            return []
        return self._take_batch()

    async def close(self) -> None:
        """Close the store stream. Idempotent."""
        if self._mark_closed():
            await self._source.close()

    async def _open(self) -> None:
        check, self._check_seal = self._check_seal, None
        if check is not None:
            try:
                sealed = await check()
            except BaseException as exc:
                self._failed(exc)
                raise
            self._require_seal(sealed)

    async def __aenter__(self) -> AsyncRecordReader:
        await self._open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __await__(self) -> Generator[Any, None, AsyncRecordReader]:
        return self.__aenter__().__await__()

    # ------------------------------------------------------------ internals

    async def _fill_until_records(self) -> bool:
        """Decode until records are available; False at the end."""
        if self._check_seal is not None:
            await self._open()
        self._begin_fill()
        while want := self._next_read():
            try:
                chunk = await self._source.read(want)
            except BaseException as exc:
                self._failed(exc)
                raise
            self._step(chunk)
        return bool(self._batch)
