"""Deferred publish on local disks: a staged write is a finished temp file, renamed later.

:meth:`~omnistorage.backends.local._writer.LocalWriter.stage` leaves the temp file
(``.omnistorage-tmp-<hex>-<name>``, hidden from listings) beside the target and hands out
its name and identity (device, inode, mtime, size: what a link or rename keeps). Publishing
opens the key's folder by descriptor with no-follow, checks that the temp file there is
still that file, and links it into place create-only (or renames it over the target with
``overwrite``). A publish retried after a crash or a lost reply finds the target already
holding that identity and succeeds. Discarding unlinks the temp file only while it is
still the staged one.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat as st
from collections.abc import Mapping
from typing import Any

from omnistorage._staging import TokenRejected, str_field
from omnistorage._tempname import TEMP_MARK
from omnistorage.backends.local._resolve import RootDir, split
from omnistorage.backends.local._writer import link_or_exclusive, published_token

__all__ = ["abort_staged", "publish_staged"]

_TMP = re.compile(re.escape(TEMP_MARK) + r"[0-9a-f]{16}-[^/\x00]{0,240}", re.DOTALL)
_ID = re.compile(r"[0-9a-f]{1,16}(:[0-9a-f]{1,20}){3}")


def _fields(key: str, staged: Mapping[str, Any]) -> tuple[str, str, str, str]:
    folder, name = split(key)
    tmp = str_field(staged, "tmp", _TMP)
    ident = str_field(staged, "id", _ID)
    # The temp name ends with (a prefix of) the target's own name: a token for
    # another key's temp file is refused, not published under this one.
    tail = tmp[len(TEMP_MARK) + 17 :]
    if len(tmp.encode("utf-8", "surrogatepass")) > 255 or not name.startswith(tail):
        raise TokenRejected("staged temp file does not belong to this key")
    return folder, name, tmp, ident


def _identity(parent: int, name: str) -> str | None:
    try:
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return published_token(info) if st.S_ISREG(info.st_mode) else ""


def publish_staged(
    root: RootDir, durable: bool, key: str, staged: Mapping[str, Any], *, overwrite: bool
) -> str:
    """Publish the staged temp file at ``key``; return its version token."""
    folder, name, tmp, ident = _fields(key, staged)
    try:
        parent = root.open_folder(folder)
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"nothing staged for {key!r}: its folder is gone") from None
    try:
        if _identity(parent, tmp) != ident:
            if _identity(parent, name) == ident:
                return ident  # published already: a retry after a crash or lost reply
            raise FileNotFoundError(f"nothing staged for {key!r} under that token")
        if overwrite:
            os.replace(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
        else:
            try:
                link_or_exclusive(parent, tmp, parent, name)
            except FileExistsError:
                if _identity(parent, name) != ident:
                    raise FileExistsError(f"a file exists at {key!r}") from None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=parent)
        if durable:
            os.fsync(parent)
        return ident
    finally:
        os.close(parent)


def abort_staged(root: RootDir, key: str, staged: Mapping[str, Any]) -> None:
    """Unlink the staged temp file of ``key`` while it is still the staged one."""
    folder, _, tmp, ident = _fields(key, staged)
    try:
        parent = root.open_folder(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        if _identity(parent, tmp) == ident:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=parent)
    finally:
        os.close(parent)
