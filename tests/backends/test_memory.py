"""The memory backend runs the shared conformance suite and the model test."""

from __future__ import annotations

import hashlib
import time
import uuid

import pytest

from omnistorage import MemoryBackend, Store
from omnistorage.backends.memory import _Object
from omnistorage.testing import WRAPPER_VARIANTS, StoreConformance, make_state_machine
from omnistorage.testing._integrity import FOREIGN_CANDIDATES, driver_of


class TestMemoryConformance(StoreConformance):
    backend_name = "memory"
    variants = (*StoreConformance.variants, *WRAPPER_VARIANTS)
    foreign_names = FOREIGN_CANDIDATES

    @pytest.fixture
    def empty_store(self) -> Store:
        self._space = f"conformance-{uuid.uuid4().hex}"
        return Store(MemoryBackend(name=self._space))

    def second_handle(self, store: Store) -> Store:
        return Store(MemoryBackend(name=self._space), store.root)

    def plant_foreign(self, store: Store, name: str, data: bytes) -> None:
        backend = driver_of(store)
        assert isinstance(backend, MemoryBackend)
        native = f"{store.root}/{name}" if store.root else name
        digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
        backend._space.objects[native] = _Object(data, time.time_ns(), None, {}, digest)


TestMemoryModel = make_state_machine(lambda: Store(MemoryBackend())).TestCase


def test_named_spaces_are_shared_while_open() -> None:
    first = Store(MemoryBackend(name="shared-space"))
    second = Store(MemoryBackend(name="shared-space"))
    first.write("k", b"v")
    assert second.read_bytes("k") == b"v"
    assert not Store(MemoryBackend()).exists("k")
