"""Whether a folder's file system folds names: probed once, with one temp file.

The same code runs on ext4 (names are bytes), on a case-insensitive volume
(macOS APFS and HFS+ by default, Windows NTFS, FAT/exFAT, SMB shares, an ext4
``casefold`` folder) and on a normalising one (APFS, HFS+: ``é`` written as
NFC or NFD names one file). Which one a folder is cannot be read from any
portable API, so :func:`probe_folding` asks the file system: it creates one
file in the reserved temp namespace (:mod:`omnistorage._tempname`: no key can
collide with it, listings skip it), looks it up under its case-swapped and
its NFD name, and removes it. The answer is the local backend's
``Features.case_insensitive`` / ``normalizes_unicode`` (and the location's
``case_insensitive``), probed on first use, in the backend's root.

A folder where no file can be created (read-only, no permission) is taken as
folding nothing: a store there can only be read, and names it lists are
distinct by construction. Folders below the root are assumed to fold as the
root does (an ext4 ``casefold`` attribute set on a sub-folder is not seen).
"""

from __future__ import annotations

import contextlib
import os
import unicodedata

from omnistorage._tempname import temp_name

__all__ = ["probe_folding"]

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
