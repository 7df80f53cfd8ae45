"""A sync face over an AsyncStore, so the sync conformance suite runs through the async API.

Every call becomes a coroutine awaited on one event loop that runs in a thread of the
test harness (the library itself never starts one): calls from several test threads at
once (the suite's racing writers) become concurrent tasks on that loop. Streams,
writers, seekable readers and listings are wrapped the same way. ``unwrap()`` gives the
*sync* driver under the adapter, which the suite's helpers use to plant foreign names
and abandon writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import threading
from collections.abc import Callable, Coroutine, Iterator
from types import TracebackType
from typing import Any, TypeVar

from omnistorage.aio import AsyncStore
from omnistorage.aio._offload import Offload
from omnistorage.aio._streams import (
    AsyncAtomicWriter,
    AsyncListing,
    AsyncReadStream,
    AsyncSeekableReader,
)
from omnistorage.capabilities import Capability, Features
from omnistorage.models import WriteResult

T = TypeVar("T")


class LoopThread:
    """An event loop running in a harness thread; ``run`` awaits a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        async def drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if tasks:
                await asyncio.wait(tasks, timeout=10)

        with contextlib.suppress(Exception):
            self.run(drain())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class SyncFacade:
    """A :class:`omnistorage.Store`-shaped view of ``store`` (see the module docstring)."""

    def __init__(self, store: AsyncStore, loop: LoopThread) -> None:
        self._store = store
        self._loop = loop

    @property
    def async_store(self) -> AsyncStore:
        return self._store

    def __repr__(self) -> str:
        return f"SyncFacade({self._store!r})"

    @property
    def root(self) -> str:
        return self._store.root

    @property
    def features(self) -> Features:
        return self._store.features

    def supports(self, capability: Capability) -> bool:
        return self._store.supports(capability)

    def child(self, path: str) -> SyncFacade:
        return SyncFacade(self._store.child(path), self._loop)

    def unwrap(self, kind: type[Any] | None = None) -> Any:
        backend = self._store.unwrap()
        if kind is None:
            return backend.inner if isinstance(backend, Offload) else backend
        return self._store.unwrap(kind)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        attr = getattr(self._store, name)
        if not inspect.iscoroutinefunction(attr):
            return attr  # type: ignore[no-any-return]

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._loop.run(attr(*args, **kwargs))

        return call

    def __enter__(self) -> SyncFacade:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._loop.run(self._store.close())

    # ------------------------------------------------------------ streams

    def read(self, path: str) -> SyncReader:
        return SyncReader(self._store.read(path), self._loop)

    def read_seekable(self, path: str) -> SyncSeekable:
        reader = self._store.read_seekable(path)
        self._loop.run(_opened(reader))
        return SyncSeekable(reader, self._loop)

    def open_atomic(self, path: str, **options: Any) -> SyncWriter:
        return SyncWriter(self._store.open_atomic(path, **options), self._loop)

    def open_writer(self, path: str, **options: Any) -> SyncWriter:
        return SyncWriter(self._store.open_writer(path, **options), self._loop)

    def list_files(self, path: str = "", **options: Any) -> SyncListing[Any]:
        return SyncListing(self._store.list_files(path, **options), self._loop)

    def list_folders(self, path: str = "", **options: Any) -> SyncListing[Any]:
        return SyncListing(self._store.list_folders(path, **options), self._loop)

    def glob(self, pattern: str, **options: Any) -> SyncListing[Any]:
        return SyncListing(self._store.glob(pattern, **options), self._loop)


async def _opened(stream: Any) -> Any:
    return await stream


class SyncReader(io.RawIOBase):
    def __init__(self, stream: AsyncReadStream, loop: LoopThread) -> None:
        super().__init__()
        self._stream = stream
        self._loop = loop

    @property
    def info(self) -> Any:
        return self._stream.info

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self._loop.run(self._stream.read(-1 if size is None else size))

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._loop.run(self._stream.close())
            finally:
                super().close()


class SyncSeekable:
    def __init__(self, reader: AsyncSeekableReader, loop: LoopThread) -> None:
        self._reader = reader
        self._loop = loop

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._reader.seek(offset, whence)

    def tell(self) -> int:
        return self._reader.tell()

    def read(self, size: int = -1) -> bytes:
        return self._loop.run(self._reader.read(size))

    def close(self) -> None:
        self._loop.run(self._reader.close())

    def __enter__(self) -> SyncSeekable:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SyncWriter:
    def __init__(self, writer: AsyncAtomicWriter, loop: LoopThread) -> None:
        self._writer = writer
        self._loop = loop

    def write(self, data: bytes) -> int:
        return self._loop.run(self._writer.write(data))

    def close(self) -> WriteResult:
        return self._loop.run(self._writer.close())

    def abort(self) -> None:
        self._loop.run(self._writer.abort())

    def __enter__(self) -> SyncWriter:
        self._loop.run(self._writer.__aenter__())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._loop.run(self._writer.__aexit__(exc_type, exc, tb))


class SyncListing(Iterator[T]):
    def __init__(self, listing: AsyncListing[T], loop: LoopThread) -> None:
        self._listing = listing
        self._loop = loop

    def __iter__(self) -> SyncListing[T]:
        return self

    def __next__(self) -> T:
        try:
            return self._loop.run(_anext(self._listing))
        except StopAsyncIteration:
            raise StopIteration from None

    @property
    def invalid_count(self) -> int:
        return self._listing.invalid_count

    @property
    def invalid(self) -> list[str]:
        return self._listing.invalid


async def _anext(listing: AsyncListing[T]) -> T:
    return await listing.__anext__()
