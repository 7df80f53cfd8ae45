"""The shared conformance suite, run through AsyncStore on memory (natively async) and on
local files and S3 (through SyncBackendAdapter): plain, under a child prefix, and through
the basic driver interface (every fallback)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from omnistorage import LocalBackend, MemoryBackend
from omnistorage.aio import AsyncMemoryBackend, AsyncStore, SyncBackendAdapter
from omnistorage.backends.memory import _Object
from omnistorage.testing import FOREIGN_CANDIDATES, driver_of
from tests.aio._suite import AsyncConformance


class TestAsyncMemoryConformance(AsyncConformance):
    backend_name = "aio-memory"
    foreign_names = FOREIGN_CANDIDATES

    @pytest.fixture
    def empty_async_store(self) -> AsyncStore:
        return AsyncStore(AsyncMemoryBackend())

    def plant_foreign(self, store: object, name: str, data: bytes) -> None:
        backend = driver_of(store)  # type: ignore[arg-type]
        assert isinstance(backend, MemoryBackend)
        root = store.root  # type: ignore[attr-defined]
        native = f"{root}/{name}" if root else name
        digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
        backend._space.objects[native] = _Object(data, time.time_ns(), None, {}, digest)


class TestAsyncLocalConformance(AsyncConformance):
    crash_leaves_leftovers = True
    backend_name = "aio-local"
    foreign_names = ("back\\slash.txt", "tab\there.txt", "new\nline.txt")

    @pytest.fixture
    def empty_async_store(self, tmp_path: Path) -> AsyncStore:
        return AsyncStore(SyncBackendAdapter(LocalBackend(tmp_path / "root")))

    def plant_foreign(self, store: object, name: str, data: bytes) -> None:
        backend = driver_of(store)  # type: ignore[arg-type]
        assert isinstance(backend, LocalBackend)
        folder = Path(backend.root, store.root)  # type: ignore[attr-defined]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
