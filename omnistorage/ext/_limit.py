"""ConcurrencyLimitLayer: at most N backend requests in flight, shareable across stores.

Each driver call (open, every stream ``read``/``write``, ``close``, stat, list
page …) holds one permit of a :class:`Limiter` while it runs. Permits are per
request, not per open stream, so a caller holding a reader and a writer at
once (a streaming copy) cannot deadlock itself. One ``Limiter`` passed to
several layers caps them together (e.g. every store on one S3 account).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, TypeVar

from omnistorage._reader_base import WrappedReader
from omnistorage.driver import Backend, PinnedReader, WriteOptions, Writer
from omnistorage.ext._layer import Layer
from omnistorage.models import ObjectInfo

__all__ = ["ConcurrencyLimitLayer", "Limiter"]

T = TypeVar("T")


class Limiter:
    """A counting semaphore with an observable high-water mark."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self._semaphore = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def run(self, call: Callable[[], T]) -> T:
        with self._semaphore:
            with self._lock:
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
            try:
                return call()
            finally:
                with self._lock:
                    self.in_flight -= 1


class ConcurrencyLimitLayer(Layer):
    """Caps concurrent requests to ``inner`` at ``limit`` (an int, or a shared Limiter)."""

    def __init__(self, inner: Backend, limit: int | Limiter) -> None:
        super().__init__(inner)
        self.limiter = limit if isinstance(limit, Limiter) else Limiter(limit)

    def __repr__(self) -> str:
        return f"ConcurrencyLimitLayer({self.inner!r}, limit={self.limiter.limit})"

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        inner = self.limiter.run(lambda: self.inner.new_writer(key, options))
        return _LimitedWriter(inner, self.limiter)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        inner = self.limiter.run(lambda: self.inner.new_reader(key, offset=offset, length=length))
        return _LimitedReader(inner, self.limiter)  # type: ignore[return-value]

    def exists(self, key: str) -> bool:
        return self.limiter.run(lambda: self.inner.exists(key))

    def delete(self, key: str) -> None:
        self.limiter.run(lambda: self.inner.delete(key))

    def delete_version(self, key: str, version: str) -> None:
        self.limiter.run(lambda: self.inner.delete_version(key, version))

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        entries = iter(self.inner.list(prefix, recursive=recursive))
        sentinel = object()
        while True:
            item: Any = self.limiter.run(lambda: next(entries, sentinel))
            if item is sentinel:
                return
            yield item

    def stat(self, key: str) -> ObjectInfo:
        return self.limiter.run(lambda: self.inner.stat(key))

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        self.limiter.run(lambda: self.inner.copy(src, dst, overwrite=overwrite))

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        self.limiter.run(lambda: self.inner.move(src, dst, overwrite=overwrite))

    def mkdir(self, key: str) -> None:
        self.limiter.run(lambda: self.inner.mkdir(key))

    def rmdir(self, key: str) -> None:
        self.limiter.run(lambda: self.inner.rmdir(key))

    def open_pinned(self, key: str) -> PinnedReader:
        pinned = self.limiter.run(lambda: self.inner.open_pinned(key))
        return _LimitedPin(pinned, self.limiter)


class _LimitedWriter(Writer):
    def __init__(self, inner: Writer, limiter: Limiter) -> None:
        self._inner = inner
        self._limiter = limiter

    def write(self, data: bytes | bytearray | memoryview) -> int:
        return self._limiter.run(lambda: self._inner.write(data))

    def close(self) -> None:
        self._limiter.run(self._inner.close)

    @property
    def version(self) -> str | None:  # type: ignore[override]
        return self._inner.version

    def flush(self) -> None:
        self._inner.flush()  # waits for work already admitted: no new permit

    def abort(self) -> None:
        self._inner.abort()  # never wait for a permit to release resources


class _LimitedReader(WrappedReader):
    def __init__(self, inner: BinaryIO, limiter: Limiter) -> None:
        super().__init__(inner)
        self._limiter = limiter

    def read(self, size: int | None = -1) -> bytes:
        return self._limiter.run(lambda: self._inner.read(-1 if size is None else size))


class _LimitedPin(PinnedReader):
    def __init__(self, inner: PinnedReader, limiter: Limiter) -> None:
        self._inner = inner
        self._limiter = limiter
        self.size = inner.size
        self.version = inner.version

    def read_range(self, offset: int, length: int) -> bytes:
        return self._limiter.run(lambda: self._inner.read_range(offset, length))

    def close(self) -> None:
        self._inner.close()
