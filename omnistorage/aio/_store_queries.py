"""Queries, listings and deletes of :class:`~omnistorage.aio.AsyncStore`: existence,
file and folder info, folder-aware listings that skip foreign keys, glob, delete and
ping."""

# The source of omnistorage/_store_queries.py: scripts/unasync.py writes it.  # async only

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from omnistorage import paths
from omnistorage._content import rebase
from omnistorage._glob import has_magic
from omnistorage._listing import ForeignKeys, OnInvalid, file_filter, folder_filter
from omnistorage.aio._listing import AsyncListing
from omnistorage.aio._store_base import first
from omnistorage.aio._store_ops import AsyncStoreOps
from omnistorage.capabilities import Capability
from omnistorage.errors import native_cause
from omnistorage.models import FolderInfo, ObjectInfo

__all__ = ["AsyncStoreQueries"]


class AsyncStoreQueries(AsyncStoreOps):
    """Queries, listings and deletes (see the module docstring)."""

    __slots__ = ()

    # ------------------------------------------------------------------ queries

    async def exists(self, path: str) -> bool:
        """True when a file or a folder exists at ``path`` (``""``, the root, always does).

        A missing bucket or container is no answer: it raises
        :class:`~omnistorage.errors.BucketNotFound`, as ``is_file`` does."""
        if path == "":
            self._check_open()
            return True
        key = self._key(path, None, "exists")
        return await self._exists_file(key, path) or await self._folder_exists(key, path)

    async def is_file(self, path: str) -> bool:
        """True when a file exists at ``path``."""
        return await self._exists_file(self._key(path, None, "exists"), path)

    async def is_folder(self, path: str) -> bool:
        """True when ``path`` is a folder: it holds files, or (``MKDIR``) it exists empty."""
        folder = self._folder_key(path)
        if folder == "" and self._root == "":
            return True
        return await self._folder_exists(folder, path)

    async def get_file_info(self, path: str) -> ObjectInfo:
        """Size, mtime, hashes … of the file at ``path``; ``NotFound`` if there is none."""
        key = self._key(path, None, "stat")
        info = await self._stat_file(key, path)
        if info is None:
            raise self._not_found("stat", path)
        return rebase(info, path)

    async def get_folder_info(self, path: str = "") -> FolderInfo:
        """File count, total size and latest mtime below the folder ``path`` (recursive).

        Files whose size is not known without producing them (``ObjectInfo.size``
        ``None``) count as files but add nothing to ``total_size``.
        """
        count = total = 0
        latest: datetime | None = None
        async for info in self.list_files(path, recursive=True):
            count += 1
            total += info.size or 0
            if info.modified is not None and (latest is None or info.modified > latest):
                latest = info.modified
        if count == 0 and not await self.is_folder(path):
            raise self._not_found("stat", path)
        return FolderInfo(
            path=paths.validate_folder(path), file_count=count, total_size=total, modified=latest
        )

    # ------------------------------------------------------------------ listing

    def list_files(
        self,
        path: str = "",
        *,
        recursive: bool = False,
        pattern: str | None = None,
        max_depth: int | None = None,
        on_invalid: OnInvalid | None = None,
    ) -> AsyncListing[ObjectInfo]:
        """Files in the folder ``path``, lazily, in no particular order.

        ``recursive`` descends into sub-folders, at most ``max_depth`` levels
        below ``path`` (1 = only ``path`` itself). ``pattern`` is a glob the
        file *name* must match. Returned paths are relative to this store.

        Only valid keys are yielded. A listed name the key grammar refuses (a
        foreign key another tool wrote: ``a//b``, ``../x``, a tab) is skipped,
        logged at WARNING, counted on the returned :class:`AsyncListing`
        (``invalid_count``, ``invalid``) and passed to ``on_invalid``.
        """
        if max_depth is not None and max_depth < 1:
            raise ValueError(f"max_depth must be >= 1, got {max_depth}")
        folder = self._folder_key(path, Capability.LIST, "list")
        shallow = not recursive or max_depth == 1
        foreign = ForeignKeys(self._backend.name, on_invalid)
        return AsyncListing(
            self._list_files(folder, path, shallow, pattern, max_depth, foreign), foreign
        )

    async def _list_files(
        self,
        folder: str,
        path: str,
        shallow: bool,
        pattern: str | None,
        max_depth: int | None,
        foreign: ForeignKeys,
    ) -> AsyncIterator[ObjectInfo]:
        prefix = paths.folder_prefix(folder)
        accept = file_filter(
            prefix, len(self._prefix), pattern=pattern, max_depth=max_depth, foreign=foreign
        )
        try:
            async for info in self._backend.list(prefix, recursive=not shallow):
                found = accept(info)
                if found is not None:
                    yield found
        except Exception as exc:
            raise self._fail(exc, "list", path) from native_cause(exc)

    def list_folders(
        self, path: str = "", *, on_invalid: OnInvalid | None = None
    ) -> AsyncListing[str]:
        """The immediate sub-folders of ``path``, as store-relative paths, lazily.

        Folder names outside the key grammar are skipped and reported as in
        :meth:`list_files`.
        """
        folder = self._folder_key(path, Capability.LIST, "list")
        foreign = ForeignKeys(self._backend.name, on_invalid)
        return AsyncListing(self._list_folders(folder, path, foreign), foreign)

    async def _list_folders(
        self, folder: str, path: str, foreign: ForeignKeys
    ) -> AsyncIterator[str]:
        prefix = paths.folder_prefix(folder)
        accept = folder_filter(prefix, len(self._prefix), foreign)
        try:
            async for info in self._backend.list(prefix, recursive=False):
                found = accept(info)
                if found is not None:
                    yield found
        except Exception as exc:
            raise self._fail(exc, "list", path) from native_cause(exc)

    def glob(
        self, pattern: str, *, on_invalid: OnInvalid | None = None
    ) -> AsyncListing[ObjectInfo]:
        """Files whose store-relative path matches ``pattern``.

        ``*``, ``?`` and ``[...]`` match within one segment; a ``**`` segment
        matches any number of segments. Foreign keys are skipped and reported
        as in :meth:`list_files`.
        """
        self._require(Capability.LIST, "glob", pattern)
        foreign = ForeignKeys(self._backend.name, on_invalid)
        if not has_magic(pattern):
            self._key(pattern, None, "exists")
            return AsyncListing(self._glob_one(pattern), foreign)
        base, regex, levels = self._glob_plan(pattern)
        folder = self._folder_key(base, Capability.LIST, "glob")
        files = self._list_files(folder, base, levels == 1, None, levels, foreign)

        async def matches() -> AsyncIterator[ObjectInfo]:
            async for info in files:
                if regex.fullmatch(info.path) is not None:
                    yield info

        return AsyncListing(matches(), foreign)

    async def _glob_one(self, path: str) -> AsyncIterator[ObjectInfo]:
        if await self.is_file(path):
            yield await self.get_file_info(path)

    # ------------------------------------------------------------------ changes

    async def delete(
        self, path: str, *, missing_ok: bool = False, if_version: str | None = None
    ) -> None:
        """Delete the file at ``path``; ``NotFound`` if there is none, unless ``missing_ok``.

        With ``if_version`` (a ``WriteResult.version``; needs ``CONDITIONAL_DELETE``) the
        file goes only while it is still that version, atomically against other writers:
        another version there raises ``PreconditionFailed`` and is left alone.
        """
        key = self._key(path, Capability.DELETE, "delete")
        if if_version is not None:
            self._require(Capability.CONDITIONAL_DELETE, "delete", path)
        if not missing_ok and not await self._exists_file(key, path):
            raise self._not_found("delete", path)
        try:
            if if_version is None:
                await self._backend.delete(key)
            else:
                await self._backend.delete_version(key, if_version)
        except Exception as exc:
            raise self._fail(exc, "delete", path) from native_cause(exc)

    # ------------------------------------------------------------------ plumbing

    async def ping(self) -> None:
        """Check the backend answers (one cheap listing call; without ``LIST``, asking
        whether a reserved name exists); raises if it does not."""
        self._check_open()
        try:
            if Capability.LIST in self._caps:
                await first(self._backend.list(self._prefix, recursive=False))
            else:
                await self._backend.exists(self._ping_key())
        except Exception as exc:
            raise self._fail(exc, "ping", None) from native_cause(exc)
