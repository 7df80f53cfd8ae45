"""The async :class:`AsyncStore`: the Store contract over an async driver.

Everything the contract decides without I/O — the key grammar and the root,
capability checks before any I/O, the one error boundary, write options, native
paths, ``unwrap`` — is :class:`omnistorage._kernel.StoreKernel`, shared with the sync
:class:`omnistorage.Store`; listings go through the same filters
(:mod:`omnistorage._listing`) and leftovers through the same partition
(:mod:`omnistorage._folders`). This class holds the awaited I/O only, step for step
the sync Store's, and the conformance suite runs through it
(``tests/aio/test_conformance.py``).
"""

from __future__ import annotations

from omnistorage import paths
from omnistorage._kernel import WritePlan
from omnistorage.aio._driver import AsyncBackend, AsyncPinnedReader, AsyncReader, AsyncWriter
from omnistorage.aio._spool import spool
from omnistorage.aio._store_objects import AsyncStoreObjects
from omnistorage.aio._streams import (
    AsyncAtomicWriter,
    AsyncReadStream,
    AsyncSeekableReader,
)
from omnistorage.capabilities import Capability

__all__ = ["AsyncStore"]


class AsyncStore(AsyncStoreObjects):
    """A folder inside an async driver, with the whole omnistorage contract.

    The async twin of :class:`omnistorage.Store`: the same methods with the same
    parameters and the same guarantees (one key grammar, atomic and create-only
    writes, folder-aware listings that skip foreign keys, typed errors with the
    native cause, no secrets in messages). Methods that do I/O are coroutines;
    those that hand out a stream or a listing are plain methods that check the key
    and the capabilities at once and return an object opened by ``async with``,
    ``await`` or its first use (:meth:`read`, :meth:`read_seekable`,
    :meth:`open_atomic`, :meth:`open_writer`, :meth:`list_files`,
    :meth:`list_folders`, :meth:`glob`); methods without I/O stay plain
    (:meth:`supports`, :meth:`child`, :meth:`resolve`, :meth:`native_path`,
    :meth:`to_key`, :meth:`unwrap`). Immutable and cheap; children share the driver.

    Any sync driver works through :class:`~omnistorage.aio.SyncBackendAdapter`::

        store = AsyncStore(SyncBackendAdapter(LocalBackend(root="/data")))

    Args:
        backend: the async driver. The store does not copy it; children share it.
        root: a folder path inside the backend (``""`` is the backend's root).
    """

    __slots__ = ()

    _DRIVER = AsyncBackend
    _OTHER_DRIVER = "wrap a sync backend in omnistorage.aio.SyncBackendAdapter"

    def child(self, path: str) -> AsyncStore:
        """A store rooted at the folder ``path`` below this one, sharing the backend."""
        self._check_open()
        return AsyncStore(self._backend, paths.join(self._root, paths.validate_folder(path)))

    # ------------------------------------------------------------------ reads

    def read(self, path: str) -> AsyncReadStream:
        """A streaming read of ``path``: ``async for chunk in store.read(path)``, or
        ``async with store.read(path) as stream: await stream.read(n)``.

        The key and ``READ`` are checked now; ``NotFound`` comes at open or at the first
        read.
        """
        key = self._key(path, Capability.READ, "read")
        backend = self._backend

        async def opener() -> AsyncReader:
            return await backend.new_reader(key)

        return AsyncReadStream(opener, self._fail, path)

    def read_seekable(self, path: str) -> AsyncSeekableReader:
        """A seekable reader over ONE version of ``path``; open it with ``async with``
        or ``await``.

        With ``PINNED_READ`` the driver pins the version there at open (ETag,
        generation, open handle) and every range read checks it: an overwrite or a
        delete makes reads raise :class:`~omnistorage.errors.ChangedDuringRead`.
        Without it, the object is streamed once into a spooled temporary file (memory
        up to 1 MiB, then disk) at open: one version by construction. ``NotFound``
        at open when there is no file.
        """
        key = self._key(path, Capability.READ, "read")
        backend = self._backend
        pinned_read = Capability.PINNED_READ in self._caps

        async def opener() -> AsyncPinnedReader:
            if pinned_read:
                return await backend.open_pinned(key)
            source = await backend.new_reader(key)
            try:
                return await spool(source)
            finally:
                await source.close()

        return AsyncSeekableReader(opener, self._fail, path)

    # ------------------------------------------------------------------ writes

    def _open_writer(self, path: str, plan: WritePlan) -> AsyncAtomicWriter:
        """A writer for a checked write, opened by ``async with``, ``await`` or its first
        use."""

        async def opener() -> AsyncWriter:
            # Without CONDITIONAL_WRITE create-only is check-then-write (a documented race).
            if plan.check_first and await self._exists_file(plan.key, path):
                raise self._already_exists("write", path)
            return await self._backend.new_writer(plan.key, plan.options)

        return AsyncAtomicWriter(opener, self._fail, path, hashes=plan.kinds)
