"""A fault-injection layer for cancellation: it stops a write at one chosen await point.

:class:`PausingBackend` wraps an async driver. Every driver coroutine a store awaits is
an await point; the layer counts them and, at point ``stop_at``, suspends (``before``
the call is passed on, or ``after`` it returned) until the test cancels the task there.
Aborts and closes of readers are passed on without pausing: they are the clean-up the
test checks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar

from omnistorage.aio import AsyncBackend, AsyncPinnedReader, AsyncReader, AsyncWriter
from omnistorage.capabilities import Capability, Features
from omnistorage.driver import WriteOptions
from omnistorage.errors import Classification
from omnistorage.models import Leftover, ObjectInfo

T = TypeVar("T")
When = Literal["before", "after"]


class PausingBackend(AsyncBackend):
    may_declare = frozenset(Capability)  # whatever the inner driver declares

    def __init__(self, inner: AsyncBackend, *, stop_at: int = 0, when: When = "before") -> None:
        self._inner = inner
        self.name = inner.name
        self.secret_values = inner.secret_values
        self.stop_at = stop_at
        self.when = when
        self.points: list[str] = []
        self.paused = asyncio.Event()

    async def _point(self, name: str) -> None:
        self.points.append(name)
        if len(self.points) == self.stop_at:
            self.paused.set()
            await asyncio.sleep(3600)  # cancelled here by the test

    async def call(self, name: str, work: Callable[[], Awaitable[T]]) -> T:
        if self.when == "before":
            await self._point(name)
        result = await work()
        if self.when == "after":
            await self._point(name)
        return result

    def features(self) -> Features:
        return self._inner.features()

    def classify_error(self, exc: BaseException) -> Classification:
        return self._inner.classify_error(exc)

    async def new_writer(self, key: str, options: WriteOptions) -> AsyncWriter:
        if self.when == "before":
            await self._point("new_writer")
        writer = await self._inner.new_writer(key, options)
        if self.when == "after":
            try:
                await self._point("new_writer")
            except asyncio.CancelledError:
                await writer.abort()  # the driver contract: a cancelled open leaves nothing
                raise
        return _PausingWriter(self, writer)

    async def new_reader(
        self, key: str, *, offset: int = 0, length: int | None = None
    ) -> AsyncReader:
        return await self._inner.new_reader(key, offset=offset, length=length)

    async def write_object(self, key: str, data: Any, options: WriteOptions) -> str | None:
        return await self.call("write_object", lambda: self._inner.write_object(key, data, options))

    async def exists(self, key: str) -> bool:
        return await self.call("exists", lambda: self._inner.exists(key))

    async def delete(self, key: str) -> None:
        await self._inner.delete(key)

    async def list(self, prefix: str, *, recursive: bool = True) -> AsyncIterator[ObjectInfo]:
        async for info in self._inner.list(prefix, recursive=recursive):
            yield info

    async def stat(self, key: str) -> ObjectInfo:
        return await self._inner.stat(key)

    async def list_leftovers(self, prefix: str) -> Sequence[Leftover]:
        return await self._inner.list_leftovers(prefix)

    # Passed on without pausing: the tests pause writes, not these.

    async def remove_leftover(self, leftover: Leftover) -> None:
        await self._inner.remove_leftover(leftover)

    async def mkdir(self, key: str) -> None:
        await self._inner.mkdir(key)

    async def rmdir(self, key: str) -> None:
        await self._inner.rmdir(key)

    async def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        await self._inner.copy(src, dst, overwrite=overwrite)

    async def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        await self._inner.move(src, dst, overwrite=overwrite)

    async def delete_version(self, key: str, version: str) -> None:
        await self._inner.delete_version(key, version)

    async def open_pinned(self, key: str) -> AsyncPinnedReader:
        return await self._inner.open_pinned(key)


class _PausingWriter(AsyncWriter):
    def __init__(self, layer: PausingBackend, inner: AsyncWriter) -> None:
        self._layer = layer
        self._inner = inner

    async def write(self, data: bytes | bytearray | memoryview) -> int:
        return await self._layer.call("write", lambda: self._inner.write(data))

    async def close(self) -> None:
        await self._layer.call("close", self._inner.close)
        self.version = self._inner.version

    async def abort(self) -> None:
        await self._inner.abort()
