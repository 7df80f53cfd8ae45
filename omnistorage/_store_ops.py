"""Folder operations and transfers of :class:`~omnistorage.Store`: deleting and making
folders, cleaning up what crashed writers left, copy and move (server-side where the
driver declares it, else by streaming). The sync twin of :mod:`omnistorage.aio._store_ops`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from omnistorage import paths
from omnistorage._content import Hashes
from omnistorage._folders import delete_batch, remove_dirs, run_cleanup
from omnistorage._io import AtomicWriter
from omnistorage._listing import ForeignKeys, deletable
from omnistorage._store_base import StoreBase
from omnistorage._times import ModTime
from omnistorage.capabilities import Capability
from omnistorage.errors import StorageError, native_cause
from omnistorage.models import CleanupReport

__all__ = ["DEFAULT_CLEANUP_AGE", "StoreOps"]

_CHUNK = 1 << 20
_DELETE_BATCH = 1000

DEFAULT_CLEANUP_AGE = timedelta(hours=24)
"""Leftovers younger than this may belong to a writer that is still running."""


class StoreOps(StoreBase):
    """Folder operations and transfers (see the module docstring)."""

    __slots__ = ()

    if TYPE_CHECKING:

        def _open_writer(
            self,
            path: str,
            overwrite: bool,
            content_type: str | None,
            metadata: Mapping[str, str] | None,
            modified: ModTime | None,
            size_hint: int | None,
            hashes: Hashes = (),
        ) -> AtomicWriter: ...

    def delete_folder(
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
        if not self._folder_exists(folder, path):
            if missing_ok:
                return
            raise self._not_found("delete", path)
        prefix = paths.folder_prefix(folder)
        ext = self._ext
        foreign = ForeignKeys(self._backend.name, None)
        try:
            if recursive:
                batch: list[str] = []
                accept = deletable(prefix, len(self._prefix), foreign)
                for info in self._backend.list(prefix, recursive=True):
                    key = accept(info)
                    if key is None:
                        continue
                    batch.append(key)
                    if len(batch) >= _DELETE_BATCH:
                        delete_batch(self._backend, self._ext, batch)
                        batch = []
                if batch:
                    delete_batch(self._backend, self._ext, batch)
            elif next(iter(self._backend.list(prefix, recursive=False)), None) is not None:
                raise self._not_empty(path)
            if foreign.count:
                raise self._foreign_left(path, foreign)
            if ext is not None:
                for leftover in ext.list_leftovers(prefix):
                    ext.remove_leftover(leftover)
                if Capability.MKDIR in self._caps:
                    remove_dirs(ext, folder)
        except StorageError:
            raise
        except Exception as exc:
            raise self._fail(exc, "delete", path) from native_cause(exc)

    def make_folder(self, path: str) -> None:
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
        if self._exists_file(folder, path):
            raise self._already_exists("mkdir", path)
        ext = self._ext
        assert ext is not None  # MKDIR is only declared by extended backends
        try:
            ext.mkdir(folder)
        except Exception as exc:
            raise self._fail(exc, "mkdir", path) from native_cause(exc)

    def cleanup(
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
        ext = self._ext
        if ext is None:
            return CleanupReport()
        return run_cleanup(
            ext,
            paths.folder_prefix(folder),
            self._root,
            older_than=older_than,
            dry_run=dry_run,
            describe=lambda exc, key: str(self._fail(exc, "cleanup", key)),
            on_list_error=lambda exc: self._fail(exc, "cleanup", path),
        )

    def copy(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        """Copy the file ``src`` to ``dst`` (server-side with ``COPY``, else by streaming)."""
        self._transfer("copy", src, dst, overwrite)

    def move(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        """Move the file ``src`` to ``dst`` (server-side with ``MOVE``, else copy + delete)."""
        self._transfer("move", src, dst, overwrite)

    def _transfer(self, op: str, src: str, dst: str, overwrite: bool) -> None:
        src_key, dst_key = self._transfer_keys(op, src, dst)
        if not self._exists_file(src_key, src):
            raise self._not_found(op, src)
        if src_key == dst_key:
            if not overwrite:
                raise self._already_exists(op, dst)
            return
        native = Capability.COPY if op == "copy" else Capability.MOVE
        ext = self._ext
        if ext is not None and native in self._caps:
            if (
                not overwrite
                and Capability.CONDITIONAL_WRITE not in self._caps
                and self._exists_file(dst_key, dst)
            ):
                raise self._already_exists(op, dst)
            try:
                if op == "copy":
                    ext.copy(src_key, dst_key, overwrite=overwrite)
                else:
                    ext.move(src_key, dst_key, overwrite=overwrite)
            except Exception as exc:
                raise self._fail(exc, op, dst) from native_cause(exc)
            return
        if op == "move" and ext is not None and Capability.COPY in self._caps:
            # No native move, but a server-side copy: copy there, then delete the source.
            self._transfer("copy", src, dst, overwrite)
        else:
            self._stream_copy(src, src_key, dst, overwrite)
        if op == "move":
            try:
                self._backend.delete(src_key)
            except Exception as exc:
                raise self._fail(exc, op, src) from native_cause(exc)

    def _stream_copy(self, src: str, src_key: str, dst: str, overwrite: bool) -> None:
        info = self._stat_file(src_key, src) if Capability.METADATA in self._caps else None
        content_type = (
            info.content_type if info and self.supports(Capability.CONTENT_TYPE) else None
        )
        metadata = info.metadata if info and self.supports(Capability.USER_METADATA) else None
        writer = self._open_writer(
            dst, overwrite, content_type, metadata, None, info.size if info else None
        )
        with writer:
            try:
                reader = self._backend.new_reader(src_key)
            except Exception as exc:
                raise self._fail(exc, "copy", src) from native_cause(exc)
            try:
                while chunk := reader.read(_CHUNK):
                    writer.write(chunk)
            except StorageError:
                raise
            except Exception as exc:
                raise self._fail(exc, "copy", src) from native_cause(exc)
            finally:
                reader.close()
