"""The local-filesystem backend.

- **Atomic writes**: data goes to a temporary file in the target folder
  (``.<name>.<token>.omnistorage-tmp``, never listed) and is published with
  ``os.replace`` (overwrite) or ``os.link`` (create-only: of racing writers
  exactly one wins, the others get ``FileExistsError``). An aborted or failed
  write removes its temporary file. ``durable=True`` also fsyncs the file and
  the folder.
- **Containment**: symlinks are never followed out of the root. A path whose
  folder resolves outside the root, or a final symlink pointing outside, is
  refused with ``PermissionError``. Verified folders are cached by
  (device, inode) and re-checked with one ``stat`` per call, so a folder
  later swapped for a symlink is caught.
- Folders are real (``MKDIR``); empty folders exist. Modification times can
  be set. Content types are guessed from the extension; user metadata is not
  stored.
- On a filesystem without hard links, create-only falls back to an
  ``O_EXCL`` placeholder replaced by the data: still one winner, but a
  reader may briefly see an empty file.
"""

from __future__ import annotations

import contextlib
import errno
import io
import itertools
import mimetypes
import os
import stat as st
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO

from omnistorage._io import LimitedReader
from omnistorage.capabilities import Capability, Features
from omnistorage.driver import ExtendedBackend, WriteOptions, Writer
from omnistorage.errors import Classification, ErrorKind, classify_builtin
from omnistorage.models import Leftover, ObjectInfo

__all__ = ["LocalBackend"]

_TMP_SUFFIX = ".omnistorage-tmp"
_counter = itertools.count()
_token = os.urandom(4).hex()

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
    ]
)

_O_READ = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_O_TMP = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


class EscapesRoot(PermissionError):
    """A path resolves outside the backend root (through a symlink)."""


class LocalBackend(ExtendedBackend):
    """Files under one root folder.

    Args:
        root: the folder (created with its parents when missing, if ``create``).
        create: create ``root`` if it does not exist (else ``FileNotFoundError``).
        durable: fsync each file before publishing it and its folder after.
    """

    name = "local"

    def __init__(
        self, root: str | os.PathLike[str], *, create: bool = True, durable: bool = False
    ) -> None:
        path = os.path.abspath(os.fspath(root))
        if create:
            os.makedirs(path, exist_ok=True)
        elif not os.path.isdir(path):
            raise FileNotFoundError(f"local root {path!r} is not a folder")
        self._root = os.path.realpath(path)
        self._root_slash = self._root.rstrip(os.sep) + os.sep
        self._durable = durable
        self._verified: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalBackend({self._root!r})"

    @property
    def root(self) -> str:
        """The absolute, symlink-free root folder."""
        return self._root

    def features(self) -> Features:
        return _FEATURES

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

    def key_from_native(self, native: str) -> str | None:
        if native.startswith("file://"):
            native = native[len("file://") :]
        full = os.path.abspath(native)
        if full == self._root:
            return ""
        if not full.startswith(self._root_slash):
            return None
        return full[len(self._root_slash) :].replace(os.sep, "/")

    # ------------------------------------------------------------ containment

    def _path(self, key: str) -> str:
        """The absolute path of ``key`` after checking its folder stays inside the root."""
        full = self._root_slash + key
        cut = full.rfind("/")
        if cut > len(self._root):
            self._check_folder(full[:cut], key)
        return full

    def _check_folder(self, folder: str, key: str) -> None:
        try:
            info = os.stat(folder)
        except FileNotFoundError:
            self._check_real(folder, key)
            return
        except NotADirectoryError:
            return
        ident = (info.st_dev, info.st_ino)
        if self._verified.get(folder) == ident:
            return
        self._check_real(folder, key)
        with self._lock:
            if len(self._verified) > 4096:
                self._verified.clear()
            self._verified[folder] = ident

    def _check_real(self, path: str, key: str) -> None:
        real = os.path.realpath(path)
        if real != self._root and not real.startswith(self._root_slash):
            raise EscapesRoot(errno.EACCES, f"{key!r} resolves outside the store root")

    # ------------------------------------------------------------ basic interface

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return _LocalWriter(self, key, self._path(key), options)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        full = self._path(key)
        try:
            fd = os.open(full, _O_READ)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            self._check_real(full, key)
            fd = os.open(full, _O_READ & ~getattr(os, "O_NOFOLLOW", 0))
        try:
            # Unbuffered FileIO: no isatty() probe, no second buffer; regular files
            # never return short reads before end-of-file.
            reader: BinaryIO = io.FileIO(fd, "rb", closefd=True)
        except BaseException:
            os.close(fd)
            raise
        if offset:
            reader.seek(offset)
        if length is not None:
            return LimitedReader(reader, length)  # type: ignore[return-value]
        return reader

    def exists(self, key: str) -> bool:
        full = self._path(key)
        try:
            info = os.lstat(full)
        except (FileNotFoundError, NotADirectoryError):
            return False
        if st.S_ISLNK(info.st_mode):
            self._check_real(full, key)
            try:
                info = os.stat(full)
            except FileNotFoundError:
                return False
        return st.S_ISREG(info.st_mode)

    def delete(self, key: str) -> None:
        full = self._path(key)
        try:
            os.unlink(full)
        except (FileNotFoundError, NotADirectoryError):
            return
        except IsADirectoryError:
            return
        except PermissionError:
            if os.path.isdir(full) and not os.path.islink(full):
                return
            raise

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        folder = prefix[:-1]
        base = self._root_slash + folder if folder else self._root
        if folder:
            self._check_folder(base, folder)
        yield from self._scan(base, prefix, recursive)

    def _scan(self, directory: str, prefix: str, recursive: bool) -> Iterator[ObjectInfo]:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        subdirs: list[tuple[str, str]] = []
        for entry in entries:
            name = entry.name
            if name.endswith(_TMP_SUFFIX):
                continue
            key = prefix + name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        subdirs.append((entry.path, key + "/"))
                    else:
                        yield ObjectInfo(path=key, is_dir=True)
                    continue
                if entry.is_symlink():
                    try:
                        self._check_real(entry.path, key)
                        info = os.stat(entry.path)
                    except (PermissionError, FileNotFoundError):
                        continue
                    if not st.S_ISREG(info.st_mode):
                        continue
                else:
                    info = entry.stat(follow_symlinks=False)
                    if not st.S_ISREG(info.st_mode):
                        continue
            except FileNotFoundError:
                continue
            yield ObjectInfo(path=key, size=info.st_size, modified=_mtime(info))
        for path, sub_prefix in subdirs:
            yield from self._scan(path, sub_prefix, recursive)

    # ------------------------------------------------------------ extended interface

    def stat(self, key: str) -> ObjectInfo:
        full = self._path(key)
        info = os.lstat(full)
        if st.S_ISLNK(info.st_mode):
            self._check_real(full, key)
            info = os.stat(full)
        if st.S_ISDIR(info.st_mode):
            return ObjectInfo(path=key, is_dir=True, modified=_mtime(info))
        if not st.S_ISREG(info.st_mode):
            raise FileNotFoundError(errno.ENOENT, f"{key!r} is not a regular file")
        return ObjectInfo(
            path=key,
            size=info.st_size,
            modified=_mtime(info),
            content_type=mimetypes.guess_type(key, strict=False)[0],
        )

    def mkdir(self, key: str) -> None:
        full = self._path(key)
        os.makedirs(full, exist_ok=True)
        self._check_real(full, key)

    def rmdir(self, key: str) -> None:
        full = self._path(key)
        if os.path.islink(full):
            raise NotADirectoryError(errno.ENOTDIR, f"{key!r} is a symlink, not a folder")
        os.rmdir(full)

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        src_full = self._path(src)
        if os.path.islink(src_full):
            self._check_real(src_full, src)
        writer = _LocalWriter(self, dst, self._path(dst), WriteOptions(overwrite=overwrite))
        try:
            with open(src_full, "rb") as source:
                writer.copy_from(source)
            writer.close()
        except BaseException:
            writer.abort()
            raise

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        """Temp files of writers that never published, below ``prefix`` (recursively)."""
        folder = prefix[:-1]
        base = self._root_slash + folder if folder else self._root
        if folder:
            self._check_folder(base, folder)
        stack = [(base, folder)]
        while stack:
            directory, key_folder = stack.pop()
            try:
                entries = list(os.scandir(directory))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(
                        (entry.path, f"{key_folder}/{entry.name}" if key_folder else entry.name)
                    )
                elif entry.name.endswith(_TMP_SUFFIX) and entry.is_file(follow_symlinks=False):
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    yield Leftover(
                        kind="temp-file",
                        key=key_folder,
                        native=entry.path,
                        size=info.st_size,
                        started=_mtime(info),
                        handle=entry.path,
                    )

    def remove_leftover(self, leftover: Leftover) -> None:
        path = leftover.handle
        if not path.startswith(self._root_slash) or not path.endswith(_TMP_SUFFIX):
            raise PermissionError(errno.EACCES, "not a temp file of this store")
        self._check_folder(os.path.dirname(path), leftover.key)
        _unlink_quietly(path)

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        src_full = self._path(src)
        dst_full = self._path(dst)
        if os.path.isdir(src_full) and not os.path.islink(src_full):
            raise IsADirectoryError(errno.EISDIR, f"{src!r} is a folder")
        _make_parent(dst_full)
        if overwrite:
            if os.path.isdir(dst_full) and not os.path.islink(dst_full):
                raise FileExistsError(errno.EEXIST, f"a folder exists at {dst!r}")
            os.replace(src_full, dst_full)
        else:
            _link_or_exclusive(src_full, dst_full)
            os.unlink(src_full)
        if self._durable:
            _fsync_dir(os.path.dirname(dst_full))


class _LocalWriter(Writer):
    """Writes into a temp file beside the target; close publishes it."""

    def __init__(self, backend: LocalBackend, key: str, full: str, options: WriteOptions) -> None:
        self._backend = backend
        self._key = key
        self._full = full
        self._options = options
        folder, _, name = full.rpartition("/")
        self._tmp = f"{folder}/.{name[:80]}.{_token}{next(_counter)}{_TMP_SUFFIX}"
        try:
            fd = os.open(self._tmp, _O_TMP, 0o666)
        except NotADirectoryError as exc:
            raise FileExistsError(
                errno.EEXIST, f"a file stands where a folder of {key!r} is needed"
            ) from exc
        except FileNotFoundError:
            # The folder is new: create it, then make sure it did not land outside
            # the root through a symlinked ancestor (the caller checked the path).
            _make_parent(full)
            backend._check_real(folder, key)
            fd = os.open(self._tmp, _O_TMP, 0o666)
        try:
            self._file = os.fdopen(fd, "wb", buffering=1 << 16)
        except BaseException:
            os.close(fd)
            os.unlink(self._tmp)
            raise
        self._done = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        return self._file.write(data)

    def copy_from(self, source: BinaryIO) -> None:
        self._file.flush()
        out_fd = self._file.fileno()
        in_fd = source.fileno()
        try:
            while os.copy_file_range(in_fd, out_fd, 1 << 30):
                pass
        except OSError:
            source.seek(0)
            os.lseek(out_fd, 0, os.SEEK_SET)
            os.ftruncate(out_fd, 0)
            while chunk := source.read(1 << 20):
                self._file.write(chunk)

    def close(self) -> None:
        if self._done:
            raise ValueError("writer already finished")
        self._done = True
        try:
            self._file.flush()
            if self._backend._durable:
                os.fsync(self._file.fileno())
            self._file.close()
            modified = self._options.modified
            if modified is not None:
                stamp = int(modified.timestamp() * 1_000_000_000)
                os.utime(self._tmp, ns=(stamp, stamp))
            self._publish()
        except BaseException:
            self._discard()
            raise
        if self._backend._durable:
            _fsync_dir(os.path.dirname(self._full))

    def _publish(self) -> None:
        if self._options.overwrite:
            try:
                os.replace(self._tmp, self._full)
            except IsADirectoryError as exc:
                raise FileExistsError(errno.EEXIST, f"a folder exists at {self._key!r}") from exc
            return
        try:
            _link_or_exclusive(self._tmp, self._full)
        except FileExistsError as exc:
            raise FileExistsError(errno.EEXIST, f"a file exists at {self._key!r}") from exc
        finally:
            _unlink_quietly(self._tmp)

    def abort(self) -> None:
        if not self._done:
            self._done = True
            self._discard()

    def _discard(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        _unlink_quietly(self._tmp)


def _link_or_exclusive(src: str, dst: str) -> None:
    """Give ``src``'s content the name ``dst`` only if ``dst`` does not exist (atomically)."""
    try:
        os.link(src, dst)
        return
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (
            errno.EPERM,
            errno.ENOTSUP,
            errno.EOPNOTSUPP,
            errno.EXDEV,
            errno.EMLINK,
        ):
            raise
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    os.close(fd)
    os.replace(src, dst)


def _make_parent(full: str) -> None:
    folder = full.rpartition("/")[0]
    try:
        os.makedirs(folder, exist_ok=True)
    except FileExistsError as exc:
        raise FileExistsError(errno.EEXIST, "a file stands where a folder is needed") from exc


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_dir(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mtime(info: os.stat_result) -> datetime:
    return datetime.fromtimestamp(info.st_mtime_ns / 1_000_000_000, UTC)
