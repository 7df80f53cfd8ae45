"""Pinned reads (``Capability.PINNED_READ``): random access to one version of a file.

:class:`SFTPPinned` opens the file once and keeps that SFTP handle (and its
session) until closed. On OpenSSH a handle is an open file descriptor on the
server, so an overwrite (a rename over the name) or a delete leaves the
version it opened readable through it: every :meth:`~SFTPPinned.read_range`
returns bytes of that one version. A file truncated or written in place
(not by this library, which always renames) gives short reads, as a local
file descriptor would.

If the connection drops, the next :meth:`~SFTPPinned.read_range` reconnects
and opens the file again *once* per failure, and goes on only when the file
there has the pinned size and modification time; otherwise (or when it is
gone) it raises :class:`~omnistorage.errors.ObjectChanged`, so the Store
raises ``ChangedDuringRead`` and never returns bytes of two versions. SFTPv3
has no inode numbers or version tags and gives times to the second: an
overwrite with the same size within the same second is not detected across a
reconnection (the open handle itself cannot be fooled).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import stat as st
import threading
from collections import deque

import paramiko
from paramiko.sftp import CMD_DATA, CMD_READ, CMD_STATUS, SFTP_FLAG_READ, SFTPError, int64
from paramiko.sftp_attr import SFTPAttributes

from omnistorage.backends.sftp._protocol import Pipe
from omnistorage.backends.sftp._session import Session, SessionPool
from omnistorage.driver import PinnedReader
from omnistorage.errors import ObjectChanged

__all__ = ["SFTPPinned", "open_file", "read_span"]

log = logging.getLogger("omnistorage.backends.sftp")

_READ_CHUNK = 261120  # OpenSSH's largest read; servers that cap lower give short reads
_READ_AHEAD = 8  # read requests in flight (about 2 MiB)


def open_file(sftp: paramiko.SFTPClient, path: str, key: str) -> tuple[Pipe, bytes, SFTPAttributes]:
    """Open the regular file ``path`` for reading: its pipe, handle and attributes.
    A folder raises ``IsADirectoryError`` (classified ``NOT_FOUND``)."""
    pipe = Pipe(sftp)
    handle = pipe.open(path, SFTP_FLAG_READ)
    try:
        attrs = pipe.fstat(handle)
        if st.S_ISDIR(attrs.st_mode or 0):
            raise IsADirectoryError(errno.EISDIR, f"{key!r} is a folder")
    except BaseException:
        with contextlib.suppress(OSError, paramiko.SSHException, EOFError):
            pipe.close_handle(handle)  # the first error is the one to report
        raise
    return pipe, handle, attrs


def read_span(pipe: Pipe, handle: bytes, offset: int, length: int) -> bytes:
    """``length`` bytes of the open ``handle`` from ``offset`` with pipelined reads
    (fewer only where the file ends early). After an error, replies may be left
    outstanding: the session is then not idle, and the pool closes it."""
    out = bytearray()
    queue: deque[tuple[int, int, int]] = deque()
    next_offset = offset
    end = offset + length
    request = _READ_CHUNK
    while True:
        while len(queue) < _READ_AHEAD and next_offset < end:
            size = min(request, end - next_offset)
            queue.append((pipe.send(CMD_READ, handle, int64(next_offset), size), next_offset, size))
            next_offset += size
        if not queue:
            return bytes(out)
        num, at, size = queue.popleft()
        t, msg = pipe.wait(num)
        if t == CMD_STATUS:
            try:
                pipe.check(t, msg)
            except EOFError:  # the file ends before the span does
                while queue:  # collect the other replies: the session stays usable
                    pipe.discard(queue.popleft()[0])
                return bytes(out)
            raise SFTPError("SFTP read returned no data")
        if t != CMD_DATA:
            raise SFTPError(f"unexpected SFTP reply type {t} to a read")
        data = msg.get_string()
        if not data:
            raise SFTPError("SFTP read returned no data")
        out += data
        if len(data) < size:  # a short read: ask for the rest first
            request = min(request, max(len(data), 4096))
            rest = at + len(data)
            again = pipe.send(CMD_READ, handle, int64(rest), size - len(data))
            queue.appendleft((again, rest, size - len(data)))


class SFTPPinned(PinnedReader):
    """One open handle on ``path``: the version that was there at construction.

    Safe to use from several threads (reads are serialised). ``read_range``
    raises :class:`~omnistorage.errors.ObjectChanged` when, after a dropped
    connection, the file is no longer the pinned version; connection errors
    that persist are raised as the pool reports them (temporary ``UNAVAILABLE``).
    """

    def __init__(self, pool: SessionPool, key: str, path: str) -> None:
        self._pool = pool
        self._key = key
        self._path = path
        self._lock = threading.Lock()
        session, (pipe, handle, attrs) = pool.call_keep(self._open, "read", retry=True)
        self._session: Session | None = session
        self._pipe = pipe
        self._handle = handle
        self._closed = False
        self.size = attrs.st_size or 0
        self._mtime = attrs.st_mtime
        self.version = f"{self.size}:{self._mtime}"

    def _open(self, sftp: paramiko.SFTPClient) -> tuple[Pipe, bytes, SFTPAttributes]:
        return open_file(sftp, self._path, self._key)

    def _reopen(self) -> None:
        """Open the file again after a dropped connection; it must be the pinned version."""
        try:
            session, (pipe, handle, attrs) = self._pool.call_keep(self._open, "read", retry=True)
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise ObjectChanged(
                f"{self._key!r} was deleted or replaced by a folder while it was being read"
            ) from exc
        if (attrs.st_size or 0, attrs.st_mtime) != (self.size, self._mtime):
            try:
                pipe.close_handle(handle)
            except (OSError, paramiko.SSHException, EOFError):
                self._pool.release(session, clean=False)
            else:
                self._pool.release(session, clean=True)
            raise ObjectChanged(
                f"{self._key!r} changed while it was being read (size or modification "
                "time differs after a reconnection)"
            )
        self._session, self._pipe, self._handle = session, pipe, handle

    def read_range(self, offset: int, length: int) -> bytes:
        length = max(0, min(length, self.size - offset))
        with self._lock:
            if self._closed:
                raise ValueError("read from a closed pinned SFTP reader")
            if length == 0:
                return b""
            for attempt in range(2):
                if self._session is None:
                    self._reopen()
                try:
                    return read_span(self._pipe, self._handle, offset, length)
                except BaseException as exc:
                    session, self._session = self._session, None
                    assert session is not None
                    lost = self._pool.failed(session, exc, f"read of {self._key!r}")
                    if lost is None:
                        raise
                    if attempt == 0:
                        log.debug("pinned read of %r lost its connection; resuming", self._key)
                        continue
                    raise lost from exc
            raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            session, self._session = self._session, None
        if session is None:
            return
        try:
            self._pipe.close_handle(self._handle)
        except (OSError, paramiko.SSHException, EOFError) as exc:
            log.debug("SFTP pinned handle not closed cleanly: %s", exc)
            self._pool.release(session, clean=False)
            return
        self._pool.release(session, clean=True)
