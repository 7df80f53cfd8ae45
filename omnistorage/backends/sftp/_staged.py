"""Deferred publish over SFTP: a staged write is a finished temp file, renamed later.

:meth:`~omnistorage.backends.sftp._writer.SFTPWriter.stage` leaves the temp file
(``.omnistorage-tmp-<hex>-<name>``, hidden from listings) beside the target, closed,
with its mtime and mode set, and hands out its name, size and CRC32. Publishing renames
it into place (atomic replace, or create-only: see
:func:`~omnistorage.backends.sftp._ops.publish`). SFTP v3 has no inode to tell one file
from another, so a publish retried after a lost reply that finds the temp file gone
and a file of that size at the target reads the target back and compares its CRC32:
equal, it is ours and the publish succeeds; else the staged file is gone
(``FileNotFoundError``). Discarding removes the temp file while it has the staged size.
"""

from __future__ import annotations

import re
import stat as st
import zlib
from collections.abc import Mapping
from typing import Any

import paramiko

from omnistorage._staging import TokenRejected, int_field, str_field
from omnistorage._tempname import TEMP_MARK
from omnistorage.backends.sftp._ops import join, lstat_or_none, publish

__all__ = ["abort_staged", "publish_staged"]

_TMP = re.compile(re.escape(TEMP_MARK) + r"[0-9a-f]{16}-[^/\x00]{0,240}", re.DOTALL)
_READ = 1 << 20


def _fields(path: str, staged: Mapping[str, Any]) -> tuple[str, int, int]:
    folder, _, name = path.rpartition("/")
    tmp = str_field(staged, "tmp", _TMP)
    tail = tmp[len(TEMP_MARK) + 17 :]
    if len(tmp.encode("utf-8", "surrogatepass")) > 255 or not name.startswith(tail):
        raise TokenRejected("staged temp file does not belong to this key")
    size = int_field(staged, "size", 0, 1 << 62)
    crc = int_field(staged, "crc32", 0, 0xFFFFFFFF)
    return join(folder or "/", tmp), size, crc


def _same_content(sftp: paramiko.SFTPClient, path: str, size: int, crc: int) -> bool:
    attrs = lstat_or_none(sftp, path)
    if attrs is None or not st.S_ISREG(attrs.st_mode or 0) or attrs.st_size != size:
        return False
    found = 0
    with sftp.open(path, "rb") as handle:
        while chunk := handle.read(_READ):
            found = zlib.crc32(chunk, found)
    return found == crc


def publish_staged(
    sftp: paramiko.SFTPClient, path: str, key: str, staged: Mapping[str, Any], *, overwrite: bool
) -> None:
    """Rename the staged temp file of ``key`` (at ``path``) into place."""
    tmp, size, crc = _fields(path, staged)
    attrs = lstat_or_none(sftp, tmp)
    if attrs is None or not st.S_ISREG(attrs.st_mode or 0) or attrs.st_size != size:
        if _same_content(sftp, path, size, crc):
            return  # published already: a retry after a lost reply
        raise FileNotFoundError(f"nothing staged for {key!r} under that token")
    publish(sftp, tmp, path, overwrite, key)


def abort_staged(sftp: paramiko.SFTPClient, path: str, staged: Mapping[str, Any]) -> None:
    """Remove the staged temp file while it has the staged size; gone is fine."""
    tmp, size, _ = _fields(path, staged)
    attrs = lstat_or_none(sftp, tmp)
    if attrs is not None and st.S_ISREG(attrs.st_mode or 0) and attrs.st_size == size:
        try:
            sftp.remove(tmp)
        except FileNotFoundError:
            return
