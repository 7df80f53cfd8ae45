"""The local backend runs the shared conformance suite and the model test."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from omnistorage import LocalBackend, Store
from omnistorage.testing import StoreConformance, make_state_machine


class TestLocalConformance(StoreConformance):
    crash_leaves_leftovers = True
    backend_name = "local"

    @pytest.fixture
    def empty_store(self, tmp_path: Path) -> Store:
        return Store(LocalBackend(tmp_path / "root"))


TestLocalModel = make_state_machine(
    lambda: Store(LocalBackend(tempfile.mkdtemp(prefix="omni-model-")))
).TestCase
