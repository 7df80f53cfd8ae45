"""The fallback pin of :class:`~omnistorage.aio.AsyncStore` for drivers without
``PINNED_READ``: one streaming read into a spooled temporary file, read back by range."""

from __future__ import annotations

from omnistorage._io import SpooledPinned
from omnistorage.aio._driver import AsyncPinnedReader, AsyncReader
from omnistorage.aio._streams import CHUNK

__all__ = ["spool"]


async def spool(source: AsyncReader) -> AsyncPinnedReader:
    """The fallback pin without ``PINNED_READ``: one streaming read into a spooled
    temporary file (memory up to 1 MiB, then disk), read back range by range."""
    spooled = SpooledPinned()
    try:
        while chunk := await source.read(CHUNK):
            spooled.append(chunk)
    except BaseException:
        spooled.close()
        raise
    return _SpooledAsync(spooled)


class _SpooledAsync(AsyncPinnedReader):
    def __init__(self, spooled: SpooledPinned) -> None:
        self._spooled = spooled
        self.size = spooled.size

    async def read_range(self, offset: int, length: int) -> bytes:
        return self._spooled.read_range(offset, length)

    async def close(self) -> None:
        self._spooled.close()
