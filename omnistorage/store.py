"""The portable :class:`Store`: one contract, implemented once, over any driver.

A Store is a folder (``root``) inside one backend. It is immutable, cheap and
safe to share between threads; :meth:`Store.child` makes a sub-folder store
sharing the same backend. Every path argument is a key relative to the
store's root (see :mod:`omnistorage.paths`); every path it returns is too.

What the Store guarantees on every backend:

1. Keys follow one grammar; nothing escapes the root. Bad keys raise
   :class:`~omnistorage.errors.InvalidPath` before any I/O.
2. Writes are atomic where the backend declares ``ATOMIC_WRITE`` (all the
   built-in ones do): a reader sees the old object or the whole new one; an
   exception, a failed upload or a dropped writer publishes nothing.
3. ``overwrite=False`` (the default) is create-only, atomic where the backend
   declares ``CONDITIONAL_WRITE``; elsewhere it is a check-then-write whose
   race the backend's docs name.
4. Reads and writes stream with bounded memory.
5. Listing is folder-aware: ``list_files("data")`` never returns ``database.txt``.
6. Every failure is a :class:`~omnistorage.errors.StorageError` with the
   native exception as ``__cause__``; unsupported operations fail before I/O.
7. Credentials never appear in ``repr`` or error messages.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import BinaryIO, TypeVar

from omnistorage import paths
from omnistorage._content import Content, Hashes, chunks, len_if_bytes, read_exactly, rebase
from omnistorage._folders import delete_batch, remove_dirs, run_cleanup
from omnistorage._glob import has_magic
from omnistorage._io import AtomicWriter, ReadStream, SeekableReader, SpooledPinned
from omnistorage._kernel import StoreKernel
from omnistorage._listing import (
    ForeignKeys,
    Listing,
    OnInvalid,
    deletable,
    iter_files,
    iter_folders,
)
from omnistorage._times import ModTime
from omnistorage.capabilities import BASIC_FEATURES, Capability
from omnistorage.driver import Backend, ExtendedBackend, as_extended
from omnistorage.errors import ErrorKind, StorageError, native_cause
from omnistorage.models import (
    CleanupReport,
    FolderInfo,
    ObjectInfo,
    WriteResult,
)

__all__ = ["Store"]

T = TypeVar("T")

_CHUNK = 1 << 20
_DELETE_BATCH = 1000


DEFAULT_CLEANUP_AGE = timedelta(hours=24)
"""Leftovers younger than this may belong to a writer that is still running."""


class Store(StoreKernel[Backend]):
    """A folder inside a backend, with the whole omnistorage contract.

    The checks that need no I/O (keys, capabilities, error mapping, native
    paths, ``unwrap``) live in :class:`~omnistorage._kernel.StoreKernel`,
    shared with :class:`omnistorage.aio.AsyncStore`; this class holds the I/O.

    Args:
        backend: the driver to use. The Store does not copy it; children share it.
        root: a folder path inside the backend (``""`` is the backend's root).
    """

    __slots__ = ("_ext",)

    def __init__(self, backend: Backend, root: str = "") -> None:
        ext = as_extended(backend)
        super().__init__(backend, root, ext.features() if ext is not None else BASIC_FEATURES)
        self._ext: ExtendedBackend | None = ext

    # ------------------------------------------------------------------ basics

    def child(self, path: str) -> Store:
        """A store rooted at the folder ``path`` below this one, sharing the backend."""
        self._check_open()
        return Store(self._backend, paths.join(self._root, paths.validate_folder(path)))

    def close(self) -> None:
        """Close the backend. Every store sharing it then raises ``BackendClosed``."""
        if not self._backend.closed:
            try:
                self._backend.close()
            except Exception as exc:
                raise self._fail(exc, "close", None) from native_cause(exc)
            self._backend.closed = True

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reads

    def read(self, path: str) -> BinaryIO:
        """Open ``path`` for streaming reads. The caller closes the stream.

        Raises ``NotFound`` (at open or at the first read) when there is no file. Where
        the backend declares ``READ_INFO``, the stream's ``info`` is the
        :class:`~omnistorage.ObjectInfo` of the version it reads (from the same request);
        elsewhere it is ``None``.
        """
        key = self._key(path, Capability.READ, "read")
        try:
            inner = self._backend.new_reader(key)
        except Exception as exc:
            raise self._fail(exc, "read", path) from native_cause(exc)
        info = getattr(inner, "info", None)
        if isinstance(info, ObjectInfo):
            info = rebase(info, path)
        return ReadStream(inner, self._fail, path, info)  # type: ignore[return-value]

    def read_bytes(self, path: str) -> bytes:
        """The whole content of ``path``."""
        key = self._key(path, Capability.READ, "read")
        try:
            reader = self._backend.new_reader(key)
            try:
                return reader.read()
            finally:
                reader.close()
        except Exception as exc:
            raise self._fail(exc, "read", path) from native_cause(exc)

    def read_text(self, path: str, *, encoding: str = "utf-8", errors: str = "strict") -> str:
        """The whole content of ``path`` decoded as text."""
        return self.read_bytes(path).decode(encoding, errors)

    def read_range(self, path: str, offset: int, length: int) -> bytes:
        """``length`` bytes of ``path`` from ``offset`` (fewer at the end of the file)."""
        if offset < 0 or length < 0:
            raise ValueError(f"offset and length must be >= 0, got {offset} and {length}")
        key = self._key(path, Capability.READ, "read")
        if length == 0:
            if not self._exists_file(key, path):
                raise self._not_found("read", path)
            return b""
        try:
            reader = self._backend.new_reader(key, offset=offset, length=length)
            try:
                return read_exactly(reader, length)
            finally:
                reader.close()
        except Exception as exc:
            raise self._fail(exc, "read", path) from native_cause(exc)

    def read_seekable(self, path: str) -> BinaryIO:
        """A seekable, buffered reader over ONE version of ``path``.

        With ``PINNED_READ`` the driver pins the version there now (ETag,
        generation, open handle) and every range read checks it: if the object
        is overwritten or deleted meanwhile, reads raise
        :class:`~omnistorage.errors.ChangedDuringRead`, never bytes of two
        versions. Without it, the object is streamed once into a spooled
        temporary file (memory up to 1 MiB, then disk) at open, which is one
        version by construction. ``NotFound`` when there is no file.
        """
        key = self._key(path, Capability.READ, "read")
        ext = self._ext
        try:
            if ext is not None and Capability.PINNED_READ in self._caps:
                pinned = ext.open_pinned(key)
            else:
                source = self._backend.new_reader(key)
                try:
                    pinned = SpooledPinned(source)
                finally:
                    source.close()
        except Exception as exc:
            raise self._fail(exc, "read", path) from native_cause(exc)
        raw = SeekableReader(pinned, self._fail, path)
        return io.BufferedReader(raw, buffer_size=_CHUNK)

    # ------------------------------------------------------------------ writes

    def open_writer(
        self,
        path: str,
        *,
        overwrite: bool = False,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        modified: ModTime | None = None,
        size_hint: int | None = None,
        hashes: Hashes = (),
    ) -> AtomicWriter:
        """A streaming writer for ``path``, atomic exactly where the backend has ``ATOMIC_WRITE``.

        Same object and rules as :meth:`open_atomic` (an exception in the
        ``with`` block aborts), but it also works on streaming backends such as
        ``channel``, where a reader sees the bytes as they are written.
        """
        return self._open_writer(
            path, overwrite, content_type, metadata, modified, size_hint, hashes
        )

    def open_atomic(
        self,
        path: str,
        *,
        overwrite: bool = False,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        modified: ModTime | None = None,
        size_hint: int | None = None,
        hashes: Hashes = (),
    ) -> AtomicWriter:
        """A streaming writer that publishes ``path`` only on a clean close.

        Use as a context manager: a clean exit publishes the whole object, an
        exception aborts (nothing appears). Requires ``ATOMIC_WRITE``.
        ``overwrite=False`` makes publishing fail with ``AlreadyExists`` if a
        file is there. ``hashes`` (e.g. ``[HashType.MD5]``) are computed while
        streaming and returned by ``close()`` in ``WriteResult.hashes``.
        """
        paths.validate_key(path)
        self._require(Capability.ATOMIC_WRITE, "write", path)
        return self._open_writer(
            path, overwrite, content_type, metadata, modified, size_hint, hashes
        )

    def write(
        self,
        path: str,
        content: Content,
        *,
        overwrite: bool = False,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        modified: ModTime | None = None,
        hashes: Hashes = (),
    ) -> WriteResult:
        """Write ``content`` (bytes, a binary file object, or an iterable of bytes) to ``path``.

        Streams file objects and iterables in chunks. Atomic on backends with
        ``ATOMIC_WRITE``; ``overwrite=False`` (the default) is create-only.
        ``hashes`` lists hash types to compute while streaming; the result's
        ``hashes`` holds their hex digests.
        """
        if isinstance(content, str):
            raise TypeError("write() takes bytes; use write_text() for str")
        size_hint = len_if_bytes(content)
        writer = self._open_writer(
            path, overwrite, content_type, metadata, modified, size_hint, hashes
        )
        with writer:
            if size_hint is not None:
                writer.write(content)  # type: ignore[arg-type]
            else:
                for chunk in chunks(content):
                    writer.write(chunk)
            return writer.close()

    def write_text(
        self,
        path: str,
        text: str,
        *,
        encoding: str = "utf-8",
        overwrite: bool = False,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        modified: ModTime | None = None,
        hashes: Hashes = (),
    ) -> WriteResult:
        """Write ``text`` encoded with ``encoding``; otherwise as :meth:`write`."""
        return self.write(
            path,
            text.encode(encoding),
            overwrite=overwrite,
            content_type=content_type,
            metadata=metadata,
            modified=modified,
            hashes=hashes,
        )

    def write_atomic(
        self,
        path: str,
        content: Content,
        *,
        overwrite: bool = False,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        modified: ModTime | None = None,
        hashes: Hashes = (),
    ) -> WriteResult:
        """:meth:`write`, but fail before any I/O unless the backend has ``ATOMIC_WRITE``."""
        self._require(Capability.ATOMIC_WRITE, "write", path)
        return self.write(
            path,
            content,
            overwrite=overwrite,
            content_type=content_type,
            metadata=metadata,
            modified=modified,
            hashes=hashes,
        )

    def _open_writer(
        self,
        path: str,
        overwrite: bool,
        content_type: str | None,
        metadata: Mapping[str, str] | None,
        modified: ModTime | None,
        size_hint: int | None,
        hashes: Hashes = (),
    ) -> AtomicWriter:
        key, options, kinds, check_first = self._write_plan(
            path, overwrite, content_type, metadata, modified, size_hint, hashes
        )
        # Without CONDITIONAL_WRITE create-only is check-then-write (a documented race).
        if check_first and self._exists_file(key, path):
            raise self._already_exists("write", path)
        try:
            writer = self._backend.new_writer(key, options)
        except Exception as exc:
            raise self._fail(exc, "write", path) from native_cause(exc)
        return AtomicWriter(writer, self._fail, path, hashes=kinds)

    # ------------------------------------------------------------------ queries

    def exists(self, path: str) -> bool:
        """True when a file or a folder exists at ``path`` (``""``, the root, always does).

        A missing bucket or container is no answer: it raises
        :class:`~omnistorage.errors.BucketNotFound`, as ``is_file`` does."""
        if path == "":
            self._check_open()
            return True
        key = self._key(path, None, "exists")
        return self._exists_file(key, path) or self._folder_exists(key, path)

    def is_file(self, path: str) -> bool:
        """True when a file exists at ``path``."""
        return self._exists_file(self._key(path, None, "exists"), path)

    def is_folder(self, path: str) -> bool:
        """True when ``path`` is a folder: it holds files, or (``MKDIR``) it exists empty."""
        folder = self._folder_key(path)
        if folder == "" and self._root == "":
            return True
        return self._folder_exists(folder, path)

    def get_file_info(self, path: str) -> ObjectInfo:
        """Size, mtime, hashes … of the file at ``path``; ``NotFound`` if there is none."""
        key = self._key(path, None, "stat")
        info = self._stat_file(key, path)
        if info is None:
            raise self._not_found("stat", path)
        return rebase(info, path)

    def get_folder_info(self, path: str = "") -> FolderInfo:
        """File count, total size and latest mtime below the folder ``path`` (recursive).

        Files whose size is not known without producing them (``ObjectInfo.size``
        ``None``) count as files but add nothing to ``total_size``.
        """
        count = total = 0
        latest: datetime | None = None
        for info in self.list_files(path, recursive=True):
            count += 1
            total += info.size or 0
            if info.modified is not None and (latest is None or info.modified > latest):
                latest = info.modified
        if count == 0 and not self.is_folder(path):
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
    ) -> Listing[ObjectInfo]:
        """Files in the folder ``path``, lazily, in no particular order.

        ``recursive`` descends into sub-folders, at most ``max_depth`` levels
        below ``path`` (1 = only ``path`` itself). ``pattern`` is a glob the
        file *name* must match. Returned paths are relative to this store.

        Only valid keys are yielded. A listed name the key grammar refuses (a
        foreign key another tool wrote: ``a//b``, ``../x``, a tab) is skipped,
        logged at WARNING, counted on the returned :class:`Listing`
        (``invalid_count``, ``invalid``) and passed to ``on_invalid``.
        """
        if max_depth is not None and max_depth < 1:
            raise ValueError(f"max_depth must be >= 1, got {max_depth}")
        folder = self._folder_key(path, Capability.LIST, "list")
        shallow = not recursive or max_depth == 1
        foreign = ForeignKeys(self._backend.name, on_invalid)
        return Listing(
            self._list_files(folder, path, shallow, pattern, max_depth, foreign), foreign
        )

    def _list_files(
        self,
        folder: str,
        path: str,
        shallow: bool,
        pattern: str | None,
        max_depth: int | None,
        foreign: ForeignKeys,
    ) -> Iterator[ObjectInfo]:
        files = iter_files(
            self._backend,
            paths.folder_prefix(folder),
            len(self._prefix),
            shallow=shallow,
            pattern=pattern,
            max_depth=max_depth,
            foreign=foreign,
        )
        return self._guard(files, "list", path)

    def _guard(self, items: Iterator[T], op: str, path: str) -> Iterator[T]:
        try:
            yield from items
        except Exception as exc:
            raise self._fail(exc, op, path) from native_cause(exc)

    def list_folders(self, path: str = "", *, on_invalid: OnInvalid | None = None) -> Listing[str]:
        """The immediate sub-folders of ``path``, as store-relative paths, lazily.

        Folder names outside the key grammar are skipped and reported as in
        :meth:`list_files`.
        """
        folder = self._folder_key(path, Capability.LIST, "list")
        foreign = ForeignKeys(self._backend.name, on_invalid)
        folders = iter_folders(
            self._backend, paths.folder_prefix(folder), len(self._prefix), foreign
        )
        return Listing(self._guard(folders, "list", path), foreign)

    def glob(self, pattern: str, *, on_invalid: OnInvalid | None = None) -> Listing[ObjectInfo]:
        """Files whose store-relative path matches ``pattern``.

        ``*``, ``?`` and ``[...]`` match within one segment; a ``**`` segment
        matches any number of segments. Foreign keys are skipped and reported
        as in :meth:`list_files`.
        """
        self._require(Capability.LIST, "glob", pattern)
        foreign = ForeignKeys(self._backend.name, on_invalid)
        if not has_magic(pattern):
            found = [self.get_file_info(pattern)] if self.is_file(pattern) else []
            return Listing(iter(found), foreign)
        base, regex, levels = self._glob_plan(pattern)
        folder = self._folder_key(base, Capability.LIST, "glob")
        matches = (
            info
            for info in self._list_files(folder, base, levels == 1, None, levels, foreign)
            if regex.fullmatch(info.path) is not None
        )
        return Listing(matches, foreign)

    # ------------------------------------------------------------------ changes

    def delete(self, path: str, *, missing_ok: bool = False, if_version: str | None = None) -> None:
        """Delete the file at ``path``; ``NotFound`` if there is none, unless ``missing_ok``.

        With ``if_version`` (a ``WriteResult.version``; needs ``CONDITIONAL_DELETE``) the
        file goes only while it is still that version, atomically against other writers:
        another version there raises ``PreconditionFailed`` and is left alone.
        """
        key = self._key(path, Capability.DELETE, "delete")
        if if_version is not None:
            self._require(Capability.CONDITIONAL_DELETE, "delete", path)
        if not missing_ok and not self._exists_file(key, path):
            raise self._not_found("delete", path)
        try:
            if if_version is None:
                self._backend.delete(key)
            else:
                assert self._ext is not None  # declared only by extended backends
                self._ext.delete_version(key, if_version)
        except Exception as exc:
            raise self._fail(exc, "delete", path) from native_cause(exc)

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

    # ------------------------------------------------------------------ plumbing

    def ping(self) -> None:
        """Check the backend answers (one cheap listing call; without ``LIST``, asking
        whether a reserved name exists); raises if it does not."""
        self._check_open()
        try:
            if Capability.LIST in self._caps:
                next(iter(self._backend.list(self._prefix, recursive=False)), None)
            else:
                self._backend.exists(self._ping_key())
        except Exception as exc:
            raise self._fail(exc, "ping", None) from native_cause(exc)

    def _resolution_steps(self, key: str) -> tuple[str, ...]:
        ext = self._ext
        return ext.resolution_steps(key) if ext is not None else super()._resolution_steps(key)

    # ------------------------------------------------------------------ internals

    def _exists_file(self, key: str, path: str) -> bool:
        try:
            return self._backend.exists(key)
        except Exception as exc:
            raise self._fail(exc, "exists", path) from native_cause(exc)

    def _stat_file(self, key: str, path: str) -> ObjectInfo | None:
        """Info for a file, or None when there is none (uses stat, else a listing)."""
        ext = self._ext
        if ext is not None and Capability.METADATA in self._caps:
            try:
                info = ext.stat(key)
            except Exception as exc:
                if self._is_kind(exc, ErrorKind.NOT_FOUND):
                    return None
                raise self._fail(exc, "stat", path) from native_cause(exc)
            return None if info.is_dir else info
        try:
            for info in self._backend.list(paths.folder_prefix(paths.parent(key)), recursive=False):
                if info.path == key and not info.is_dir:
                    return info
        except Exception as exc:
            raise self._fail(exc, "stat", path) from native_cause(exc)
        return None

    def _folder_exists(self, folder: str, path: str) -> bool:
        ext = self._ext
        try:
            if ext is not None and Capability.MKDIR in self._caps:
                try:
                    return ext.stat(folder).is_dir
                except Exception as exc:
                    if self._is_kind(exc, ErrorKind.NOT_FOUND):
                        return False
                    raise
            prefix = paths.folder_prefix(folder)
            for info in self._backend.list(prefix, recursive=True):
                if info.path.startswith(prefix) or (info.is_dir and info.path == folder):
                    return True
            return False
        except Exception as exc:
            raise self._fail(exc, "exists", path) from native_cause(exc)
