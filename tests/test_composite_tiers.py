"""CompositeStore with read-only and size-unknown tiers (a SQL query tier over SQLite):
fallthrough into query results, migrate out of a tier whose sizes are unknown,
write-through that skips tiers that cannot be written, listings that skip tiers that
cannot list, and capabilities that follow the seed's model."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")
pytest.importorskip("pyarrow")

from omnistorage import Capability, CapabilityNotSupported, MemoryBackend, Store
from omnistorage.backends.sql import SQLQueryBackend
from omnistorage.capabilities import Features
from omnistorage.composite import CompositeStore, Tier

REPORT = '"year","total"\n2023,1.5\n2024,6.5\n'


@pytest.fixture
def reports(tmp_path: Path) -> Store:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE sales (year INTEGER, amount REAL)")
        conn.execute("INSERT INTO sales VALUES (2023, 1.5), (2024, 2.5), (2024, 4.0)")
    sql = "SELECT year, SUM(amount) AS total FROM sales GROUP BY year ORDER BY year"
    return Store(SQLQueryBackend(f"sqlite:///{path}", queries={"reports/yearly.csv": sql}))


def test_reads_fall_through_to_a_query_tier_whose_size_is_unknown(reports: Store) -> None:
    hot = Store(MemoryBackend())
    store = CompositeStore([Tier("hot", hot), Tier("sql", reports)])
    assert store.read_text("reports/yearly.csv") == REPORT
    assert store.get_file_info("reports/yearly.csv").size is None
    assert store.get_folder_info("reports").total_size == 0
    assert store.resolve("reports/yearly.csv").steps == ("hot: not found", "sql: resolved")


def test_migrate_copies_out_of_a_query_tier_checking_the_bytes_read(reports: Store) -> None:
    hot = Store(MemoryBackend())
    store = CompositeStore([Tier("hot", hot), Tier("sql", reports)])
    with pytest.raises(CapabilityNotSupported):  # the query tier cannot delete: refused first
        store.migrate("reports/yearly.csv", "sql", "hot")
    assert not hot.exists("reports/yearly.csv")
    store.migrate("reports/yearly.csv", "sql", "hot", keep_source=True)
    assert hot.read_text("reports/yearly.csv") == REPORT
    assert store.get_file_info("reports/yearly.csv").size == len(REPORT)  # now the hot copy


def test_migrate_into_a_read_only_tier_is_refused_before_any_io(reports: Store) -> None:
    hot = Store(MemoryBackend())
    hot.write("reports/x.csv", b"x")
    store = CompositeStore([Tier("hot", hot), Tier("sql", reports)])
    with pytest.raises(CapabilityNotSupported):
        store.migrate("reports/x.csv", "hot", "sql")
    assert hot.exists("reports/x.csv")


def test_write_through_skips_tiers_that_cannot_be_written(reports: Store) -> None:
    hot, warm = Store(MemoryBackend()), Store(MemoryBackend())
    store = CompositeStore(
        [Tier("hot", hot), Tier("sql", reports), Tier("warm", warm)], write_through=True
    )
    store.write("notes/a.txt", b"a")
    assert hot.read_bytes("notes/a.txt") == warm.read_bytes("notes/a.txt") == b"a"


def test_capabilities_follow_the_seed_model(reports: Store) -> None:
    writable = CompositeStore([Tier("hot", Store(MemoryBackend())), Tier("sql", reports)])
    assert writable.supports(Capability.WRITE)  # the write tier's
    assert writable.supports(Capability.LIST)
    read_only = CompositeStore([Tier("sql", reports), Tier("hot", Store(MemoryBackend()))])
    assert not read_only.supports(Capability.WRITE)
    with pytest.raises(CapabilityNotSupported):
        read_only.write("x.txt", b"x")


class _NoListing(MemoryBackend):
    """A memory backend that does not list (as an HTTP server without an index)."""

    def features(self) -> Features:
        caps = super().features().capabilities - {Capability.LIST}
        return Features.of(caps, super().features().hash_types)


def test_listings_are_the_union_of_the_tiers_that_list(reports: Store) -> None:
    unlisted = Store(_NoListing())
    unlisted.write("reports/hidden.csv", b"h")
    store = CompositeStore([Tier("plain", unlisted), Tier("sql", reports)])
    assert [i.path for i in store.list_files("reports")] == ["reports/yearly.csv"]
    assert store.read_bytes("reports/hidden.csv") == b"h"
    only_unlisted = CompositeStore([Tier("plain", Store(_NoListing()))])
    assert not only_unlisted.supports(Capability.LIST)
