"""A sync driver seen through the async driver contract: the shared body of
:class:`~omnistorage.aio.SyncBackendAdapter` (calls run on a bounded thread pool) and
:class:`~omnistorage.aio.AsyncMemoryBackend` (calls that never block run inline).

Every coroutine here hands exactly one sync call to :meth:`Offload._run`; the
subclass decides where it runs. Listings move in pages of :data:`LIST_BATCH` entries
per call. A writer serialises its calls (one sync writer is used by one thread at a
time): :meth:`_OffloadWriter.abort` first waits for a call that is still running (a
cancelled ``await`` does not stop a thread), then aborts.

A publish runs on a thread too, and a cancelled ``await`` cannot stop a thread. So
every call that ends in a publish (``write_object``, a writer's ``close``) carries a
:class:`_Gate`: the thread asks it just before the driver's ``close`` and a cancelled
caller closes it, under one lock, so exactly one of the two happens first. Cancelled
first: the thread publishes nothing (it aborts instead), now or later. Publish first:
the publish cannot be stopped, so the caller waits for it to end before the
cancellation comes out, and the object is then there whole, as when the cancellation
lands just after the publish returned. Either way the state is final once the
``CancelledError`` is raised: nothing appears seconds later.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, BinaryIO, TypeVar

from omnistorage.aio._driver import AsyncBackend, AsyncPinnedReader, AsyncReader, AsyncWriter
from omnistorage.capabilities import Capability, Features
from omnistorage.driver import (
    Backend,
    ExtendedBackend,
    PinnedReader,
    WriteOptions,
    Writer,
)
from omnistorage.errors import Classification
from omnistorage.models import Leftover, Location, ObjectInfo

__all__ = ["LIST_BATCH", "WRITE_BUFFER", "Offload"]

T = TypeVar("T")

LIST_BATCH = 1000
"""Listed entries fetched per call."""
WRITE_BUFFER = 256 * 1024
"""Bytes a writer gathers before it hands them over (fewer calls for small writes)."""
WRITE_STEP = 1 << 20
"""The most bytes one call hands to a sync writer (a cancellation waits at most that)."""


class Offload(AsyncBackend):
    """The async contract over the sync driver ``backend`` (see the module docstring)."""

    may_declare = frozenset(Capability)  # whatever the sync driver declares

    def __init__(self, backend: Backend) -> None:
        self._inner = backend
        features = backend.features()
        # Staged publishing goes through a sync Store (omnistorage.staged); the async
        # contract has no publish_staged, so an async store never declares it.
        self._features = features.with_capabilities(
            features.capabilities - {Capability.DEFERRED_PUBLISH}
        )
        self.name = backend.name
        self.secret_values = backend.secret_values
        self.folders_are_markers = backend.folders_are_markers
        self._buffered = Capability.STREAMING not in self._features.capabilities

    @abc.abstractmethod
    def _spawn(self, call: Callable[..., T], /, *args: Any) -> concurrent.futures.Future[T]:
        """Start one sync call of the driver; the future holds its outcome."""

    async def _run(self, call: Callable[..., T], /, *args: Any) -> T:
        """Run one sync call of the driver and return its result."""
        return await asyncio.wrap_future(self._spawn(call, *args))

    @property
    def inner(self) -> Backend:
        """The wrapped sync driver."""
        return self._inner

    @property
    def closed(self) -> bool:
        return self._inner.closed

    @closed.setter
    def closed(self, value: bool) -> None:
        self._inner.closed = value

    # ------------------------------------------------------------ basic

    async def _start(
        self, release: Callable[[T], object], call: Callable[..., T], /, *args: Any
    ) -> T:
        """Run a call that opens something; if the caller is cancelled meanwhile, what
        the call opens is released (``release``) as soon as it arrives, on its thread."""
        future = self._spawn(call, *args)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.add_done_callback(lambda done: _release(done, release))
            raise

    async def new_writer(self, key: str, options: WriteOptions) -> AsyncWriter:
        writer = await self._start(_abort, self._inner.new_writer, key, options)
        return _OffloadWriter(self, writer, WRITE_BUFFER if self._buffered else 0)

    async def new_reader(
        self, key: str, *, offset: int = 0, length: int | None = None
    ) -> AsyncReader:
        reader = await self._start(_close, _open_reader, self._inner, key, offset, length)
        return _OffloadReader(self, reader)

    async def exists(self, key: str) -> bool:
        return await self._run(self._inner.exists, key)

    async def delete(self, key: str) -> None:
        await self._run(self._inner.delete, key)

    async def list(self, prefix: str, *, recursive: bool = True) -> AsyncIterator[ObjectInfo]:
        entries = self._inner.list(prefix, recursive=recursive)
        try:
            while batch := await self._run(_take, entries, LIST_BATCH):
                for info in batch:
                    yield info
        finally:
            close = getattr(entries, "close", None)
            if close is not None:
                await self._run(close)

    async def close(self) -> None:
        if not self._inner.closed:
            await self._run(self._inner.close)
        self._inner.closed = True

    async def read_object(self, key: str) -> bytes:
        return await self._run(self._inner.read_object, key)

    async def write_object(
        self, key: str, data: bytes | bytearray | memoryview, options: WriteOptions
    ) -> str | None:
        if memoryview(data).nbytes > WRITE_BUFFER:
            # Larger objects go through a writer, a call per MiB: a cancellation then
            # stops the upload between two calls and aborts it.
            return await super().write_object(key, data, options)
        gate = _Gate()
        return await _gated(self._spawn(_write_all, self._inner, key, data, options, gate), gate)

    # ------------------------------------------------------------ pure facts

    def features(self) -> Features:
        return self._features

    def classify_error(self, exc: BaseException) -> Classification:
        return self._inner.classify_error(exc)

    def native_path(self, key: str) -> str:
        return self._inner.native_path(key)

    def key_from_native(self, native: str) -> str | None:
        return self._inner.key_from_native(native)

    def locations(self) -> tuple[Location, ...]:
        return self._inner.locations()

    def as_native(self, kind: type[T]) -> T | None:
        inner = self._inner
        return inner if isinstance(inner, kind) else inner.as_native(kind)

    def resolution_steps(self, key: str) -> tuple[str, ...]:
        return self._inner.resolution_steps(key)

    # ------------------------------------------------------------ optional

    async def stat(self, key: str) -> ObjectInfo:
        return await self._run(self._inner.stat, key)

    async def mkdir(self, key: str) -> None:
        await self._run(self._inner.mkdir, key)

    async def rmdir(self, key: str) -> None:
        await self._run(self._inner.rmdir, key)

    async def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        await self._run(_copy, self._inner, src, dst, overwrite)

    async def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        await self._run(_move, self._inner, src, dst, overwrite)

    async def delete_version(self, key: str, version: str) -> None:
        await self._run(self._inner.delete_version, key, version)

    async def open_pinned(self, key: str) -> AsyncPinnedReader:
        pinned = await self._start(_close, self._inner.open_pinned, key)
        return _OffloadPinned(self, pinned)

    async def list_leftovers(self, prefix: str) -> Sequence[Leftover]:
        return await self._run(_all_leftovers, self._inner, prefix)

    async def remove_leftover(self, leftover: Leftover) -> None:
        await self._run(self._inner.remove_leftover, leftover)

    async def delete_many(self, keys: Iterable[str]) -> None:
        await self._run(self._inner.delete_many, list(keys))


# ---------------------------------------------------------------- cancelling a publish


class _Cancelled(Exception):
    """Raised on the thread instead of publishing: the caller was cancelled first."""


class _Gate:
    """Who came first, the publish on its thread or the caller's cancellation (see the
    module docstring). Each side asks once; the lock makes the answer one order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = "open"

    def publishing(self) -> None:
        """On the thread, just before the driver's ``close``: raise if cancelled first."""
        with self._lock:
            if self._state == "cancelled":
                raise _Cancelled("the write was cancelled before it published")
            self._state = "publishing"

    def check(self) -> None:
        """On the thread, between steps: stop early once cancelled."""
        with self._lock:
            if self._state == "cancelled":
                raise _Cancelled("the write was cancelled")

    def cancel(self) -> bool:
        """For the cancelled caller: True when the publish will never happen."""
        with self._lock:
            if self._state == "open":
                self._state = "cancelled"
            return self._state == "cancelled"


async def _gated(future: concurrent.futures.Future[T], gate: _Gate) -> T:
    """Await a thread's call that ends in a publish; on cancellation, close the gate and
    wait for the thread to end (it aborts, or finishes a publish that had begun)."""
    try:
        return await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        gate.cancel()
        await _settle(future)
        raise


async def _settle(future: concurrent.futures.Future[Any]) -> None:
    """Wait until a thread's call has ended, through further cancellations (the caller
    re-raises the first); its outcome is consumed (the cancellation is what is raised)."""
    waiter = asyncio.wrap_future(future)
    while not waiter.done():
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.shield(waiter)
    if not waiter.cancelled():
        waiter.exception()  # retrieved: a thread's abort is no error to log


# ---------------------------------------------------------------- sync bodies (one call each)


def _release(done: concurrent.futures.Future[T], release: Callable[[T], object]) -> None:
    """Release what an abandoned opening call produced (a cancelled caller's writer)."""
    if done.cancelled() or done.exception() is not None:
        return
    with contextlib.suppress(Exception):  # nobody is left to report it to
        release(done.result())


def _abort(writer: Writer) -> None:
    writer.abort()


def _close(stream: BinaryIO | PinnedReader) -> None:
    stream.close()


def _take(entries: Iterator[ObjectInfo], count: int) -> list[ObjectInfo]:
    return list(islice(entries, count))


def _open_reader(backend: Backend, key: str, offset: int, length: int | None) -> BinaryIO:
    return backend.new_reader(key, offset=offset, length=length)


def _write_all(
    backend: Backend,
    key: str,
    data: bytes | bytearray | memoryview,
    options: WriteOptions,
    gate: _Gate,
) -> str | None:
    gate.check()
    writer = backend.new_writer(key, options)
    try:
        gate.check()
        writer.write(data)
        gate.publishing()
        writer.close()
    except BaseException as exc:
        try:
            writer.abort()
        except Exception as cleanup:  # noqa: BLE001 - the write error is the one raised
            exc.add_note(f"aborting the write failed too: {cleanup!r}")
        raise
    return writer.version


def _copy(ext: ExtendedBackend, src: str, dst: str, overwrite: bool) -> None:
    ext.copy(src, dst, overwrite=overwrite)


def _move(ext: ExtendedBackend, src: str, dst: str, overwrite: bool) -> None:
    ext.move(src, dst, overwrite=overwrite)


def _all_leftovers(ext: Backend, prefix: str) -> list[Leftover]:
    return list(ext.list_leftovers(prefix))


def _write_then_close(writer: Writer, data: bytes | bytearray | None, gate: _Gate) -> None:
    if data:
        gate.check()
        writer.write(data)
    gate.publishing()  # cancelled first: the owner's abort discards the write
    writer.close()


# ---------------------------------------------------------------- streams


class _OffloadWriter(AsyncWriter):
    """A sync driver writer behind the async contract. Writes smaller than
    ``buffer`` bytes gather in memory and go over in one call (with the next large
    write, or with ``close``); a streaming backend's writer (``STREAMING``) gets every
    write at once."""

    def __init__(self, owner: Offload, writer: Writer, buffer: int) -> None:
        self._owner = owner
        self._writer = writer
        self._limit = buffer
        self._buffer = bytearray()
        self._running: concurrent.futures.Future[Any] | None = None

    async def _call(self, call: Callable[..., T], /, *args: Any) -> T:
        running = self._owner._spawn(call, *args)
        self._running = running
        return await asyncio.wrap_future(running)

    async def write(self, data: bytes | bytearray | memoryview) -> int:
        size = memoryview(data).nbytes
        if len(self._buffer) + size < self._limit:
            self._buffer += data
            return size
        if self._buffer:
            self._buffer += data
            data, self._buffer = self._buffer, bytearray()
        await self._send(data)
        return size

    async def _send(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        for start in range(0, view.nbytes, WRITE_STEP):
            await self._call(self._writer.write, view[start : start + WRITE_STEP])

    async def flush(self) -> None:
        if self._buffer:
            data, self._buffer = self._buffer, bytearray()
            await self._send(data)
        await self._call(self._writer.flush)

    async def close(self) -> None:
        data, self._buffer = self._buffer, bytearray()
        gate = _Gate()
        running = self._owner._spawn(_write_then_close, self._writer, data, gate)
        self._running = running
        await _gated(running, gate)

    @property
    def version(self) -> str | None:  # type: ignore[override]
        return self._writer.version

    async def abort(self) -> None:
        self._buffer = bytearray()
        running = self._running
        if running is not None and not running.done():
            # A cancelled await leaves its thread running: let it end before aborting.
            await asyncio.wait([asyncio.wrap_future(running)])
        await self._owner._run(self._writer.abort)


class _OffloadReader:
    """A sync driver reader behind the async contract: one call per ``read``."""

    def __init__(self, owner: Offload, reader: BinaryIO) -> None:
        self._owner = owner
        self._reader = reader
        self.info: ObjectInfo | None = getattr(reader, "info", None)  # READ_INFO

    async def read(self, size: int = -1, /) -> bytes:
        return await self._owner._run(self._reader.read, size)

    async def close(self) -> None:
        await self._owner._run(self._reader.close)


class _OffloadPinned(AsyncPinnedReader):
    def __init__(self, owner: Offload, pinned: PinnedReader) -> None:
        self._owner = owner
        self._pinned = pinned
        self.size = pinned.size
        self.version = pinned.version

    async def read_range(self, offset: int, length: int) -> bytes:
        return await self._owner._run(self._pinned.read_range, offset, length)

    async def close(self) -> None:
        await self._owner._run(self._pinned.close)
