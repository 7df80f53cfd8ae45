"""Streaming reads of ONE version of a local file.

A file is not an immutable object: another process may rewrite it in place
while it is read, at the same size, and the reader would return the start of
one version and the end of another. :class:`OneVersionReader` notes the
file's version when it opens (device, inode, mtime and ctime in nanoseconds,
size: the strong token ``stat`` returns as ``etag``) and checks it again,
through the open descriptor, whenever the read reaches the end (a short read,
the rest read at once, or the opened size reached). A different version
raises :class:`~omnistorage.errors.ObjectChanged` (the Store raises
``ChangedDuringRead``) instead of handing out the last bytes of a mix.

The kernel stamps mtime and ctime with its coarse clock (a few milliseconds
on Linux before 6.13's multigrain timestamps), so a rewrite within the same
tick as the file's previous change cannot be told apart by the token; every
later rewrite can.
"""

from __future__ import annotations

import io
import os
from typing import Any

from omnistorage.errors import ObjectChanged

__all__ = ["OneVersionReader", "identity", "version_token"]


def version_token(info: os.stat_result) -> str:
    """The strong version of a file: device, inode, mtime and ctime in nanoseconds, and
    size. Any write changes the ctime, so equal tokens mean the same content (the kernel
    keeps ctime; no user call can set it back)."""
    return (
        f"{info.st_dev:x}:{info.st_ino:x}:{info.st_mtime_ns:x}:{info.st_ctime_ns:x}:"
        f"{info.st_size:x}"
    )


def identity(info: os.stat_result) -> tuple[int, int, int, int, int]:
    """:func:`version_token`'s fields, compared without formatting them."""
    return (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_ctime_ns, info.st_size)


class OneVersionReader(io.FileIO):
    """An unbuffered read of the open regular file ``fd`` that fails rather than return
    bytes of two versions (see the module docstring). Takes ownership of ``fd``."""

    def __init__(self, fd: int, info: os.stat_result) -> None:
        super().__init__(fd, "rb", closefd=True)
        self._version = identity(info)
        self._size = info.st_size
        self._pos = 0
        self._checked = -1  # the position the version was last checked at

    def _check(self) -> None:
        if self._checked == self._pos:
            return  # nothing read since the last check
        if identity(os.fstat(self.fileno())) != self._version:
            raise ObjectChanged(
                "the file changed while it was read (rewritten in place); the bytes read "
                "are not one version"
            )
        self._checked = self._pos

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            return self.readall()
        data = super().read(size)
        assert data is not None  # a regular file never blocks
        self._pos += len(data)
        if len(data) < size or self._pos >= self._size:
            self._check()
        return data

    def readinto(self, buffer: Any, /) -> int:
        n = super().readinto(buffer)
        assert n is not None
        self._pos += n
        if n < len(memoryview(buffer)) or self._pos >= self._size:
            self._check()
        return n

    def readall(self) -> bytes:
        data = super().readall()
        self._pos += len(data)
        self._check()
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET, /) -> int:
        self._pos = super().seek(offset, whence)
        self._checked = -1
        return self._pos
