"""The awaited primitives :class:`~omnistorage.aio.AsyncStore` builds on: file and folder
existence, stat with its listing fallback, the first entry of a listing, and the spooled
pin for drivers without ``PINNED_READ``. Each maps native errors once, through the
kernel's error boundary."""

from __future__ import annotations

from collections.abc import AsyncIterator

from omnistorage import paths
from omnistorage._io import SpooledPinned
from omnistorage._kernel import StoreKernel
from omnistorage.aio._driver import AsyncBackend, AsyncPinnedReader, AsyncReader
from omnistorage.aio._streams import CHUNK
from omnistorage.capabilities import Capability
from omnistorage.errors import ErrorKind, native_cause
from omnistorage.models import ObjectInfo

__all__ = ["AsyncStoreBase", "first", "spool"]


class AsyncStoreBase(StoreKernel[AsyncBackend]):
    """The kernel plus the awaited queries every AsyncStore method uses."""

    __slots__ = ()

    async def _exists_file(self, key: str, path: str) -> bool:
        try:
            return await self._backend.exists(key)
        except Exception as exc:
            raise self._fail(exc, "exists", path) from native_cause(exc)

    async def _stat_file(self, key: str, path: str) -> ObjectInfo | None:
        """Info for a file, or None when there is none (uses stat, else a listing)."""
        backend = self._backend
        if Capability.METADATA in self._caps:
            try:
                info = await backend.stat(key)
            except Exception as exc:
                if self._is_kind(exc, ErrorKind.NOT_FOUND):
                    return None
                raise self._fail(exc, "stat", path) from native_cause(exc)
            return None if info.is_dir else info
        try:
            prefix = paths.folder_prefix(paths.parent(key))
            async for info in backend.list(prefix, recursive=False):
                if info.path == key and not info.is_dir:
                    return info
        except Exception as exc:
            raise self._fail(exc, "stat", path) from native_cause(exc)
        return None

    async def _folder_exists(self, folder: str, path: str) -> bool:
        backend = self._backend
        try:
            if Capability.MKDIR in self._caps:
                try:
                    return (await backend.stat(folder)).is_dir
                except Exception as exc:
                    if self._is_kind(exc, ErrorKind.NOT_FOUND):
                        return False
                    raise
            prefix = paths.folder_prefix(folder)
            async for info in backend.list(prefix, recursive=True):
                if info.path.startswith(prefix) or (info.is_dir and info.path == folder):
                    return True
            return False
        except Exception as exc:
            raise self._fail(exc, "exists", path) from native_cause(exc)


async def first(items: AsyncIterator[ObjectInfo]) -> ObjectInfo | None:
    """The first item of a driver listing (or ``None``); the listing is closed after."""
    try:
        async for info in items:
            return info
        return None
    finally:
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()


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
