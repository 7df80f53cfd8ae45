"""The stream objects an :class:`~omnistorage.aio.AsyncStore` hands out.

Each is returned by a plain (not ``async``) store method that has already checked the
key and the capabilities; the I/O starts when the object is opened, by ``async with``,
by ``await`` (which returns the opened object) or by its first use:

- :class:`AsyncReadStream` (``store.read``): ``async for chunk in stream``, or
  ``await stream.read(n)``.
- :class:`AsyncAtomicWriter` (``store.open_atomic`` / ``open_writer``): publishes on
  ``close()`` or a clean ``async with`` exit; an exception or a cancellation aborts,
  and nothing is published. Garbage collection never publishes.
- :class:`AsyncSeekableReader` (``store.read_seekable``): one pinned version, ``seek``
  and ``tell`` (no I/O, so plain methods) and ``await read(n)``.

Failures surface as omnistorage errors, mapped once by the store's error boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import warnings
from collections.abc import Awaitable, Callable, Generator, Iterable
from typing import Any, Generic, TypeVar

from omnistorage._content import rebase
from omnistorage._io import FailFn, WriteTally, seek_position
from omnistorage.aio._driver import AsyncPinnedReader, AsyncReader, AsyncWriter
from omnistorage.aio._listing import AsyncListing
from omnistorage.errors import StorageError, StreamClosed, native_cause
from omnistorage.models import HashType, ObjectInfo, WriteResult

__all__ = [
    "AsyncAtomicWriter",
    "AsyncListing",
    "AsyncReadStream",
    "AsyncSeekableReader",
    "CHUNK",
    "finish_in_background",
]

T = TypeVar("T")
S = TypeVar("S")

CHUNK = 1 << 20
"""Bytes per chunk of ``async for chunk in store.read(...)``."""

_BACKGROUND: set[asyncio.Task[Any]] = set()


def finish_in_background(work: Awaitable[Any]) -> asyncio.Task[Any]:
    """Run ``work`` (an abort or a close) to its end in a task of its own, so that a
    cancellation of the caller cannot interrupt it; the caller awaits it shielded."""
    task = asyncio.ensure_future(work)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    return task


async def _quietly(work: Awaitable[Any]) -> None:
    with contextlib.suppress(Exception):  # already failing: the first error is reported
        await work


class _Opened(Generic[S]):
    """Opening on ``async with``, ``await`` or first use, exactly once."""

    _opener: Callable[[], Awaitable[S]] | None
    _inner: S | None
    _path: str
    _fail: FailFn

    async def _open(self, op: str) -> S:
        inner = self._inner
        if inner is not None:
            return inner
        opener = self._opener
        if opener is None:
            raise StreamClosed(f"{op} on closed stream {self._path!r}", path=self._path)
        self._opener = None
        try:
            inner = await opener()
        except StorageError:
            raise
        except Exception as exc:
            raise self._fail(exc, op, self._path) from native_cause(exc)
        self._inner = inner
        return inner


class AsyncReadStream(_Opened[AsyncReader]):
    """A streaming read of one object (``AsyncStore.read``).

    ``async for chunk in stream`` yields chunks of up to 1 MiB and closes the stream at
    the end; ``await stream.read(n)`` returns at most ``n`` bytes (``-1``: the rest),
    ``b""`` at the end. ``NotFound`` is raised at open or at the first read. Close it
    (``async with``, or ``await close()``) when leaving early.
    """

    def __init__(
        self, opener: Callable[[], Awaitable[AsyncReader]], fail: FailFn, path: str
    ) -> None:
        self._opener = opener
        self._inner = None
        self._fail = fail
        self._path = path
        self._closed = False
        self._info: ObjectInfo | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def info(self) -> ObjectInfo | None:
        """As ``ReadStream.info`` (``READ_INFO``), once the stream is open (``async with``,
        ``await``, or the first read); ``None`` before, and where the backend tells
        nothing on opening."""
        if self._info is None and self._inner is not None:
            found = getattr(self._inner, "info", None)
            if isinstance(found, ObjectInfo):
                self._info = rebase(found, self._path)
        return self._info

    async def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (``-1``: everything left); ``b""`` at the end."""
        if self._closed:
            raise StreamClosed(f"read from closed stream {self._path!r}", path=self._path)
        reader = await self._open("read")
        try:
            return await reader.read(size)
        except Exception as exc:
            raise self._fail(exc, "read", self._path) from native_cause(exc)

    async def close(self) -> None:
        """Release the stream. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._opener = None
        reader, self._inner = self._inner, None
        if reader is not None:
            try:
                await reader.close()
            except Exception as exc:
                raise self._fail(exc, "read", self._path) from native_cause(exc)

    def __aiter__(self) -> AsyncReadStream:
        return self

    async def __anext__(self) -> bytes:
        chunk = await self.read(CHUNK)
        if not chunk:
            await self.close()
            raise StopAsyncIteration
        return chunk

    async def __aenter__(self) -> AsyncReadStream:
        await self._open("read")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __await__(self) -> Generator[Any, None, AsyncReadStream]:
        return self.__aenter__().__await__()


class AsyncAtomicWriter(WriteTally, _Opened[AsyncWriter]):
    """A streaming write that publishes the whole object on :meth:`close`, or nothing.

    - ``await write(b)`` sends or buffers ``b``; nothing is visible yet.
    - ``await close()`` publishes atomically and returns a
      :class:`~omnistorage.models.WriteResult`; a second ``close()`` returns it again.
    - ``await abort()`` discards everything (idempotent).
    - ``async with``: a clean exit publishes; an exception *or a cancellation*
      (``asyncio.CancelledError``, e.g. from ``asyncio.timeout``) aborts, and
      nothing is published. The abort runs to its end even if the task is
      cancelled again meanwhile.
    - A failure in ``write`` or ``close`` aborts the upload; the writer is then dead
      and later calls raise ``StreamClosed``.
    - It is never published by garbage collection: an unfinished writer that is
      collected warns (``ResourceWarning``) and schedules its abort on its loop.

    A cancellation that arrives while ``close()`` is publishing cannot always stop the
    publish already under way (a thread-offloaded driver finishes it): ``close()``
    then raises ``CancelledError`` and the object is there whole or not at all,
    never partly.
    """

    def __init__(
        self,
        opener: Callable[[], Awaitable[AsyncWriter]],
        fail: FailFn,
        path: str,
        *,
        hashes: Iterable[HashType | str] = (),
    ) -> None:
        self._opener = opener
        self._inner = None
        self._tally(fail, path, hashes)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def flush(self) -> None:
        """Nothing to do: data becomes visible only on close."""
        self._check_live("flush on")

    async def write(self, data: bytes | bytearray | memoryview) -> int:
        """Write ``data``; returns its length."""
        self._check_live("write to")
        writer = await self._start("write")
        try:
            await writer.write(data)
        except BaseException as exc:
            await self._abort_quietly()
            if isinstance(exc, Exception):
                raise self._fail(exc, "write", self._path) from native_cause(exc)
            raise
        return self._count(data)

    async def close(self) -> WriteResult:
        """Publish. On failure nothing is published and the error is raised.

        A second ``close()`` returns the first one's result; closing an aborted writer
        raises ``StreamClosed``.
        """
        if self._done:
            return self._earlier_result()
        writer = await self._start("write")
        self._done = True
        try:
            await writer.close()
        except BaseException as exc:
            await _shielded(_quietly(writer.abort()))
            if isinstance(exc, Exception):
                raise self._fail(exc, "write", self._path) from native_cause(exc)
            raise
        return self._published(writer.version)

    async def abort(self) -> None:
        """Discard the write. Idempotent."""
        if self._done:
            return
        self._done = True
        self._opener = None
        writer = self._inner
        if writer is None:
            return
        try:
            await _shielded(writer.abort())
        except Exception as exc:
            raise self._fail(exc, "abort", self._path) from native_cause(exc)

    async def _start(self, op: str) -> AsyncWriter:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        try:
            return await self._open(op)
        except BaseException:
            self._done = True
            raise

    async def _abort_quietly(self) -> None:
        self._done = True
        self._opener = None
        writer = self._inner
        if writer is not None:
            await _shielded(_quietly(writer.abort()))

    async def __aenter__(self) -> AsyncAtomicWriter:
        if self._done:
            raise StreamClosed(f"writer {self._path!r} already finished", path=self._path)
        await self._start("write")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            await self._abort_quietly()
        elif not self._done:
            await self.close()

    def __await__(self) -> Generator[Any, None, AsyncAtomicWriter]:
        return self.__aenter__().__await__()

    def __del__(self) -> None:
        if getattr(self, "_done", True):
            return
        self._done = True
        writer, loop = self._inner, self._loop
        warnings.warn(
            f"unfinished async writer for {self._path!r} was aborted (never closed)",
            ResourceWarning,
            stacklevel=1,
        )
        if writer is None or loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is shutting down
            loop.call_soon_threadsafe(_abort_dropped, writer)


def _abort_dropped(writer: AsyncWriter) -> None:
    """On the writer's loop: abort the driver writer of a collected, unfinished writer."""
    finish_in_background(_quietly(writer.abort()))


async def _shielded(work: Awaitable[T]) -> T:
    """Await ``work`` to its end even if the caller is cancelled meanwhile (the
    cancellation is raised once ``work`` is done)."""
    task = finish_in_background(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):  # its own outcome matters less than ours
            await asyncio.wait([task])
        raise


class AsyncSeekableReader(_Opened[AsyncPinnedReader]):
    """Random access to ONE version of an object (``AsyncStore.read_seekable``).

    Open it with ``async with`` or ``await``; then ``seek``/``tell`` move a position
    (no I/O) and ``await read(n)`` reads from it. Reads come from the version pinned
    at open: if the object is overwritten or deleted, reads raise
    :class:`~omnistorage.errors.ChangedDuringRead`, never bytes of two versions.
    Reads go out in blocks of at least 1 MiB, so small reads do not each cost a
    request.
    """

    def __init__(
        self,
        opener: Callable[[], Awaitable[AsyncPinnedReader]],
        fail: FailFn,
        path: str,
        *,
        block: int = CHUNK,
    ) -> None:
        self._opener = opener
        self._inner = None
        self._fail = fail
        self._path = path
        self._block = block
        self._pos = 0
        self._buf = b""
        self._buf_at = 0
        self._closed = False

    def _pinned(self) -> AsyncPinnedReader:
        if self._closed:
            raise StreamClosed(f"read on closed reader {self._path!r}", path=self._path)
        pinned = self._inner
        if pinned is None:
            raise StreamClosed(
                f"reader for {self._path!r} is not open yet: use 'async with' or 'await'",
                path=self._path,
            )
        return pinned

    @property
    def size(self) -> int:
        """The pinned version's size (once open)."""
        return self._pinned().size

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to ``offset`` (``whence`` as for files); returns the new position."""
        self._pos = seek_position(self._pos, self._pinned().size, offset, whence)
        return self._pos

    async def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes from the position (``-1``: to the end)."""
        pinned = self._pinned()
        end = pinned.size if size is None or size < 0 else min(pinned.size, self._pos + size)
        parts: list[bytes] = []
        while self._pos < end:
            offset = self._pos - self._buf_at
            if 0 <= offset < len(self._buf):
                piece = self._buf[offset : offset + end - self._pos]
            else:
                want = max(self._block, end - self._pos)
                try:
                    data = await pinned.read_range(self._pos, want)
                except Exception as exc:
                    raise self._fail(exc, "read", self._path) from native_cause(exc)
                if not data:
                    break
                self._buf, self._buf_at = data, self._pos
                continue
            parts.append(piece)
            self._pos += len(piece)
        return b"".join(parts)

    async def close(self) -> None:
        """Release the pinned handle. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._opener = None
        pinned, self._inner = self._inner, None
        self._buf = b""
        if pinned is not None:
            try:
                await pinned.close()
            except Exception as exc:
                raise self._fail(exc, "read", self._path) from native_cause(exc)

    async def __aenter__(self) -> AsyncSeekableReader:
        await self._open("read")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __await__(self) -> Generator[Any, None, AsyncSeekableReader]:
        return self.__aenter__().__await__()
