"""AsyncMemoryBackend: the in-memory reference driver, natively async."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any, TypeVar

from omnistorage.aio._offload import Offload
from omnistorage.backends.memory import MemoryBackend
from omnistorage.errors import ConfigurationError

__all__ = ["AsyncMemoryBackend"]

T = TypeVar("T")


class AsyncMemoryBackend(Offload):
    """Objects in memory, behind the async driver contract, with no thread.

    It runs :class:`~omnistorage.MemoryBackend`'s code (a dict behind a lock held
    for a few dictionary operations, never across an ``await``) directly on the
    event loop: nothing it does can block, so it needs no thread pool. It declares
    the same features and keeps the same guarantees (atomic, create-only writes,
    pinned reads). ``AsyncMemoryBackend(name="x")`` joins the named space ``x``,
    shared with every ``MemoryBackend(name="x")`` of this process, so sync and async
    code can meet on the same objects in tests; ``AsyncMemoryBackend(backend=m)``
    serves the objects of the sync ``MemoryBackend`` ``m``.
    """

    def __init__(self, *, name: str | None = None, backend: MemoryBackend | None = None) -> None:
        if backend is not None and name is not None:
            raise ConfigurationError("AsyncMemoryBackend takes name= or backend=, not both")
        if backend is not None and not isinstance(backend, MemoryBackend):
            raise ConfigurationError(
                f"backend= must be a MemoryBackend, got {type(backend).__name__}"
            )
        super().__init__(backend if backend is not None else MemoryBackend(name=name))

    def __repr__(self) -> str:
        return f"AsyncMemoryBackend({self._inner!r})"

    def _spawn(self, call: Callable[..., T], /, *args: Any) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        try:
            future.set_result(call(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting caller
            future.set_exception(exc)
        return future

    async def _run(self, call: Callable[..., T], /, *args: Any) -> T:
        return call(*args)
