"""The local-filesystem backend (see the package docstring for the contract)."""

from __future__ import annotations

import contextlib
import errno
import io
import mimetypes
import os
import stat as st
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, BinaryIO

from omnistorage._io import LimitedReader
from omnistorage._tempname import is_temp_name
from omnistorage._times import from_ns
from omnistorage.backends.local._probe import folding
from omnistorage.backends.local._reader import OneVersionReader, identity, version_token
from omnistorage.backends.local._resolve import RootDir, SymlinkRefused, split
from omnistorage.backends.local._staged import abort_staged, publish_staged
from omnistorage.backends.local._writer import (
    LocalWriter,
    link_or_exclusive,
    open_folder_for_write,
    remove_version,
)
from omnistorage.capabilities import Capability, ETagKind, Features
from omnistorage.driver import ExtendedBackend, PinnedReader, WriteOptions, Writer
from omnistorage.errors import Classification, ErrorKind, ObjectChanged, classify_builtin
from omnistorage.models import Leftover, Location, ObjectInfo
from omnistorage.options import OptionSchema, arguments, flag, path

__all__ = ["LocalBackend"]

_FEATURES = Features.of(
    [
        Capability.READ,
        Capability.WRITE,
        Capability.DELETE,
        Capability.LIST,
        Capability.METADATA,
        Capability.COPY,
        Capability.MOVE,
        Capability.ATOMIC_WRITE,
        Capability.CONDITIONAL_WRITE,
        Capability.RANGE_READ,
        Capability.MKDIR,
        Capability.SET_MOD_TIME,
        Capability.PINNED_READ,
        Capability.CONDITIONAL_DELETE,
        Capability.DEFERRED_PUBLISH,
    ],
    mtime_precision_ns=1,
    copy_keeps_mtime=False,  # a copy is a new file with a new mtime
    etag=ETagKind.OPAQUE,
    strong_version=True,  # stat's etag: device, inode, mtime_ns, ctime_ns, size
    reads_local=True,
)

_O_DIR = (
    os.O_RDONLY
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)

OPTIONS = OptionSchema(
    "local",
    path("root", required=True, example="/tmp/omnistorage-example-root"),
    flag("create"),
    flag("durable"),
)
"""The options of :class:`LocalBackend`, checked without touching the filesystem."""


class LocalBackend(ExtendedBackend):
    """Files under one root folder, reached only by descriptors beneath it.

    Args:
        root: the folder (created with its parents when missing, if ``create``).
        create: create ``root`` if it does not exist (else ``FileNotFoundError``).
        durable: fsync each file before publishing it and its folder after.
    """

    name = "local"
    options_schema = OPTIONS
    may_declare = _FEATURES.capabilities

    def __init__(
        self, root: str | os.PathLike[str], *, create: bool = True, durable: bool = False
    ) -> None:
        self.check_config(arguments(locals()))
        path = os.path.abspath(os.fspath(root))
        if create:
            os.makedirs(path, exist_ok=True)
        elif not os.path.isdir(path):
            raise FileNotFoundError(f"local root {path!r} is not a folder")
        self._root = os.path.realpath(path)
        self._root_slash = self._root.rstrip(os.sep) + os.sep
        self.durable = durable
        self.root_dir = RootDir(self._root)
        self._facts: Features | None = None  # the root's name folding, probed on first use

    def __repr__(self) -> str:
        return f"LocalBackend({self._root!r})"

    @property
    def root(self) -> str:
        """The absolute, symlink-free root folder (as it was when the backend opened it)."""
        return self._root

    def close(self) -> None:
        self.root_dir.close()

    def features(self) -> Features:
        facts = self._facts
        if facts is None:
            case, unicode = folding(self.root_dir.fd)
            facts = replace(_FEATURES, case_insensitive=case, normalizes_unicode=unicode)
            self._facts = facts
        return facts

    def classify_error(self, exc: BaseException) -> Classification:
        if isinstance(exc, IsADirectoryError):
            return Classification(ErrorKind.NOT_FOUND)
        if isinstance(exc, OSError) and exc.errno == errno.ENOTEMPTY:
            return Classification(ErrorKind.DIRECTORY_NOT_EMPTY)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            return Classification(ErrorKind.UNKNOWN)
        return classify_builtin(exc)

    def native_path(self, key: str) -> str:
        return self._root_slash + key if key else self._root

    def locations(self) -> tuple[Location, ...]:
        # The real path (symlinks resolved when the backend opened its root).
        path = self._root.strip(os.sep).replace(os.sep, "/")
        return (Location("file", "", path, self.features().case_insensitive),)

    def key_from_native(self, native: str) -> str | None:
        if native.startswith("file://"):
            native = native[len("file://") :]
        full = os.path.abspath(native)
        if full == self._root:
            return ""
        if not full.startswith(self._root_slash):
            return None
        return full[len(self._root_slash) :].replace(os.sep, "/")

    # ------------------------------------------------------------ basic interface

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return LocalWriter(self, key, options)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        fd = self.root_dir.open_file(key)
        try:
            # Unbuffered FileIO: no isatty() probe, no second buffer; regular files
            # never return short reads before end-of-file. It refuses a folder
            # (IsADirectoryError, classified NOT_FOUND). The version is checked again at
            # the end, so a rewrite in place fails the read (_reader.py).
            info = os.fstat(fd)
            if st.S_ISDIR(info.st_mode):
                raise IsADirectoryError(errno.EISDIR, f"{key!r} is a folder")
            reader: BinaryIO = OneVersionReader(fd, info)
        except BaseException:
            os.close(fd)
            raise
        if offset:
            reader.seek(offset)
        if length is not None:
            return LimitedReader(reader, length)  # type: ignore[return-value]
        return reader

    def exists(self, key: str) -> bool:
        try:
            info = self.root_dir.lstat(key)
        except (FileNotFoundError, NotADirectoryError):
            return False
        return st.S_ISREG(info.st_mode)

    def delete(self, key: str) -> None:
        folder, name = split(key)
        try:
            parent = self.root_dir.open_folder(folder)
        except (FileNotFoundError, NotADirectoryError):
            return
        try:
            os.unlink(name, dir_fd=parent)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return
        except PermissionError:
            with contextlib.suppress(OSError):
                if st.S_ISDIR(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode):
                    return  # Linux says EISDIR, others EPERM: a folder is not a file
            raise
        finally:
            os.close(parent)

    def publish_staged(self, key: str, staged: Mapping[str, Any], *, overwrite: bool) -> str:
        return publish_staged(self.root_dir, self.durable, key, staged, overwrite=overwrite)

    def abort_staged(self, key: str, staged: Mapping[str, Any]) -> None:
        abort_staged(self.root_dir, key, staged)

    def delete_version(self, key: str, version: str) -> None:
        folder, name = split(key)
        try:
            parent = self.root_dir.open_folder(folder)
        except (FileNotFoundError, NotADirectoryError):
            return
        try:
            remove_version(parent, name, version)
            if self.durable:
                os.fsync(parent)
        finally:
            os.close(parent)

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        try:
            fd = self.root_dir.open_folder(prefix[:-1])
        except (FileNotFoundError, NotADirectoryError):
            return
        yield from _scan(fd, prefix, recursive)

    # ------------------------------------------------------------ extended interface

    def stat(self, key: str) -> ObjectInfo:
        info = self.root_dir.lstat(key)
        if st.S_ISLNK(info.st_mode):
            raise SymlinkRefused(
                errno.ENOENT, f"{key!r} is a symlink; the local backend does not follow symlinks"
            )
        if st.S_ISDIR(info.st_mode):
            return ObjectInfo(path=key, is_dir=True, modified_ns=info.st_mtime_ns)
        if not st.S_ISREG(info.st_mode):
            raise FileNotFoundError(errno.ENOENT, f"{key!r} is not a regular file")
        return ObjectInfo(
            path=key,
            size=info.st_size,
            modified_ns=info.st_mtime_ns,
            content_type=mimetypes.guess_type(key, strict=False)[0],
            etag=version_token(info),
        )

    def open_pinned(self, key: str) -> PinnedReader:
        return _LocalPinned(self.root_dir.open_file(key))

    def mkdir(self, key: str) -> None:
        os.close(open_folder_for_write(self.root_dir, key, key))

    def rmdir(self, key: str) -> None:
        folder, name = split(key)
        with self.root_dir.folder(folder) as parent:
            info = os.stat(name, dir_fd=parent, follow_symlinks=False)
            if not st.S_ISDIR(info.st_mode):
                raise NotADirectoryError(errno.ENOTDIR, f"{key!r} is not a folder")
            os.rmdir(name, dir_fd=parent)

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        fd = self.root_dir.open_file(src)
        with io.FileIO(fd, "rb", closefd=True) as source:
            writer = LocalWriter(self, dst, WriteOptions(overwrite=overwrite))
            try:
                writer.copy_from(source)
                writer.close()
            except BaseException:
                writer.abort()
                raise

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        src_folder, src_name = split(src)
        dst_folder, dst_name = split(dst)
        with self.root_dir.folder(src_folder) as src_dir:
            info = os.stat(src_name, dir_fd=src_dir, follow_symlinks=False)
            if st.S_ISLNK(info.st_mode):
                raise SymlinkRefused(
                    errno.ENOENT, f"{src!r} is a symlink; the local backend does not move symlinks"
                )
            if not st.S_ISREG(info.st_mode):
                raise IsADirectoryError(errno.EISDIR, f"{src!r} is not a file")
            dst_dir = open_folder_for_write(self.root_dir, dst_folder, dst)
            try:
                self._move_in(src_dir, src_name, dst_dir, dst_name, dst, overwrite)
                if self.durable:
                    os.fsync(dst_dir)
            finally:
                os.close(dst_dir)

    @staticmethod
    def _move_in(
        src_dir: int, src_name: str, dst_dir: int, dst_name: str, dst: str, overwrite: bool
    ) -> None:
        if overwrite:
            with contextlib.suppress(FileNotFoundError):
                if st.S_ISDIR(os.stat(dst_name, dir_fd=dst_dir, follow_symlinks=False).st_mode):
                    raise FileExistsError(errno.EEXIST, f"a folder exists at {dst!r}")
            os.replace(src_name, dst_name, src_dir_fd=src_dir, dst_dir_fd=dst_dir)
            return
        link_or_exclusive(src_dir, src_name, dst_dir, dst_name)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(src_name, dir_fd=src_dir)

    # ------------------------------------------------------------ crash leftovers

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        """Temp files of writers that never published, below ``prefix`` (recursively)."""
        folder = prefix[:-1]
        try:
            fd = self.root_dir.open_folder(folder)
        except (FileNotFoundError, NotADirectoryError):
            return
        for key_folder, name, info in _walk_temps(fd, folder):
            key = f"{key_folder}/{name}" if key_folder else name
            yield Leftover(
                kind="temp-file",
                key=key_folder,
                native=self.native_path(key),
                size=info.st_size,
                started=_mtime(info),
                handle=key,
            )

    def remove_leftover(self, leftover: Leftover) -> None:
        folder, name = split(leftover.handle)
        if not is_temp_name(name):
            raise PermissionError(errno.EACCES, "not a temp file of this store")
        with self.root_dir.folder(folder) as parent:
            info = os.stat(name, dir_fd=parent, follow_symlinks=False)
            if not st.S_ISREG(info.st_mode):
                raise PermissionError(errno.EACCES, "not a temp file of this store")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=parent)


class _LocalPinned(PinnedReader):
    """An open descriptor: the version it opened stays readable, whatever replaces the name;
    a rewrite of the file in place is seen by its version token after each range read and
    raises ``ObjectChanged``."""

    def __init__(self, fd: int) -> None:
        try:
            info = os.fstat(fd)
            if not st.S_ISREG(info.st_mode):
                raise IsADirectoryError(errno.EISDIR, "not a regular file")
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self.size = info.st_size
        self.version = version_token(info)
        self._identity = identity(info)  # the token's fields, compared unformatted

    def read_range(self, offset: int, length: int) -> bytes:
        if self._fd < 0:
            raise ValueError("read from a closed pinned reader")
        length = max(0, min(length, self.size - offset))
        parts: list[bytes] = []
        while length > 0:
            chunk = os.pread(self._fd, length, offset)
            if not chunk:
                break  # truncated in place: the caller sees a short read
            parts.append(chunk)
            offset += len(chunk)
            length -= len(chunk)
        if identity(os.fstat(self._fd)) != self._identity:
            # Rewritten in place (a rename leaves this descriptor on the old version).
            raise ObjectChanged("the file changed while it was read (rewritten in place)")
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


def _scan(fd: int, prefix: str, recursive: bool) -> Iterator[ObjectInfo]:
    """Entries of the open folder ``fd`` (closed when done); symlinks and temp files skipped."""
    try:
        with os.scandir(fd) as it:
            entries = list(it)
        subdirs: list[str] = []
        for entry in entries:
            name = entry.name
            if is_temp_name(name):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        subdirs.append(name)
                    else:
                        yield ObjectInfo(path=prefix + name, is_dir=True)
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue  # symlinks, sockets, devices: not objects of this store
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            yield ObjectInfo(path=prefix + name, size=info.st_size, modified_ns=info.st_mtime_ns)
        for name in subdirs:
            try:
                sub = os.open(name, _O_DIR, dir_fd=fd)
            except OSError:
                continue  # removed or swapped for a symlink meanwhile
            yield from _scan(sub, f"{prefix}{name}/", recursive)
    finally:
        os.close(fd)


def _walk_temps(fd: int, folder: str) -> Iterator[tuple[str, str, os.stat_result]]:
    """(folder, name, stat) of every temp file below the open folder ``fd`` (closed when done)."""
    try:
        with os.scandir(fd) as it:
            entries = list(it)
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    sub = os.open(entry.name, _O_DIR, dir_fd=fd)
                    yield from _walk_temps(sub, f"{folder}/{entry.name}" if folder else entry.name)
                elif is_temp_name(entry.name) and entry.is_file(follow_symlinks=False):
                    yield folder, entry.name, entry.stat(follow_symlinks=False)
            except OSError:
                continue  # gone or swapped meanwhile
    finally:
        os.close(fd)


def _mtime(info: os.stat_result) -> datetime:
    return from_ns(info.st_mtime_ns)
