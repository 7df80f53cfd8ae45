"""The primitives :class:`~omnistorage.aio.AsyncStore` builds on: closing the driver,
file and folder existence, stat with its listing fallback, and the first entry of a
listing. Each maps native errors once, through the kernel's error boundary."""

# The source of omnistorage/_store_base.py: scripts/unasync.py writes it.  # async only

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Self

from omnistorage import paths
from omnistorage._kernel import StoreKernel
from omnistorage.aio._driver import AsyncBackend
from omnistorage.capabilities import Capability
from omnistorage.errors import ErrorKind, native_cause
from omnistorage.models import ObjectInfo

__all__ = ["AsyncStoreBase", "first"]


class AsyncStoreBase(StoreKernel[AsyncBackend]):
    """The kernel over a driver, plus the queries every Store method uses."""

    __slots__ = ()

    async def close(self) -> None:
        """Close the backend. Every store sharing it then raises ``BackendClosed``."""
        if not self._backend.closed:
            try:
                await self._backend.close()
            except Exception as exc:
                raise self._fail(exc, "close", None) from native_cause(exc)
            self._backend.closed = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

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
