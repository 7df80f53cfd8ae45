"""What :meth:`omnistorage.aio.AsyncStore.write` accepts, and how it is read in chunks."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import IO, Any, Protocol

from omnistorage._content import CHUNK, chunks

__all__ = ["AsyncContent", "AsyncReadable", "achunks"]


class AsyncReadable(Protocol):
    """An async binary file object (``aiofiles``, an :class:`AsyncReadStream` …)."""

    async def read(self, size: int = -1, /) -> bytes: ...


AsyncContent = (
    bytes
    | bytearray
    | memoryview
    | IO[bytes]
    | AsyncReadable
    | Iterable[bytes]
    | AsyncIterable[bytes]
)
"""Bytes, a sync or async binary file object, or a sync or async iterable of bytes."""


def _checked(chunk: object) -> bytes | bytearray | memoryview:
    if not isinstance(chunk, (bytes, bytearray, memoryview)):
        raise TypeError(f"write() content chunks must be bytes, not {type(chunk).__name__}")
    return chunk


async def achunks(content: Any) -> AsyncIterator[bytes | bytearray | memoryview]:
    """The chunks of ``content``: ``read(1 MiB)`` calls (awaited when the file object is
    async), or the items of an async or sync iterable, each checked to be bytes.

    A sync file object is read on the event loop: it should be one that does not block
    for long (a ``BytesIO``, a local file); pass an async one otherwise.
    """
    read = getattr(content, "read", None)
    if read is not None:
        while True:
            chunk = read(CHUNK)
            if inspect.isawaitable(chunk):
                chunk = await chunk
            if not chunk:
                return
            yield _checked(chunk)
    if hasattr(content, "__aiter__"):
        async for chunk in content:
            yield _checked(chunk)
        return
    for chunk in chunks(content):
        yield chunk
