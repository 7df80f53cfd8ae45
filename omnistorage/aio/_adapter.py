"""SyncBackendAdapter: any sync driver behind the async driver contract, on a bounded
thread pool."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any, TypeVar

from omnistorage.aio._offload import Offload
from omnistorage.driver import Backend
from omnistorage.errors import ConfigurationError

__all__ = ["DEFAULT_MAX_WORKERS", "SyncBackendAdapter"]

T = TypeVar("T")

DEFAULT_MAX_WORKERS = 16
"""Threads per adapter: sync calls in flight at once (more wait their turn)."""


class SyncBackendAdapter(Offload):
    """Runs the sync driver ``backend`` behind :class:`~omnistorage.aio.AsyncBackend`.

    Every driver call that may block (a request, a disk access) runs on this adapter's
    own thread pool of at most ``max_workers`` threads and is awaited from the
    caller's event loop: there is no event loop in a hidden thread, and nothing runs
    on the loop that could block it. Driver calls past ``max_workers`` wait for a
    free thread, so the pool also bounds the concurrency the driver sees (its
    connection pool should be at least as large: S3's ``max_pool_connections`` is 16
    by default).

    The sync driver's guarantees carry over unchanged (atomic and create-only writes,
    pinned reads, error classification, secret scrubbing), since its own code does
    the work. Per call the thread hop costs tens of microseconds; one-shot
    transfers (``AsyncStore.write`` of bytes, ``read_bytes``) take one hop each, and
    writes smaller than 256 KiB gather in memory before they are handed over.

    A cancelled ``await`` cannot stop a call already running on a thread: the call
    finishes there. A cancelled write is aborted after its running call ends, so
    nothing is published; a publish (``close``) that already began on its thread
    completes, all or nothing.

    ``close()`` closes the driver, then shuts the pool down. ``unwrap`` on an
    ``AsyncStore`` over it finds the sync driver and its native client
    (``store.unwrap(S3Backend)``, ``store.unwrap(BaseClient)``).
    """

    def __init__(self, backend: Backend, *, max_workers: int = DEFAULT_MAX_WORKERS) -> None:
        if not isinstance(backend, Backend):
            raise ConfigurationError(
                f"SyncBackendAdapter wraps a sync omnistorage Backend, got {type(backend).__name__}"
            )
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ConfigurationError(f"max_workers must be a positive int, got {max_workers!r}")
        super().__init__(backend)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix=f"omnistorage-aio-{backend.name}"
        )

    def __repr__(self) -> str:
        return f"SyncBackendAdapter({self._inner!r})"

    def _spawn(self, call: Callable[..., T], /, *args: Any) -> concurrent.futures.Future[T]:
        return self._pool.submit(call, *args)

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self._pool.shutdown(wait=False)
