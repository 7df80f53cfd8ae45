"""``aio.open_store``: an AsyncStore from a URL or a local path."""

from __future__ import annotations

from typing import Any

from omnistorage.aio._adapter import DEFAULT_MAX_WORKERS, SyncBackendAdapter
from omnistorage.aio._memory import AsyncMemoryBackend
from omnistorage.aio._store import AsyncStore
from omnistorage.backends.memory import MemoryBackend
from omnistorage.registry import open_store as open_sync_store

__all__ = ["open_store"]


def open_store(
    target: str, *, max_workers: int = DEFAULT_MAX_WORKERS, **options: Any
) -> AsyncStore:
    """Open an :class:`AsyncStore` from a URL or a local path, as
    :func:`omnistorage.open_store` does (same schemes, options and checks).

    ``memory://`` stores get :class:`AsyncMemoryBackend` (no thread); every other
    backend runs on a :class:`SyncBackendAdapter` with ``max_workers`` threads, S3
    included (``benchmarks/aio.py`` compares that with aiobotocore and obstore).
    Nothing connects here beyond what the sync backend's constructor does.
    """
    store = open_sync_store(target, **options)
    backend = store.unwrap()
    if type(backend) is MemoryBackend:
        return AsyncStore(AsyncMemoryBackend(backend=backend), store.root)
    return AsyncStore(SyncBackendAdapter(backend, max_workers=max_workers), store.root)
