"""Atomic writes: stream into a hidden temporary file beside the target, then publish.

The data goes to a temp file named by :func:`omnistorage._tempname.temp_name`
(random per attempt and unique across ``fork``, a prefix no key may use, cut
to 255 bytes) in the target's folder (created as needed) with pipelined
``SSH_FXP_WRITE`` requests, a bounded number in flight and every reply
checked. ``close`` sets the
modification time and fsyncs (when asked), closes the handle and publishes
(:func:`~omnistorage.backends.sftp._ops.publish`: atomic replace, or
create-only). An overwrite first gives the temp file the replaced file's
permission bits (and owner and group, where the server allows). An abort,
an exception or a failed publish removes the temporary file; when the
connection is gone, the pool removes it on the next connection.
"""

from __future__ import annotations

import contextlib
import logging
import stat as st
import zlib
from collections import deque
from typing import Any

import paramiko
from paramiko.sftp import (
    CMD_CLOSE,
    CMD_EXTENDED,
    CMD_FSETSTAT,
    CMD_WRITE,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_EXCL,
    SFTP_FLAG_TRUNC,
    SFTP_FLAG_WRITE,
    int64,
)
from paramiko.sftp_attr import SFTPAttributes

from omnistorage._tempname import temp_name
from omnistorage.backends.sftp._errors import is_failure
from omnistorage.backends.sftp._ops import check_mtime, join, lstat_or_none, makedirs, publish
from omnistorage.backends.sftp._protocol import Pipe
from omnistorage.backends.sftp._session import SessionPool
from omnistorage.driver import WriteOptions, Writer

__all__ = ["SFTPWriter"]

log = logging.getLogger("omnistorage.backends.sftp")

_CHUNK = 32768  # the write size every SFTP server accepts
_WRITE_WINDOW = 32  # write requests in flight per writer (1 MiB)


class SFTPWriter(Writer):
    """Streams into a hidden temporary file beside ``path``; close publishes it.

    ``key`` names the target in error messages; ``durable`` asks the server to
    fsync before publishing (``fsync@openssh.com``).
    """

    def __init__(
        self, pool: SessionPool, key: str, path: str, options: WriteOptions, *, durable: bool
    ) -> None:
        self._pool = pool
        self._key = key
        self._options = options
        self._durable = durable
        self._final = path
        folder, _, name = self._final.rpartition("/")
        folder = folder or "/"
        self._tmp = ""
        self._buffer = bytearray()
        self._offset = 0
        self._inflight: deque[int] = deque()
        self._crc = 0  # CRC32 of the bytes sent: the staged file's identity (stage())
        self._done = False
        self._released = False

        def start(sftp: paramiko.SFTPClient) -> tuple[Pipe, bytes]:
            # A fresh name per attempt: a retried open never meets its own first try.
            self._tmp = tmp = join(folder, temp_name(name))
            pipe = Pipe(sftp)
            flags = SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | SFTP_FLAG_EXCL | SFTP_FLAG_TRUNC
            try:
                try:
                    return pipe, pipe.open(tmp, flags)
                except OSError as exc:
                    if not (isinstance(exc, FileNotFoundError) or is_failure(exc)):
                        raise
                makedirs(sftp, folder)
                return pipe, pipe.open(tmp, flags)
            except BaseException:
                channel = sftp.get_channel()
                if channel is None or channel.closed:  # the open may have happened
                    pool.orphan(tmp)
                raise

        self._session, (self._pipe, handle) = pool.call_keep(start, "write", retry=True)
        self._handle: bytes | None = handle

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._done:
            raise ValueError("write to a finished writer")
        view = memoryview(data).cast("B")
        size = len(view)
        try:
            pos = 0
            if self._buffer:
                take = min(size, _CHUNK - len(self._buffer))
                self._buffer += view[:take]
                pos = take
                if len(self._buffer) >= _CHUNK:
                    self._send(bytes(self._buffer))
                    self._buffer.clear()
            while size - pos >= _CHUNK:
                self._send(bytes(view[pos : pos + _CHUNK]))
                pos += _CHUNK
            if pos < size:
                self._buffer += view[pos:]
        except BaseException as exc:
            lost = self._fail(exc)
            if lost is None:
                raise
            raise lost from exc
        return size

    def _send(self, chunk: bytes) -> None:
        self._crc = zlib.crc32(chunk, self._crc)
        num = self._pipe.send(CMD_WRITE, self._handle, int64(self._offset), chunk)
        self._inflight.append(num)
        self._offset += len(chunk)
        while len(self._inflight) > _WRITE_WINDOW:
            self._pipe.status(self._inflight.popleft())

    def close(self) -> None:
        self._finish(publish_it=True)

    def stage(self) -> dict[str, Any]:
        """Finish the temp file (data, mtime, fsync, mode) and leave it unpublished: its
        name, size and CRC32 are what ``publish_staged`` needs
        (:mod:`omnistorage.backends.sftp._staged`)."""
        self._finish(publish_it=False)
        return {"tmp": self._tmp.rpartition("/")[2], "size": self._offset, "crc32": self._crc}

    def _finish(self, *, publish_it: bool) -> None:
        if self._done:
            raise ValueError("writer already finished")
        self._done = True
        pipe = self._pipe
        try:
            if self._buffer:
                self._send(bytes(self._buffer))
                self._buffer.clear()
            # Pipelined after the data: the mtime, fsync, and closing the handle.
            followers: list[int] = []
            modified = self._options.modified
            if modified is not None:
                attrs = SFTPAttributes()
                stamp = check_mtime(modified)
                attrs.st_atime = attrs.st_mtime = stamp
                followers.append(pipe.send(CMD_FSETSTAT, self._handle, attrs))
            if self._durable:
                followers.append(pipe.send(CMD_EXTENDED, "fsync@openssh.com", self._handle))
            handle, self._handle = self._handle, None
            followers.append(pipe.send(CMD_CLOSE, handle))
            try:
                while self._inflight:
                    pipe.status(self._inflight.popleft())
            finally:
                for num in followers:  # collected even after an error, then re-checked
                    self._inflight.append(num)
            while self._inflight:
                pipe.status(self._inflight.popleft())
            if self._options.overwrite:
                self._keep_mode()
            if publish_it:
                publish(
                    self._session.sftp, self._tmp, self._final, self._options.overwrite, self._key
                )
        except BaseException as exc:
            lost = self._fail(exc)
            if lost is None:
                raise
            raise lost from exc
        self._released = True
        self._pool.release(self._session, clean=True)

    def _keep_mode(self) -> None:
        """Give the temp file the mode (and owner) of the regular file it will replace."""
        sftp = self._session.sftp
        old = lstat_or_none(sftp, self._final)
        if old is None or not st.S_ISREG(old.st_mode or 0):
            return
        mine = sftp.lstat(self._tmp)
        if (old.st_uid, old.st_gid) != (mine.st_uid, mine.st_gid) and old.st_uid is not None:
            try:
                sftp.chown(self._tmp, old.st_uid, old.st_gid or 0)
            except PermissionError:
                pass  # only a privileged account may give files away
            except OSError as exc:
                if not is_failure(exc):
                    raise
        wanted = st.S_IMODE(old.st_mode or 0)
        if wanted != st.S_IMODE(mine.st_mode or 0):
            sftp.chmod(self._tmp, wanted)

    def abort(self) -> None:
        self._done = True
        if not self._released:
            self._discard()

    def _fail(self, exc: BaseException) -> BaseException | None:
        """Discard the temporary file after ``exc``; the connection-lost error to raise
        instead of ``exc``, if that is what happened."""
        self._done = True
        return self._discard(exc)

    def _discard(self, exc: BaseException | None = None) -> BaseException | None:
        """Close and remove the temporary file and release the session, as far as the
        connection allows; a temp file that cannot be removed now is removed on the
        next connection. Returns the connection-lost error to raise, if any."""
        if self._released:
            return None
        self._released = True
        session = self._session
        pipe = self._pipe
        removed = False
        problem: BaseException | None = exc
        if session.alive():
            try:
                while self._inflight:
                    pipe.discard(self._inflight.popleft())
                if self._handle is not None:
                    handle, self._handle = self._handle, None
                    pipe.discard(pipe.send(CMD_CLOSE, handle))
                with contextlib.suppress(FileNotFoundError):
                    session.sftp.remove(self._tmp)
                removed = True
            except (OSError, paramiko.SSHException, EOFError) as cleanup_error:
                log.debug("could not remove %s now: %s", self._tmp, cleanup_error)
                problem = problem or cleanup_error
        if not removed:
            self._pool.orphan(self._tmp)
        if problem is None:
            self._pool.release(session, clean=True)
            return None
        return self._pool.failed(session, problem, f"write of {self._key!r}")
