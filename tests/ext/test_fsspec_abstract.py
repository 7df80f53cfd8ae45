"""fsspec's own abstract test suite (copy, get, put, open, pipe) against OmniFileSystem,
over a memory store (no empty folders) and a local store (real folders)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("fsspec")

from fsspec.tests.abstract import (
    AbstractCopyTests,
    AbstractFixtures,
    AbstractGetTests,
    AbstractOpenTests,
    AbstractPipeTests,
    AbstractPutTests,
)

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.capabilities import Capability
from omnistorage.ext.fsspec import OmniFileSystem


class _OmniFixtures(AbstractFixtures):  # type: ignore[misc]
    def make_store(self, tmp: Path) -> Store:
        raise NotImplementedError

    @pytest.fixture
    def fs(self, tmp_path: Path) -> OmniFileSystem:
        return OmniFileSystem(self.make_store(tmp_path / "store"))

    @pytest.fixture
    def fs_path(self) -> str:
        return "base"

    @pytest.fixture
    def fs_join(self) -> Callable[..., str]:
        def join(*parts: str) -> str:
            if len(parts) == 1:
                return parts[0]
            head = [parts[0].rstrip("/")] + [p.strip("/") for p in parts[1:-1] if p.strip("/")]
            return "/".join([*head, parts[-1].lstrip("/")])

        return join

    @pytest.fixture
    def supports_empty_directories(self, fs: OmniFileSystem) -> bool:
        store = fs._store
        assert store is not None
        return store.supports(Capability.MKDIR)


class _MemoryFixtures(_OmniFixtures):
    def make_store(self, tmp: Path) -> Store:
        return Store(MemoryBackend())


class _LocalFixtures(_OmniFixtures):
    def make_store(self, tmp: Path) -> Store:
        return Store(LocalBackend(tmp))


class TestMemoryCopy(AbstractCopyTests, _MemoryFixtures):  # type: ignore[misc]
    pass


class TestMemoryGet(AbstractGetTests, _MemoryFixtures):  # type: ignore[misc]
    pass


class TestMemoryPut(AbstractPutTests, _MemoryFixtures):  # type: ignore[misc]
    pass


class TestMemoryOpen(AbstractOpenTests, _MemoryFixtures):  # type: ignore[misc]
    pass


class TestMemoryPipe(AbstractPipeTests, _MemoryFixtures):  # type: ignore[misc]
    pass


class TestLocalCopy(AbstractCopyTests, _LocalFixtures):  # type: ignore[misc]
    pass


class TestLocalGet(AbstractGetTests, _LocalFixtures):  # type: ignore[misc]
    pass


class TestLocalPut(AbstractPutTests, _LocalFixtures):  # type: ignore[misc]
    pass


class TestLocalOpen(AbstractOpenTests, _LocalFixtures):  # type: ignore[misc]
    pass


class TestLocalPipe(AbstractPipeTests, _LocalFixtures):  # type: ignore[misc]
    pass
