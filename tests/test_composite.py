"""CompositeStore: the conformance suite over memory-over-local and SQLite-over-S3
composites, and the tier rules (fallthrough, patterns, writes, deletes, migrate)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omnistorage import LocalBackend, MemoryBackend, NotFound, Store
from omnistorage.composite import CompositeStore, Tier
from omnistorage.testing import StoreConformance, make_state_machine


class TestMemoryOverLocal(StoreConformance):
    backend_name = "composite-memory-local"

    @pytest.fixture
    def empty_store(self, tmp_path: Path) -> Store:
        return CompositeStore(
            [Tier("hot", Store(MemoryBackend())), Tier("cold", Store(LocalBackend(tmp_path)))]
        )


@pytest.mark.server
class TestSQLiteOverS3(StoreConformance):
    leftover_times_are_real = False  # S3 is moto: it dates every upload 2010-11-10
    backend_name = "composite-sqlite-s3"
    many_keys = 300
    abandoned_write_size = 2 << 20

    @pytest.fixture
    def empty_store(self, tmp_path: Path) -> Iterator[Store]:
        from omnistorage.backends.sql import SQLBlobBackend
        from tests.support.remote import s3_store, wipe

        s3 = s3_store()
        sqlite = Store(SQLBlobBackend(f"sqlite:///{tmp_path}/hot.db", chunk_size=256 << 10))
        yield CompositeStore([Tier("hot", sqlite), Tier("warm", s3)])
        wipe(s3)


TestCompositeModel = make_state_machine(
    lambda: CompositeStore([Tier("a", Store(MemoryBackend())), Tier("b", Store(MemoryBackend()))])
).TestCase


def _tiers() -> tuple[CompositeStore, Store, Store]:
    hot, cold = Store(MemoryBackend()), Store(MemoryBackend())
    return CompositeStore([Tier("hot", hot), Tier("cold", cold)]), hot, cold


def test_reads_fall_through_and_resolve_says_which_tier() -> None:
    store, hot, cold = _tiers()
    cold.write("r.csv", b"cold copy")
    assert store.read_bytes("r.csv") == b"cold copy"
    assert store.read_range("r.csv", 5, 4) == b"copy"
    assert store.resolve("r.csv").steps == ("hot: not found", "cold: resolved")
    hot.write("r.csv", b"hot copy")
    assert store.read_bytes("r.csv") == b"hot copy"
    assert store.resolve("r.csv").steps == ("hot: resolved",)


def test_writes_go_to_the_write_tier_only_and_deletes_everywhere() -> None:
    store, hot, cold = _tiers()
    store.write("w.txt", b"new")
    assert hot.read_bytes("w.txt") == b"new"
    assert not cold.exists("w.txt")
    cold.write("w.txt", b"old")
    store.delete("w.txt")
    assert not hot.exists("w.txt")
    assert not cold.exists("w.txt")
    with pytest.raises(NotFound):
        store.read_bytes("w.txt")


def test_write_tier_and_write_through() -> None:
    hot, cold = Store(MemoryBackend()), Store(MemoryBackend())
    to_cold = CompositeStore([Tier("hot", hot), Tier("cold", cold)], write_tier="cold")
    to_cold.write("c.txt", b"c")
    assert cold.exists("c.txt")
    assert not hot.exists("c.txt")
    both = CompositeStore([Tier("hot", hot), Tier("cold", cold)], write_through=True)
    both.write("b.txt", b"b")
    assert hot.read_bytes("b.txt") == cold.read_bytes("b.txt") == b"b"


def test_pattern_tiers_route_keys() -> None:
    hot, archive = Store(MemoryBackend()), Store(MemoryBackend())
    store = CompositeStore([Tier("hot", hot, match="hot/**"), Tier("archive", archive)])
    store.write("hot/a.txt", b"h")
    store.write("old/b.txt", b"o")
    assert hot.exists("hot/a.txt")
    assert archive.exists("old/b.txt")
    assert not hot.exists("old/b.txt")


def test_listings_are_a_union_and_can_be_scoped_to_a_tier() -> None:
    store, hot, cold = _tiers()
    hot.write("d/a.txt", b"1")
    cold.write("d/a.txt", b"22")
    cold.write("d/b.txt", b"3")
    listed = {i.path: i.size for i in store.list_files("d")}
    assert listed == {"d/a.txt": 1, "d/b.txt": 1}
    assert [i.path for i in store.list_files("d", tier="cold")] == ["d/a.txt", "d/b.txt"] or [
        i.path for i in sorted(store.list_files("d", tier="cold"), key=lambda i: i.path)
    ] == ["d/a.txt", "d/b.txt"]


def test_migrate_moves_between_tiers() -> None:
    store, hot, cold = _tiers()
    store.write("m.bin", b"payload")
    store.migrate("m.bin", "hot", "cold")
    assert not hot.exists("m.bin")
    assert cold.read_bytes("m.bin") == b"payload"
    assert store.read_bytes("m.bin") == b"payload"
    store.migrate("m.bin", "cold", "hot", keep_source=True)
    assert hot.exists("m.bin")
    assert cold.exists("m.bin")


def test_child_composites_keep_the_tier_api() -> None:
    store, hot, _cold = _tiers()
    child = store.child("sub")
    assert isinstance(child, CompositeStore)
    child.write("x.txt", b"x")
    assert hot.read_bytes("sub/x.txt") == b"x"
    assert [i.path for i in child.list_files(tier="hot")] == ["x.txt"]
