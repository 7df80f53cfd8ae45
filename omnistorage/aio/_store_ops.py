"""Folder operations and transfers of :class:`~omnistorage.aio.AsyncStore`: deleting and
making folders, cleaning up what crashed writers left, copy and move (server-side where
the driver declares it, else by streaming)."""

# The source of omnistorage/_store_ops.py: scripts/unasync.py writes it.  # async only

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from omnistorage import paths
from omnistorage._folders import DEFAULT_CLEANUP_AGE, partition_leftovers
from omnistorage._kernel import WritePlan
from omnistorage._listing import ForeignKeys, deletable
from omnistorage.aio._store_base import AsyncStoreBase, first
from omnistorage.aio._streams import CHUNK, AsyncAtomicWriter
from omnistorage.capabilities import Capability
from omnistorage.errors import StorageError, native_cause
from omnistorage.models import CleanupReport, Leftover

__all__ = ["AsyncStoreOps"]

_DELETE_BATCH = 1000


class AsyncStoreOps(AsyncStoreBase):
    """Folder operations and transfers (see the module docstring)."""

    __slots__ = ()

    if TYPE_CHECKING:

        def _open_writer(self, path: str, plan: WritePlan) -> AsyncAtomicWriter: ...

    async def delete_folder(
        self, path: str, *, recursive: bool = False, missing_ok: bool = False
    ) -> None:
        """Delete the folder ``path``.

        Without ``recursive`` the folder must be empty (``DirectoryNotEmpty``
        otherwise). ``NotFound`` when there is no such folder, unless
        ``missing_ok``. Empty sub-folders and folder markers go too, and so do
        the leftovers of crashed writers below it (temp files, incomplete
        uploads: see :meth:`cleanup`). Entries whose names are not valid keys
        (written by other tools) are never touched: if any remain, the files
        that could be deleted are, and ``DirectoryNotEmpty`` names them.
        """
        folder = self._folder_key(path, Capability.DELETE, "delete")
        if not await self._folder_exists(folder, path):
            if missing_ok:
                return
            raise self._not_found("delete", path)
        prefix = paths.folder_prefix(folder)
        backend = self._backend
        foreign = ForeignKeys(backend.name, None)
        try:
            if recursive:
                batch: list[str] = []
                accept = deletable(prefix, len(self._prefix), foreign)
                async for info in backend.list(prefix, recursive=True):
                    key = accept(info)
                    if key is None:
                        continue
                    batch.append(key)
                    if len(batch) >= _DELETE_BATCH:
                        await backend.delete_many(batch)
                        batch = []
                if batch:
                    await backend.delete_many(batch)
            elif await first(backend.list(prefix, recursive=False)) is not None:
                raise self._not_empty(path)
            if foreign.count:
                raise self._foreign_left(path, foreign)
            for leftover in await backend.list_leftovers(prefix):
                await backend.remove_leftover(leftover)
            if Capability.MKDIR in self._caps:
                await self._remove_dirs(folder)
        except StorageError:
            raise
        except Exception as exc:
            raise self._fail(exc, "delete", path) from native_cause(exc)

    async def _remove_dirs(self, folder: str) -> None:
        """Remove the (file-free) folder and its sub-folders, deepest first."""
        subfolders = [
            info.path.rstrip("/")
            async for info in self._backend.list(paths.folder_prefix(folder), recursive=False)
            if info.is_dir
        ]
        for sub in subfolders:
            await self._remove_dirs(sub)
        if folder:
            await self._backend.rmdir(folder)

    async def make_folder(self, path: str) -> None:
        """Create the folder ``path`` (and its parents) so it exists while empty.

        Requires ``MKDIR``: a real directory (local, SFTP) or a zero-size
        ``path/`` folder marker (S3, GCS, Azure). An existing folder is fine;
        ``AlreadyExists`` when a file stands at ``path``. Without ``MKDIR``
        folders exist only while they hold files, and this raises
        ``CapabilityNotSupported`` before any I/O.
        """
        folder = self._folder_key(path, Capability.MKDIR, "mkdir")
        if not folder:
            return
        if await self._exists_file(folder, path):
            raise self._already_exists("mkdir", path)
        try:
            await self._backend.mkdir(folder)
        except Exception as exc:
            raise self._fail(exc, "mkdir", path) from native_cause(exc)

    async def cleanup(
        self,
        path: str = "",
        *,
        older_than: timedelta = DEFAULT_CLEANUP_AGE,
        dry_run: bool = False,
    ) -> CleanupReport:
        """Remove what crashed writers left below the folder ``path``, and say what it was.

        A writer killed before ``close()`` or ``abort()`` can leave data the
        Store API never shows: temp files (local, SFTP), incomplete multipart
        uploads (S3), uncommitted blocks (Azure). GCS keeps nothing listable.
        Leftovers that started less than ``older_than`` ago may belong to a
        writer that is still running and are kept (pass ``timedelta(0)`` when
        no writer can be running). ``dry_run`` removes nothing and reports what
        would go. A leftover that cannot be removed is reported in ``errors``;
        the rest still go. Keys in the report are relative to this store.
        """
        folder = self._folder_key(path, None, "cleanup")
        backend = self._backend
        try:
            found = list(await backend.list_leftovers(paths.folder_prefix(folder)))
        except Exception as exc:
            raise self._fail(exc, "cleanup", path) from native_cause(exc)
        old, kept = partition_leftovers(found, self._root, older_than)
        removed: list[Leftover] = []
        errors: list[tuple[str, str]] = []
        for leftover, shown in old:
            if not dry_run:
                try:
                    await backend.remove_leftover(leftover)
                except Exception as exc:
                    errors.append((leftover.native, str(self._fail(exc, "cleanup", shown.key))))
                    continue
            removed.append(shown)
        return CleanupReport(removed=tuple(removed), kept=tuple(kept), errors=tuple(errors))

    async def copy(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        """Copy the file ``src`` to ``dst`` (server-side with ``COPY``, else by streaming)."""
        await self._transfer("copy", src, dst, overwrite)

    async def move(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        """Move the file ``src`` to ``dst`` (server-side with ``MOVE``, else copy + delete)."""
        await self._transfer("move", src, dst, overwrite)

    async def _transfer(self, op: str, src: str, dst: str, overwrite: bool) -> None:
        src_key, dst_key = self._transfer_keys(op, src, dst)
        if not await self._exists_file(src_key, src):
            raise self._not_found(op, src)
        if src_key == dst_key:
            if not overwrite:
                raise self._already_exists(op, dst)
            return
        native = Capability.COPY if op == "copy" else Capability.MOVE
        backend = self._backend
        if native in self._caps:
            if (
                not overwrite
                and Capability.CONDITIONAL_WRITE not in self._caps
                and await self._exists_file(dst_key, dst)
            ):
                raise self._already_exists(op, dst)
            try:
                if op == "copy":
                    await backend.copy(src_key, dst_key, overwrite=overwrite)
                else:
                    await backend.move(src_key, dst_key, overwrite=overwrite)
            except Exception as exc:
                raise self._fail(exc, op, dst) from native_cause(exc)
            return
        if op == "move" and Capability.COPY in self._caps:
            # No native move, but a server-side copy: copy there, then delete the source.
            await self._transfer("copy", src, dst, overwrite)
        else:
            await self._stream_copy(src, src_key, dst, overwrite)
        if op == "move":
            try:
                await backend.delete(src_key)
            except Exception as exc:
                raise self._fail(exc, op, src) from native_cause(exc)

    async def _stream_copy(self, src: str, src_key: str, dst: str, overwrite: bool) -> None:
        info = await self._stat_file(src_key, src) if Capability.METADATA in self._caps else None
        content_type = (
            info.content_type if info and self.supports(Capability.CONTENT_TYPE) else None
        )
        metadata = info.metadata if info and self.supports(Capability.USER_METADATA) else None
        size = info.size if info else None
        writer = self._open_writer(
            dst, self._write_plan(dst, overwrite, content_type, metadata, None, size, ())
        )
        async with writer:
            try:
                reader = await self._backend.new_reader(src_key)
            except Exception as exc:
                raise self._fail(exc, "copy", src) from native_cause(exc)
            try:
                while chunk := await reader.read(CHUNK):
                    await writer.write(chunk)
            except StorageError:
                raise
            except Exception as exc:
                raise self._fail(exc, "copy", src) from native_cause(exc)
            finally:
                await reader.close()
