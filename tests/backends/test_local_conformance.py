"""The local backend runs the shared conformance suite and the model test."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from omnistorage import LocalBackend, Store
from omnistorage.testing import WRAPPER_VARIANTS, StoreConformance, driver_of, make_state_machine


class TestLocalConformance(StoreConformance):
    crash_leaves_leftovers = True
    backend_name = "local"
    variants = (*StoreConformance.variants, *WRAPPER_VARIANTS)
    # The names a POSIX file system can hold as one file name (``a//b``, ``../x`` … cannot be).
    foreign_names = ("back\\slash.txt", "tab\there.txt", "new\nline.txt")

    def plant_foreign(self, store: Store, name: str, data: bytes) -> None:
        backend = driver_of(store)
        assert isinstance(backend, LocalBackend)
        folder = Path(backend.root, store.root)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)

    @pytest.fixture
    def empty_store(self, tmp_path: Path) -> Store:
        return Store(LocalBackend(tmp_path / "root"))

    def second_handle(self, store: Store) -> Store:
        backend = driver_of(store)
        assert isinstance(backend, LocalBackend)
        # Through a symlink to the root: the place is the real folder, not the name.
        alias = Path(backend.root).with_name("alias")
        if not alias.exists():
            alias.symlink_to(backend.root)
        return Store(LocalBackend(alias), store.root)


TestLocalModel = make_state_machine(
    lambda: Store(LocalBackend(tempfile.mkdtemp(prefix="omni-model-")))
).TestCase
