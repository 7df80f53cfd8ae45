"""Filesystem operations on one SFTP session: publish, mkdir -p, stat, list, remove.

Each takes a ``paramiko.SFTPClient`` the caller holds exclusively and raises
paramiko's exceptions, turning the generic ``SSH_FX_FAILURE`` into a precise
error where a second look at the server can tell (a file exists, a folder is
in the way). Temporary files of in-flight writes are named by
:mod:`omnistorage._tempname` (a prefix no key may use) and never listed.
"""

from __future__ import annotations

import errno
import math
import posixpath
import stat as st
from collections import deque
from datetime import UTC, datetime

import paramiko
from paramiko.sftp import CMD_REMOVE
from paramiko.sftp_attr import SFTPAttributes

from omnistorage._tempname import is_temp_name
from omnistorage.backends.sftp._errors import is_failure
from omnistorage.backends.sftp._protocol import Pipe
from omnistorage.models import ObjectInfo

__all__ = [
    "check_mtime",
    "file_attrs",
    "file_info",
    "join",
    "lstat_or_none",
    "makedirs",
    "mtime",
    "publish",
    "read_folder",
    "remove_file",
    "remove_files",
]

_DELETE_WINDOW = 64  # remove requests in flight in delete_many


def publish(sftp: paramiko.SFTPClient, src: str, dst: str, overwrite: bool, key: str) -> None:
    """Give ``src`` the name ``dst``: replacing atomically, or only if ``dst`` is free."""
    try:
        if overwrite:
            sftp.posix_rename(src, dst)
        else:
            # SSH_FXP_RENAME fails when dst exists; OpenSSH does it with link + unlink.
            sftp.rename(src, dst)
    except OSError as exc:
        if not is_failure(exc):
            raise
        attrs = lstat_or_none(sftp, dst)
        if attrs is None:
            raise
        if not overwrite:
            raise FileExistsError(errno.EEXIST, f"a file exists at {key!r}") from exc
        if st.S_ISDIR(attrs.st_mode or 0):
            raise FileExistsError(errno.EEXIST, f"a folder exists at {key!r}") from exc
        raise


def makedirs(sftp: paramiko.SFTPClient, path: str) -> None:
    """``mkdir -p``: create ``path`` and its missing parents; an existing folder is fine."""
    missing: list[str] = []
    current = path
    while current not in ("", "/"):
        try:
            sftp.mkdir(current)
        except FileNotFoundError:
            missing.append(current)
            current = posixpath.dirname(current)
            continue
        except OSError as exc:
            if not is_failure(exc):
                raise
            _require_folder(sftp, current, exc)
        break
    for folder in reversed(missing):
        try:
            sftp.mkdir(folder)
        except OSError as exc:
            if not is_failure(exc):
                raise
            _require_folder(sftp, folder, exc)


def _require_folder(sftp: paramiko.SFTPClient, path: str, failure: OSError) -> None:
    """After a failed mkdir: fine if a folder is there (a racing creator), else raise."""
    attrs = _stat_or_none(sftp, path)
    if attrs is None:
        raise failure
    if not st.S_ISDIR(attrs.st_mode or 0):
        raise FileExistsError(
            errno.EEXIST, f"a file stands where a folder is needed: {path!r}"
        ) from failure


def lstat_or_none(sftp: paramiko.SFTPClient, path: str) -> SFTPAttributes | None:
    try:
        return sftp.lstat(path)
    except FileNotFoundError:
        return None


def _stat_or_none(sftp: paramiko.SFTPClient, path: str) -> SFTPAttributes | None:
    try:
        return sftp.stat(path)
    except FileNotFoundError:
        return None


def file_attrs(sftp: paramiko.SFTPClient, path: str) -> SFTPAttributes | None:
    """Attributes of a file or folder at ``path``; a symlink counts only when it
    points to a regular file (folder symlinks are not followed)."""
    attrs = lstat_or_none(sftp, path)
    if attrs is None or not st.S_ISLNK(attrs.st_mode or 0):
        return attrs
    target = _stat_or_none(sftp, path)
    if target is None or not st.S_ISREG(target.st_mode or 0):
        return None
    return target


def read_folder(sftp: paramiko.SFTPClient, folder: str) -> list[tuple[str, SFTPAttributes]]:
    """The files and sub-folders in ``folder`` (missing or not a folder: none).
    Temporary files are skipped; file symlinks resolved; other symlinks dropped."""
    try:
        entries = Pipe(sftp).listdir(folder)
    except FileNotFoundError:
        return []
    out: list[tuple[str, SFTPAttributes]] = []
    for name, attrs in entries:
        if is_temp_name(name):
            continue
        mode = attrs.st_mode or 0
        if st.S_ISLNK(mode):
            target = _stat_or_none(sftp, join(folder, name))
            if target is None or not st.S_ISREG(target.st_mode or 0):
                continue
            attrs = target
        elif not (st.S_ISREG(mode) or st.S_ISDIR(mode)):
            continue
        out.append((name, attrs))
    return out


def remove_file(sftp: paramiko.SFTPClient, path: str) -> None:
    try:
        sftp.remove(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        if not is_failure(exc):
            raise
        attrs = lstat_or_none(sftp, path)
        if attrs is None or st.S_ISDIR(attrs.st_mode or 0):
            return  # gone meanwhile, or a folder: there is no file to delete
        raise


def remove_files(sftp: paramiko.SFTPClient, paths: list[str]) -> None:
    """Remove many files with pipelined requests; missing ones are fine."""
    pipe = Pipe(sftp)
    pending: deque[tuple[int, str]] = deque()
    failed: list[str] = []
    first_error: BaseException | None = None

    def collect() -> None:
        nonlocal first_error
        num, path = pending.popleft()
        try:
            pipe.status(num)
        except FileNotFoundError:
            return
        except OSError as exc:
            if is_failure(exc):
                failed.append(path)
            elif first_error is None:
                first_error = exc

    for path in paths:
        pending.append((pipe.send(CMD_REMOVE, path), path))
        if len(pending) >= _DELETE_WINDOW:
            collect()
    while pending:
        collect()
    if first_error is not None:
        raise first_error
    for path in failed:
        remove_file(sftp, path)


def file_info(key: str, attrs: SFTPAttributes) -> ObjectInfo:
    return ObjectInfo(path=key, size=attrs.st_size or 0, modified=mtime(attrs))


def mtime(attrs: SFTPAttributes) -> datetime | None:
    if attrs.st_mtime is None:
        return None
    return datetime.fromtimestamp(attrs.st_mtime, UTC)


def check_mtime(modified: datetime) -> int:
    """Seconds since the epoch for SFTPv3's unsigned 32-bit times (1970-2106)."""
    stamp = math.floor(modified.timestamp())
    if not 0 <= stamp < 1 << 32:
        raise ValueError(f"SFTP stores modification times from 1970 to 2106, not {modified}")
    return stamp


def join(folder: str, name: str) -> str:
    return folder + name if folder.endswith("/") else f"{folder}/{name}"
