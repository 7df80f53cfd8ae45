"""Atomic writes of the local backend: a temp file beside the target, published by descriptor.

The writer opens the target's folder once (creating it, never through a
symlink) and keeps that descriptor: the temp file is created, and later
renamed or linked into place, relative to it. A folder swapped for a symlink
between ``open`` and ``close`` cannot redirect the publish.

- The temp name comes from :func:`omnistorage._tempname.temp_name`: fresh
  randomness per attempt (unique across ``fork``), the reserved
  ``.omnistorage-tmp-`` prefix (no valid key can collide with it), cut by
  bytes to fit ``NAME_MAX``.
- Only the temp file this attempt created is ever removed, and at most once.
- Overwrite keeps the replaced file's permission bits and, where the process
  may, its owner and group; a new file gets ``0o666`` minus the umask.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat as st
from typing import TYPE_CHECKING, Any, BinaryIO

from omnistorage._tempname import temp_name
from omnistorage.backends.local._resolve import EscapesRoot, RootDir, SymlinkRefused, split
from omnistorage.driver import WriteOptions, Writer
from omnistorage.errors import VersionMismatch

if TYPE_CHECKING:
    from omnistorage.backends.local._backend import LocalBackend

__all__ = [
    "LocalWriter",
    "link_or_exclusive",
    "open_folder_for_write",
    "published_token",
    "remove_version",
]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_TMP = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_BUFFER = 1 << 16  # bytes gathered before one write(2)
_NO_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK)


class LocalWriter(Writer):
    """Streams into a temp file in the target's folder; :meth:`close` publishes it."""

    def __init__(self, backend: LocalBackend, key: str, options: WriteOptions) -> None:
        self._backend = backend
        self._key = key
        self._options = options
        folder, self._name = split(key)
        self._dir = open_folder_for_write(backend.root_dir, folder, key)
        self._tmp: str | None = None
        try:
            for _ in range(8):
                name = temp_name(self._name)
                try:
                    fd = os.open(name, _O_TMP, 0o666, dir_fd=self._dir)
                except FileExistsError:
                    continue  # 64 random bits collided, or a planted name: draw again
                self._tmp = name
                break
            else:
                raise FileExistsError(errno.EEXIST, f"no free temp name beside {key!r}")
            # The descriptor itself with our own buffer: a Python file object would
            # cost an fstat and an lseek per write, a third of a small write's calls.
            self._fd: int | None = fd
            self._buf = bytearray()
        except BaseException:
            self._remove_temp()
            os.close(self._dir)
            raise
        self._done = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._fd is None:
            raise ValueError("write to a finished writer")
        size = len(data) if not isinstance(data, memoryview) else data.nbytes
        buf = self._buf
        if len(buf) + size < _BUFFER:
            buf += data
            return size
        self._flush()
        if size >= _BUFFER:
            self._write_all(data)
        else:
            buf += data
        return size

    def _flush(self) -> None:
        if self._buf:
            self._write_all(self._buf)
            self._buf = bytearray()

    def _write_all(self, data: bytes | bytearray | memoryview) -> None:
        fd = self._fd
        if fd is None:
            raise ValueError("write to a finished writer")
        view = memoryview(data).cast("B")
        while view:
            view = view[os.write(fd, view) :]

    def copy_from(self, source: BinaryIO) -> None:
        """Copy all of ``source`` (an open file) in the kernel where it can."""
        self._flush()
        out_fd = self._fd
        assert out_fd is not None
        in_fd = source.fileno()
        try:
            while os.copy_file_range(in_fd, out_fd, 1 << 30):
                pass
        except OSError:
            source.seek(0)
            os.lseek(out_fd, 0, os.SEEK_SET)
            os.ftruncate(out_fd, 0)
            while chunk := source.read(1 << 20):
                self._write_all(chunk)

    def close(self) -> None:
        if self._done:
            raise ValueError("writer already finished")
        self._done = True
        try:
            self._flush()
            fd = self._fd
            assert fd is not None
            stamp = self._options.modified_ns
            if stamp is not None:
                os.utime(fd, ns=(stamp, stamp))
            if self._backend.durable:
                os.fsync(fd)
            if self._options.overwrite:
                self._keep_mode(fd)
            token = published_token(os.fstat(fd))
            self._fd = None
            os.close(fd)
            self._check_folder_unmoved()
            self._publish()
            self.version = token
            if self._backend.durable:
                os.fsync(self._dir)
        except BaseException:
            self._discard()
            raise
        finally:
            os.close(self._dir)

    def stage(self) -> dict[str, Any]:
        """Finish the temp file (mtime, fsync, mode) and keep it unpublished: its name and
        identity (:func:`published_token`, which a later link or rename keeps) are what
        :func:`~omnistorage.backends.local._staged.publish_staged` needs."""
        if self._done:
            raise ValueError("writer already finished")
        self._done = True
        try:
            self._flush()
            fd = self._fd
            assert fd is not None
            assert self._tmp is not None
            stamp = self._options.modified_ns
            if stamp is not None:
                os.utime(fd, ns=(stamp, stamp))
            if self._backend.durable:
                os.fsync(fd)
            token = published_token(os.fstat(fd))
            self._fd = None
            os.close(fd)
            if self._backend.durable:
                os.fsync(self._dir)
            return {"tmp": self._tmp, "id": token}
        except BaseException:
            self._discard()
            raise
        finally:
            os.close(self._dir)

    def _check_folder_unmoved(self) -> None:
        """Refuse to publish when the key's folder is no longer the one the writer holds.

        The publish itself goes through the held descriptor, so it can never
        land outside the root; this makes it land at the key it was asked for
        or nowhere (a folder renamed or swapped for a symlink meanwhile).
        """
        folder = split(self._key)[0]
        if not folder:
            return  # the root itself: held open by the backend, it cannot be swapped
        held = os.fstat(self._dir)
        try:
            now = self._backend.root_dir.lstat(folder)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise FileNotFoundError(
                errno.ENOENT, f"the folder of {self._key!r} was removed during the write"
            ) from exc
        if (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
            raise FileNotFoundError(
                errno.ENOENT, f"the folder of {self._key!r} was replaced during the write"
            )

    def _keep_mode(self, fd: int) -> None:
        """Give the temp file the permission bits (and owner) of the file it replaces."""
        try:
            old = os.stat(self._name, dir_fd=self._dir, follow_symlinks=False)
        except FileNotFoundError:
            return
        if not st.S_ISREG(old.st_mode):
            return
        mine = os.fstat(fd)
        if (old.st_uid, old.st_gid) != (mine.st_uid, mine.st_gid):
            with contextlib.suppress(PermissionError):
                os.fchown(fd, old.st_uid, old.st_gid)
        if st.S_IMODE(old.st_mode) != st.S_IMODE(mine.st_mode):
            os.fchmod(fd, st.S_IMODE(old.st_mode))

    def _publish(self) -> None:
        assert self._tmp is not None
        if self._options.overwrite:
            try:
                os.replace(self._tmp, self._name, src_dir_fd=self._dir, dst_dir_fd=self._dir)
            except IsADirectoryError as exc:
                raise FileExistsError(errno.EEXIST, f"a folder exists at {self._key!r}") from exc
            self._tmp = None  # it is the published file now
            return
        try:
            link_or_exclusive(self._dir, self._tmp, self._dir, self._name)
        except FileExistsError as exc:
            raise FileExistsError(errno.EEXIST, f"a file exists at {self._key!r}") from exc
        finally:
            self._remove_temp()

    def abort(self) -> None:
        if not self._done:
            self._done = True
            try:
                self._discard()
            finally:
                os.close(self._dir)

    def _discard(self) -> None:
        fd, self._fd = self._fd, None
        self._buf = bytearray()
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._remove_temp()

    def _remove_temp(self) -> None:
        name, self._tmp = self._tmp, None
        if name is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=self._dir)


def open_folder_for_write(root: RootDir, folder: str, key: str) -> int:
    """A descriptor of ``folder``, created when missing, for a write to ``key``.

    A file in the way is ``FileExistsError``; a symlink in the way is
    :class:`EscapesRoot` (permission denied: nothing is written through it).
    """
    try:
        return root.open_folder(folder, create=True)
    except NotADirectoryError as exc:
        raise FileExistsError(
            errno.EEXIST, f"a file stands where a folder of {key!r} is needed"
        ) from exc
    except SymlinkRefused as exc:
        raise EscapesRoot(errno.EACCES, f"{exc.strerror}; nothing was written") from None


def published_token(info: os.stat_result) -> str:
    """The version token a write hands out for ``delete_version``: device, inode, mtime
    in nanoseconds and size of the file it published. Linking or renaming the temp file
    into place keeps all four (it changes the ctime, which is why this is not ``stat``'s
    ETag); an inode is reused only after the file is gone, and then with another mtime
    unless a writer sets the same ``modified=`` and size."""
    return f"{info.st_dev:x}:{info.st_ino:x}:{info.st_mtime_ns:x}:{info.st_size:x}"


def remove_version(folder: int, name: str, version: str) -> None:
    """Unlink ``name`` in the folder ``folder`` only if it is the file ``version`` names.

    No system call unlinks "only this inode", and a check followed by an unlink by
    name is a race a concurrent ``os.replace`` wins (its new file would be deleted).
    So the name is first renamed aside to a reserved temp name (one atomic step: from
    then on no other writer can touch that file), the file is checked there, and then
    either unlinked (it is ours) or linked back under its name, create-only. Between
    the two renames (microseconds) the key is absent; if a writer creates it in that
    window, the newer file stands and the displaced one, another writer's older
    version, is dropped as an overwrite would have dropped it.
    """
    try:
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return
    if not st.S_ISREG(info.st_mode):
        raise VersionMismatch(f"{name!r} is not a file, so not the version {version!r}")
    aside = temp_name(name)
    try:
        os.rename(name, aside, src_dir_fd=folder, dst_dir_fd=folder)
    except FileNotFoundError:
        return  # gone already: the version is not there either way
    moved = os.stat(aside, dir_fd=folder, follow_symlinks=False)
    if st.S_ISREG(moved.st_mode) and published_token(moved) == version:
        os.unlink(aside, dir_fd=folder)
        return
    # Not ours: back under its name. Should that fail otherwise than "a newer file is
    # there", the error is raised and the file stays under the aside name.
    with contextlib.suppress(FileExistsError):
        link_or_exclusive(folder, aside, folder, name)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(aside, dir_fd=folder)
    raise VersionMismatch(f"{name!r} holds another version than {version!r}; it was kept")


def link_or_exclusive(src_dir: int, src: str, dst_dir: int, dst: str) -> None:
    """Give ``src``'s file the name ``dst`` only if ``dst`` does not exist (atomically).

    By ``link(2)``; on a filesystem without hard links, by an ``O_EXCL``
    placeholder then replaced (``src`` is gone afterwards in that case).
    """
    try:
        os.link(src, dst, src_dir_fd=src_dir, dst_dir_fd=dst_dir, follow_symlinks=False)
        return
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666, dir_fd=dst_dir)
    os.close(fd)
    os.replace(src, dst, src_dir_fd=src_dir, dst_dir_fd=dst_dir)
