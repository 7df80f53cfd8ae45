"""Whether a folder's file system folds names, found once per local backend.

The same code runs on ext4 (names are bytes), on a case-insensitive volume
(macOS APFS and HFS+ by default, Windows NTFS, FAT/exFAT, SMB shares, an ext4
``casefold`` folder) and on a normalising one (APFS, HFS+: ``é`` written as
NFC or NFD names one file). The answer is the local backend's
``Features.case_insensitive`` / ``normalizes_unicode``.

:func:`folding` asks without writing anything where the system can say: on
Linux, the folder's ``casefold`` attribute (``FS_IOC_GETFLAGS``) and its file
system type (``fstatfs``: FAT, exFAT, NTFS, SMB/CIFS and HFS+ fold case).
Elsewhere :func:`probe_folding` asks the file system: it creates one file in
the reserved temp namespace (:mod:`omnistorage._tempname`: no key can collide
with it, listings skip it), looks it up under its case-swapped and its NFD
name, and removes it (which touches the folder's mtime once).

A folder where no file can be created (read-only, no permission) is taken as
folding nothing: a store there can only be read, and names it lists are
distinct by construction. Folders below the root are assumed to fold as the
root does (an ext4 ``casefold`` attribute set on a sub-folder is not seen).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import os
import struct
import sys
import unicodedata
from collections.abc import Callable

from omnistorage._tempname import temp_name

__all__ = ["folding", "probe_folding"]

_FS_IOC_GETFLAGS = 0x80086601 if struct.calcsize("l") == 8 else 0x80046601
_FS_CASEFOLD_FL = 0x40000000
# fstatfs f_type of file systems that fold case (linux/magic.h); HFS+ also normalises.
_FOLDING_TYPES = {
    0x4D44: "msdos/vfat",
    0x2011BAB0: "exfat",
    0x5346544E: "ntfs",
    0xFF534D42: "cifs",
    0xFE534D42: "smb2",
    0x517B: "smb",
    0x482B: "hfsplus",
}
_NORMALIZING_TYPES = {0x482B}


def folding(folder_fd: int) -> tuple[bool, bool]:
    """``(case_insensitive, normalizes_unicode)`` of the folder open as ``folder_fd``:
    read from the system on Linux (nothing written), probed elsewhere."""
    if sys.platform.startswith("linux"):
        found = _linux_folding(folder_fd)
        if found is not None:
            return found
    return probe_folding(folder_fd)


@functools.cache
def _fstatfs() -> Callable[[int, ctypes.Array[ctypes.c_char]], int] | None:
    try:
        function = ctypes.CDLL(None, use_errno=True).fstatfs
    except (OSError, AttributeError):
        return None
    return function


def _linux_folding(folder_fd: int) -> tuple[bool, bool] | None:
    try:
        raw = fcntl.ioctl(folder_fd, _FS_IOC_GETFLAGS, b"\0" * 8)
    except OSError:
        flags = 0  # a file system without attribute flags (tmpfs, NFS …)
    else:
        flags = struct.unpack_from("i", raw)[0]
    if flags & _FS_CASEFOLD_FL:
        return True, True  # the kernel's UTF-8 casefolding also normalises
    fstatfs = _fstatfs()
    buffer = ctypes.create_string_buffer(256)  # struct statfs is 120 bytes on 64-bit
    if fstatfs is None or fstatfs(folder_fd, buffer) != 0:
        return None
    kind = struct.unpack_from("l", buffer.raw)[0] & 0xFFFFFFFF
    return kind in _FOLDING_TYPES, kind in _NORMALIZING_TYPES


_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def probe_folding(folder_fd: int) -> tuple[bool, bool]:
    """``(case_insensitive, normalizes_unicode)`` of the folder open as ``folder_fd``."""
    for stem in ("Probe-\u00e9", "Probe"):  # a volume refusing non-ASCII names: ASCII only
        name = temp_name(unicodedata.normalize("NFC", stem))
        try:
            fd = os.open(name, _FLAGS, 0o600, dir_fd=folder_fd)
        except OSError:
            continue
        try:
            made = os.fstat(fd)
            os.close(fd)
            decomposed = unicodedata.normalize("NFD", name)
            folds_case = _same(folder_fd, name.swapcase(), made)
            return folds_case, decomposed != name and _same(folder_fd, decomposed, made)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=folder_fd)
    return False, False


def _same(folder_fd: int, other: str, made: os.stat_result) -> bool:
    """The name ``other`` (when it differs from the probe's) finds the probe file."""
    try:
        found = os.stat(other, dir_fd=folder_fd, follow_symlinks=False)
    except OSError:
        return False
    return (found.st_dev, found.st_ino) == (made.st_dev, made.st_ino)
