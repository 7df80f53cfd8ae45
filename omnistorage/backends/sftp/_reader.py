"""Streaming reads: a bounded read-ahead of pipelined ``SSH_FXP_READ`` requests.

Requests stay inside the requested range ``[pos, end)``. The reader holds
its session and its open handle until closed, so it sees one version of the
file even when a writer replaces it meanwhile. A server that answers with
short reads gets smaller requests; a file that shrank since it was opened
ends the stream early.
"""

from __future__ import annotations

import io
import logging
from collections import deque

import paramiko
from paramiko.sftp import CMD_DATA, CMD_READ, CMD_STATUS, SFTPError, int64

from omnistorage.backends.sftp._protocol import Pipe
from omnistorage.backends.sftp._session import Session, SessionPool

__all__ = ["SFTPReader"]

log = logging.getLogger("omnistorage.backends.sftp")

_READ_CHUNK = 261120  # OpenSSH's largest read; servers that cap lower give short reads
_READ_AHEAD = 8  # read requests in flight per reader (about 2 MiB)


class SFTPReader(io.RawIOBase):
    """A bounded read-ahead of pipelined read requests over ``[pos, end)`` of one handle."""

    def __init__(
        self,
        pool: SessionPool,
        session: Session,
        pipe: Pipe,
        handle: bytes,
        pos: int,
        end: int,
    ) -> None:
        super().__init__()
        self._pool = pool
        self._session: Session | None = session
        self._pipe = pipe
        self._handle = handle
        self._next = pos
        self._end = end
        self._queue: deque[tuple[int, int, int]] = deque()
        self._chunk = b""
        self._chunk_pos = 0
        self._request_size = _READ_CHUNK

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        pipe = self._pipe
        while len(self._queue) < _READ_AHEAD and self._next < self._end:
            size = min(self._request_size, self._end - self._next)
            num = pipe.send(CMD_READ, self._handle, int64(self._next), size)
            self._queue.append((num, self._next, size))
            self._next += size

    def _next_chunk(self) -> bytes:
        try:
            self._fill()
            if not self._queue:
                return b""
            num, offset, size = self._queue.popleft()
            t, msg = self._pipe.wait(num)
            if t == CMD_STATUS:
                try:
                    self._pipe.check(t, msg)
                except EOFError:  # the file is shorter than it was at open
                    self._end = self._next = offset
                    while self._queue:
                        self._pipe.discard(self._queue.popleft()[0])
                    return b""
                raise SFTPError("SFTP read returned no data")
            if t != CMD_DATA:
                raise SFTPError(f"unexpected SFTP reply type {t} to a read")
            data = msg.get_string()
            if 0 < len(data) < size:  # a short read: ask for the rest first
                self._request_size = min(self._request_size, max(len(data), 4096))
                rest = offset + len(data)
                again = self._pipe.send(CMD_READ, self._handle, int64(rest), size - len(data))
                self._queue.appendleft((again, rest, size - len(data)))
            elif not data:
                raise SFTPError("SFTP read returned no data")
            return data
        except BaseException as exc:
            lost = self._lost(exc)
            if lost is None:
                raise
            raise lost from exc

    def _lost(self, exc: BaseException) -> BaseException | None:
        """Give up the session after ``exc``; the connection-lost error to raise, if any."""
        session, self._session = self._session, None
        if session is None:
            return None
        return self._pool.failed(session, exc, "read")

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("read from a closed SFTP reader")
        if self._session is None:
            raise ValueError("read from an SFTP reader whose connection failed")

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        if size is None or size < 0:
            return self.readall()
        if size == 0:
            return b""
        if self._chunk_pos >= len(self._chunk):
            self._chunk = self._next_chunk()
            self._chunk_pos = 0
        start = self._chunk_pos
        self._chunk_pos = min(len(self._chunk), start + size)
        if start == 0 and self._chunk_pos == len(self._chunk):
            return self._chunk
        return self._chunk[start : self._chunk_pos]

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        n = len(data)
        memoryview(buffer).cast("B")[:n] = data
        return n

    def readall(self) -> bytes:
        self._check_open()
        parts = [self._chunk[self._chunk_pos :]] if self._chunk_pos < len(self._chunk) else []
        self._chunk = b""
        self._chunk_pos = 0
        while chunk := self._next_chunk():
            parts.append(chunk)
        return b"".join(parts)

    def close(self) -> None:
        if self.closed:
            return
        try:
            session, self._session = self._session, None
            if session is not None:
                self._finish(session)
        finally:
            super().close()

    def _finish(self, session: Session) -> None:
        """Collect outstanding replies and close the handle, so the session is clean."""
        pipe = self._pipe
        try:
            while self._queue:
                pipe.discard(self._queue.popleft()[0])
            pipe.close_handle(self._handle)
        except (OSError, paramiko.SSHException, EOFError) as exc:
            log.debug("SFTP read handle not closed cleanly: %s", exc)
            self._pool.release(session, clean=False)
            return
        self._pool.release(session, clean=True)
