"""Mirrors run the shared conformance suite: memory+local here; remote pairs in
``test_mirror_servers.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.multi import MirrorBackend
from omnistorage.testing import StoreConformance, make_state_machine


class TestMirrorMemoryLocal(StoreConformance):
    backend_name = "mirror-memory-local"

    @pytest.fixture
    def empty_store(self, tmp_path: Path) -> Iterator[Store]:
        store = Store(MirrorBackend([Store(MemoryBackend()), Store(LocalBackend(tmp_path))]))
        yield store
        store.close()


TestMirrorModel = make_state_machine(
    lambda: Store(MirrorBackend([Store(MemoryBackend()), Store(MemoryBackend())]))
).TestCase
