"""Suite tests for ownership: a write knows the version it published, and a conditional
delete removes that version and never another writer's (``CONDITIONAL_DELETE``).

Mixed into :class:`omnistorage.testing.StoreConformance`. What a mirror's and a
composite's rollbacks rely on, so a wrapper that drops a version token or deletes
unconditionally fails here as a backend would.
"""

from __future__ import annotations

import threading

import pytest

from omnistorage.capabilities import Capability
from omnistorage.errors import NotFound, PreconditionFailed, StorageError
from omnistorage.store import Store
from omnistorage.testing._marks import requires

__all__ = ["OwnershipTests"]


class OwnershipTests:
    """Conditional deletes (see the module docstring)."""

    race_rounds = 6
    """Rounds of the racing-overwrites test (each: one conditional delete, four writers)."""

    @requires(Capability.CONDITIONAL_DELETE)
    def test_a_write_names_its_version_and_a_conditional_delete_removes_it(
        self, store: Store
    ) -> None:
        result = store.write("own.bin", b"mine")
        assert result.version
        store.delete("own.bin", if_version=result.version)
        assert not store.is_file("own.bin")
        store.delete("own.bin", if_version=result.version, missing_ok=True)
        with pytest.raises(NotFound):
            store.delete("own.bin", if_version=result.version)
        with store.open_atomic("streamed.bin") as writer:
            writer.write(b"streamed")
        streamed = writer.close()
        assert streamed.version
        store.delete("streamed.bin", if_version=streamed.version)
        assert not store.is_file("streamed.bin")

    @requires(Capability.CONDITIONAL_DELETE)
    def test_a_conditional_delete_spares_another_version(self, store: Store) -> None:
        mine = store.write("k.bin", b"mine")
        theirs = store.write("k.bin", b"theirs, longer", overwrite=True)
        assert mine.version != theirs.version
        assert mine.version is not None
        with pytest.raises(PreconditionFailed) as info:
            store.delete("k.bin", if_version=mine.version)
        assert info.value.path == "k.bin"
        assert store.read_bytes("k.bin") == b"theirs, longer"

    @requires(Capability.CONDITIONAL_DELETE)
    def test_a_conditional_delete_spares_an_identical_overwrite(self, store: Store) -> None:
        mine = store.write("same.bin", b"same bytes")
        store.write("same.bin", b"same bytes", overwrite=True)
        assert mine.version is not None
        with pytest.raises(PreconditionFailed):
            store.delete("same.bin", if_version=mine.version)
        assert store.read_bytes("same.bin") == b"same bytes"

    @requires(Capability.CONDITIONAL_DELETE)
    def test_racing_overwrites_never_lose_to_a_conditional_delete(self, store: Store) -> None:
        """One thread deletes its own version while others overwrite the key: whatever
        the order, an acknowledged overwrite is never the version that goes."""
        for round_ in range(self.race_rounds):
            acked, errors = _race_delete_against_overwrites(store, f"race-{round_}.bin", 4)
            assert errors == []
            assert len(acked) == 4
            assert store.read_bytes(f"race-{round_}.bin") in acked, f"round {round_}: lost"


def _race_delete_against_overwrites(
    store: Store, key: str, writers: int
) -> tuple[list[bytes], list[BaseException]]:
    """Write ``key``, then release at once one conditional delete of that version and
    ``writers`` overwrites; return the acknowledged payloads and unexpected errors."""
    mine = store.write(key, b"mine").version
    assert mine is not None
    barrier = threading.Barrier(writers + 1)
    acked: list[bytes] = []
    errors: list[BaseException] = []

    def overwrite(i: int) -> None:
        payload = f"writer {i} of {key}".encode()
        barrier.wait()
        try:
            store.write(key, payload, overwrite=True)
        except StorageError as exc:
            errors.append(exc)
        else:
            acked.append(payload)

    def delete() -> None:
        barrier.wait()
        try:
            store.delete(key, if_version=mine, missing_ok=True)
        except PreconditionFailed:
            pass
        except StorageError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=overwrite, args=(i,)) for i in range(writers)]
    threads.append(threading.Thread(target=delete))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return acked, errors
