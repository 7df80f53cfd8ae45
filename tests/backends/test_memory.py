"""The memory backend runs the shared conformance suite and the model test."""

from __future__ import annotations

import pytest

from omnistorage import MemoryBackend, Store
from omnistorage.testing import StoreConformance, make_state_machine


class TestMemoryConformance(StoreConformance):
    backend_name = "memory"

    @pytest.fixture
    def empty_store(self) -> Store:
        return Store(MemoryBackend())


TestMemoryModel = make_state_machine(lambda: Store(MemoryBackend())).TestCase


def test_named_spaces_are_shared_while_open() -> None:
    first = Store(MemoryBackend(name="shared-space"))
    second = Store(MemoryBackend(name="shared-space"))
    first.write("k", b"v")
    assert second.read_bytes("k") == b"v"
    assert not Store(MemoryBackend()).exists("k")
