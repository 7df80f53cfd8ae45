"""Race-free resolution of keys beneath a root folder, by file descriptors.

Every operation of the local backend starts here. A key's folder is opened
relative to a descriptor of the root that the backend holds for its whole
life, one segment at a time, never following a symlink; the operation then
runs relative to that folder's descriptor (``dir_fd=``). There is no path
check that a concurrent rename could invalidate between check and use, and
no cache of verified folders: each call resolves afresh, so a folder swapped
for a symlink, at any moment, is refused by the next call.

On Linux ≥ 5.6 the whole walk is one ``openat2(2)`` call with
``RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`` (the kernel
refuses any escape and any symlink, atomically). Elsewhere, or where a
sandbox refuses the system call, the walk is done segment by segment with
``openat(O_DIRECTORY | O_NOFOLLOW)``: the same guarantee, a few more calls.

What a resolved descriptor does *not* defend against: once a folder is
open, it stays that folder. If another process moves it out of the root
while an operation is in flight, that one operation completes in the moved
folder (as with Go's ``os.Root`` and ``openat2``); the next call resolves
afresh and no longer reaches it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat as st
import sys
from collections.abc import Iterator

__all__ = ["EscapesRoot", "RootDir", "SymlinkRefused"]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_DIR = os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC
_O_READ = os.O_RDONLY | _NOFOLLOW | _CLOEXEC
_O_PATH = getattr(os, "O_PATH", 0)
_O_LSTAT = _O_PATH | _NOFOLLOW | _CLOEXEC

# openat2(2): resolve flags from <linux/openat2.h>; the syscall number is the
# same on every architecture that has it (it was added after the unification).
_SYS_OPENAT2 = 437
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08
_RESOLVE = _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS


class EscapesRoot(PermissionError):
    """A key would resolve outside the backend root."""


class SymlinkRefused(FileNotFoundError):
    """A key runs through a symlink; the local backend never follows symlinks.

    For lookups a symlink is not an object of the store, so this is a
    not-found error (``exists`` is False); writes through one raise
    :class:`EscapesRoot` instead.
    """


class _OpenHow(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    ]


def _load_syscall() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syscall = libc.syscall
    except (OSError, AttributeError):
        return None
    syscall.restype = ctypes.c_long
    return syscall


_syscall = _load_syscall()
_openat2_works: bool | None = None if _syscall is not None else False


_HOW: dict[int, tuple[object, int]] = {}


def _how(flags: int) -> tuple[object, int]:
    """The ``open_how`` argument for ``flags``, built once (the call is hot)."""
    cached = _HOW.get(flags)
    if cached is None:
        how = _OpenHow(flags, 0, _RESOLVE)
        cached = _HOW[flags] = (ctypes.byref(how), ctypes.sizeof(how))
        _KEEP.append(how)
    return cached


_KEEP: list[_OpenHow] = []


def _openat2(dir_fd: int, path: str, flags: int) -> int | None:
    """``openat2`` beneath ``dir_fd`` without symlinks; None when the kernel lacks it.

    Raises the ``OSError`` the kernel reports (``ELOOP`` for a symlink,
    ``EXDEV`` for an escape, ``ENOENT``, ``ENOTDIR`` …).
    """
    global _openat2_works
    if _openat2_works is False:
        return None
    how, size = _how(flags)
    encoded = path.encode("utf-8", "surrogateescape")
    for _ in range(4):
        fd: int = _syscall(_SYS_OPENAT2, dir_fd, encoded, how, size)  # type: ignore[operator]
        if fd >= 0:
            _openat2_works = True
            return fd
        code = ctypes.get_errno()
        if code == errno.EAGAIN:  # a concurrent rename raced the lookup: try again
            continue
        if code in (errno.ENOSYS, errno.EPERM) and _openat2_works is None:
            # Old kernel, or a sandbox that filters the call: walk instead, from now on.
            _openat2_works = False
            return None
        raise OSError(code, os.strerror(code), path)
    return None


def force_walk(enabled: bool) -> None:
    """Testing hook: resolve by the portable walk (``True``) or probe ``openat2`` again."""
    global _openat2_works
    _openat2_works = False if enabled else (None if _syscall is not None else False)


class RootDir:
    """A root folder held open; keys resolve beneath it and nowhere else."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | _DIRECTORY | _CLOEXEC)

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # ------------------------------------------------------------ folders

    def open_folder(self, folder: str, *, create: bool = False) -> int:
        """A new descriptor of ``folder`` ("" is the root); the caller closes it.

        Raises ``FileNotFoundError`` (missing and not ``create``),
        ``NotADirectoryError`` (a segment is a file), :class:`SymlinkRefused`.
        """
        if not folder:
            return os.dup(self.fd)
        if "/" not in folder:
            try:  # one segment: a plain O_NOFOLLOW open is already contained
                return os.open(folder, _O_DIR, dir_fd=self.fd)
            except FileNotFoundError:
                if not create:
                    raise
                return self._walk(folder, create=True)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                return self._walk(folder, create=create)  # names what is in the way
        try:
            fd = _openat2(self.fd, folder, _O_DIR)
        except OSError as exc:
            if exc.errno == errno.ENOENT and create:
                return self._walk(folder, create=True)
            if exc.errno in (errno.ELOOP, errno.EXDEV, errno.ENOTDIR):
                return self._walk(folder, create=create)  # names the offending segment
            raise
        if fd is not None:
            return fd
        return self._walk(folder, create=create)

    def _walk(self, folder: str, *, create: bool) -> int:
        current = os.dup(self.fd)
        walked = ""
        try:
            for segment in folder.split("/"):
                walked = f"{walked}/{segment}" if walked else segment
                nxt = self._step(current, segment, walked, create)
                os.close(current)
                current = nxt
        except BaseException:
            os.close(current)
            raise
        return current

    def _step(self, parent: int, segment: str, walked: str, create: bool) -> int:
        for _ in range(8):
            try:
                return os.open(segment, _O_DIR, dir_fd=parent)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(segment, 0o777, dir_fd=parent)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                self._raise_not_folder(parent, segment, walked, exc)
        raise FileNotFoundError(errno.ENOENT, f"folder {walked!r} keeps vanishing")

    @staticmethod
    def _raise_not_folder(parent: int, segment: str, walked: str, exc: OSError) -> None:
        try:
            info = os.stat(segment, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return  # removed meanwhile: the caller's loop tries again
        if st.S_ISLNK(info.st_mode):
            raise SymlinkRefused(
                errno.ENOENT,
                f"{walked!r} is a symlink; the local backend does not follow symlinks",
            ) from None
        raise NotADirectoryError(errno.ENOTDIR, f"{walked!r} is a file, not a folder") from exc

    # ------------------------------------------------------------ files

    def open_file(self, key: str, flags: int = _O_READ) -> int:
        """Open the regular file or folder ``key`` with ``flags`` (no symlink anywhere)."""
        if "/" not in key:
            return _open_in(self.fd, key, key, flags)
        try:
            fd = _openat2(self.fd, key, flags | _NOFOLLOW | _CLOEXEC)
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.EXDEV, errno.ENOTDIR):
                raise
            fd = None  # let the walk name the symlink
        if fd is not None:
            return fd
        folder, name = split(key)
        with self.folder(folder) as parent:
            return _open_in(parent, name, key, flags)

    def lstat(self, key: str) -> os.stat_result:
        """``lstat`` of ``key`` resolved beneath the root (its folder without symlinks)."""
        if "/" not in key:  # one segment: no folder to resolve, nothing to follow
            return os.stat(key, dir_fd=self.fd, follow_symlinks=False)
        if _O_PATH and _openat2_works is not False:
            try:
                fd = _openat2(self.fd, key, _O_LSTAT)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.EXDEV):
                    raise
                fd = None
            if fd is not None:
                try:
                    return os.fstat(fd)
                finally:
                    os.close(fd)
        folder, name = split(key)
        with self.folder(folder) as parent:
            return os.stat(name, dir_fd=parent, follow_symlinks=False)

    @contextlib.contextmanager
    def folder(self, folder: str, *, create: bool = False) -> Iterator[int]:
        """:meth:`open_folder` as a context manager that closes the descriptor."""
        fd = self.open_folder(folder, create=create)
        try:
            yield fd
        finally:
            os.close(fd)


def _open_in(parent: int, name: str, key: str, flags: int) -> int:
    """Open ``name`` in the folder ``parent`` without following a final symlink."""
    try:
        return os.open(name, flags | _NOFOLLOW | _CLOEXEC, dir_fd=parent)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SymlinkRefused(
                errno.ENOENT, f"{key!r} is a symlink; the local backend does not follow symlinks"
            ) from None
        raise


def split(key: str) -> tuple[str, str]:
    """``("a/b", "c")`` for ``"a/b/c"``; ``("", "c")`` for ``"c"``."""
    folder, _, name = key.rpartition("/")
    return folder, name
