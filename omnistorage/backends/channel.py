"""The channel backend: in-process streaming pipes keyed like files (Go's channel backend).

A writer on a key streams into a bounded buffer that one concurrent reader of
the same key consumes, with back-pressure: ``write`` blocks while the buffer
is full. Nothing is stored: reading *takes* the stream (the key disappears
from ``exists`` and listings once a reader claims it), and the bytes are gone
once read.

- ``close()`` on the writer ends the stream: the reader drains the buffer and
  then sees end-of-file.
- ``abort()`` on the writer (or an exception inside ``open_writer``'s block)
  makes the reader fail with :class:`StreamAborted`: a consumer never
  mistakes a broken stream for a complete one.
- A reader that closes early makes further writes fail with
  ``BrokenPipeError``.
- Create-only is atomic: of racing writers on one key exactly one gets the
  pipe. ``overwrite=True`` replaces a pipe whose writer has finished but which
  nobody has read (its bytes are dropped); a pipe still being written is never
  replaced.

Capabilities: READ, WRITE, DELETE, LIST, METADATA (bytes written so far),
CONDITIONAL_WRITE and STREAMING. Not ATOMIC_WRITE: a reader sees bytes before
the writer closes, so use ``Store.open_writer`` (not ``open_atomic``).
"""

from __future__ import annotations

import collections
import io
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO
from urllib.parse import SplitResult, unquote

from omnistorage._io import LimitedReader
from omnistorage.capabilities import Capability, Features
from omnistorage.driver import ExtendedBackend, WriteOptions, Writer
from omnistorage.errors import Classification, ErrorKind, classify_builtin
from omnistorage.models import ObjectInfo
from omnistorage.options import OptionSchema, arguments, integer, number

__all__ = ["ChannelBackend", "StreamAborted", "parse_url"]

_FEATURES = Features.of(
    [
        Capability.READ,
        Capability.WRITE,
        Capability.DELETE,
        Capability.LIST,
        Capability.METADATA,
        Capability.CONDITIONAL_WRITE,
        Capability.STREAMING,
    ]
)


class StreamAborted(Exception):
    """The writer of a channel aborted: the stream is incomplete."""


class _Pipe:
    def __init__(self, capacity: int) -> None:
        self.cond = threading.Condition()
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.capacity = capacity
        self.written = 0
        self.created = datetime.now(UTC)
        self.writer_open = True
        self.aborted = False
        self.claimed = False
        self.reader_gone = False
        self.deleted = False


OPTIONS = OptionSchema(
    "channel",
    integer("buffer_size", ge=1, unit="bytes"),
    number("timeout", ge=0, nullable=True, unit="seconds"),
    number("wait_for_writer", ge=0, unit="seconds"),
)
"""The options of :class:`ChannelBackend`."""


class ChannelBackend(ExtendedBackend):
    """Bounded in-process pipes.

    Args:
        buffer_size: bytes a pipe holds before ``write`` blocks.
        timeout: seconds a blocked ``write`` or ``read`` waits before
            ``TimeoutError`` (``None``: forever).
        wait_for_writer: seconds a reader of a key with no writer yet waits
            for one to appear before ``NotFound`` (0: fail at once).
    """

    name = "channel"
    options_schema = OPTIONS
    may_declare = _FEATURES.capabilities

    def __init__(
        self,
        *,
        buffer_size: int = 1 << 20,
        timeout: float | None = 60.0,
        wait_for_writer: float = 0.0,
    ) -> None:
        self.check_config(arguments(locals()))
        self._capacity = buffer_size
        self._timeout = timeout if timeout and timeout > 0 else None
        self._wait_for_writer = wait_for_writer
        self._pipes: dict[str, _Pipe] = {}
        self._lock = threading.Condition()

    def __repr__(self) -> str:
        return f"ChannelBackend(buffer_size={self._capacity})"

    def features(self) -> Features:
        return _FEATURES

    def classify_error(self, exc: BaseException) -> Classification:
        if isinstance(exc, StreamAborted | BrokenPipeError):
            return Classification(ErrorKind.UNKNOWN)
        return classify_builtin(exc)

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        with self._lock:
            current = self._pipes.get(key)
            if current is not None and not current.claimed:
                if not options.overwrite or current.writer_open:
                    raise FileExistsError(f"a stream is already open or unread at {key!r}")
                current.deleted = True
            pipe = _Pipe(self._capacity)
            self._pipes[key] = pipe
            self._lock.notify_all()
        return _ChannelWriter(self, key, pipe)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        deadline = time.monotonic() + self._wait_for_writer
        with self._lock:
            while True:
                pipe = self._pipes.get(key)
                if pipe is not None and not pipe.claimed:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise FileNotFoundError(f"no stream at {key!r}")
                self._lock.wait(left)
            pipe.claimed = True
        reader = _ChannelReader(self, key, pipe)
        if offset:
            _skip(reader, offset)
        if length is not None:
            return LimitedReader(reader, length)  # type: ignore[arg-type, return-value]
        return reader  # type: ignore[return-value]

    def exists(self, key: str) -> bool:
        pipe = self._pipes.get(key)
        return pipe is not None and not pipe.claimed

    def delete(self, key: str) -> None:
        with self._lock:
            pipe = self._pipes.get(key)
            if pipe is None or pipe.claimed:
                return
            del self._pipes[key]
        with pipe.cond:
            pipe.deleted = True
            pipe.chunks.clear()
            pipe.buffered = 0
            pipe.cond.notify_all()

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        with self._lock:
            items = [
                (k, p) for k, p in self._pipes.items() if k.startswith(prefix) and not p.claimed
            ]
        cut = len(prefix)
        folders: set[str] = set()
        for key, pipe in items:
            if not recursive:
                slash = key.find("/", cut)
                if slash >= 0:
                    if key[:slash] not in folders:
                        folders.add(key[:slash])
                        yield ObjectInfo(path=key[:slash], is_dir=True)
                    continue
            yield ObjectInfo(path=key, size=pipe.written, modified=pipe.created)

    def stat(self, key: str) -> ObjectInfo:
        pipe = self._pipes.get(key)
        if pipe is None or pipe.claimed:
            raise FileNotFoundError(f"no stream at {key!r}")
        return ObjectInfo(path=key, size=pipe.written, modified=pipe.created)

    def _forget(self, key: str, pipe: _Pipe) -> None:
        with self._lock:
            if self._pipes.get(key) is pipe:
                del self._pipes[key]

    def _wait(self, cond: threading.Condition, deadline: float | None, what: str) -> None:
        if deadline is None:
            cond.wait()
            return
        left = deadline - time.monotonic()
        if left <= 0 or not cond.wait(left):
            raise TimeoutError(f"channel {what} timed out")

    def _deadline(self) -> float | None:
        return None if self._timeout is None else time.monotonic() + self._timeout


class _ChannelWriter(Writer):
    def __init__(self, backend: ChannelBackend, key: str, pipe: _Pipe) -> None:
        self._backend = backend
        self._key = key
        self._pipe = pipe

    def write(self, data: bytes | bytearray | memoryview) -> int:
        pipe = self._pipe
        view = memoryview(data).cast("B")
        total = len(view)
        start = 0
        while start < total:
            with pipe.cond:
                deadline = self._backend._deadline()  # renewed whenever the reader drains
                while pipe.buffered >= pipe.capacity and not (pipe.reader_gone or pipe.deleted):
                    self._backend._wait(pipe.cond, deadline, f"write to {self._key!r}")
                if pipe.reader_gone or pipe.deleted:
                    raise BrokenPipeError(f"the reader of {self._key!r} went away")
                if not pipe.writer_open:
                    raise ValueError("write to a finished channel writer")
                room = pipe.capacity - pipe.buffered
                piece = bytes(view[start : start + room])
                pipe.chunks.append(piece)
                pipe.buffered += len(piece)
                pipe.written += len(piece)
                start += len(piece)
                pipe.cond.notify_all()
        return total

    def close(self) -> None:
        with self._pipe.cond:
            self._pipe.writer_open = False
            self._pipe.cond.notify_all()

    def abort(self) -> None:
        pipe = self._pipe
        with pipe.cond:
            if not pipe.writer_open and not pipe.aborted:
                return  # closed normally: the stream is complete
            pipe.writer_open = False
            pipe.aborted = True
            pipe.chunks.clear()
            pipe.buffered = 0
            pipe.cond.notify_all()
        if not pipe.claimed:
            self._backend._forget(self._key, pipe)


class _ChannelReader(io.RawIOBase):
    def __init__(self, backend: ChannelBackend, key: str, pipe: _Pipe) -> None:
        super().__init__()
        self._backend = backend
        self._key = key
        self._pipe = pipe

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        pipe = self._pipe
        want = -1 if size is None else size
        parts: list[bytes] = []
        got = 0
        backend = self._backend
        with pipe.cond:
            while not pipe.chunks and pipe.writer_open and not pipe.deleted:
                backend._wait(pipe.cond, backend._deadline(), f"read of {self._key!r}")
            while True:
                if pipe.aborted:
                    raise StreamAborted(f"the writer of {self._key!r} aborted the stream")
                while pipe.chunks and (want < 0 or got < want):
                    chunk = pipe.chunks.popleft()
                    if want >= 0 and got + len(chunk) > want:
                        keep = want - got
                        pipe.chunks.appendleft(chunk[keep:])
                        chunk = chunk[:keep]
                    parts.append(chunk)
                    got += len(chunk)
                    pipe.buffered -= len(chunk)
                pipe.cond.notify_all()
                if want >= 0 or not pipe.writer_open or pipe.deleted:
                    break
                backend._wait(pipe.cond, backend._deadline(), f"read of {self._key!r}")
        if not parts and not pipe.writer_open:
            self._backend._forget(self._key, pipe)
        return b"".join(parts)

    def readall(self) -> bytes:
        return self.read(-1)

    def close(self) -> None:
        if not self.closed:
            with self._pipe.cond:
                self._pipe.reader_gone = True
                self._pipe.chunks.clear()
                self._pipe.buffered = 0
                self._pipe.cond.notify_all()
            self._backend._forget(self._key, self._pipe)
        super().close()


def _skip(reader: _ChannelReader, count: int) -> None:
    while count > 0:
        data = reader.read(min(count, 1 << 20))
        if not data:
            return
        count -= len(data)


def parse_url(split: SplitResult) -> tuple[dict[str, Any], str]:
    """``channel://[root]``: a private set of pipes; host and path form the store root."""
    root = "/".join(p for p in (split.netloc, unquote(split.path).strip("/")) if p)
    return {}, root
