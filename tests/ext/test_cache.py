"""ReadCacheLayer: hits, versions, bounds, and processes sharing one cache folder."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.ext import MetricsLayer, ReadCacheLayer


def test_repeated_reads_come_from_disk() -> None:
    counted = MetricsLayer(MemoryBackend())
    import tempfile

    cache = ReadCacheLayer(counted, tempfile.mkdtemp())
    store = Store(cache)
    store.write("k", b"x" * 100_000)
    for _ in range(5):
        assert store.read_bytes("k") == b"x" * 100_000
    assert cache.misses == 1
    assert cache.hits == 4
    reads = counted.snapshot().get("read", {}).get("calls", 0)
    pinned = counted.snapshot().get("read_range", {}).get("calls", 0)
    assert reads + pinned <= 1  # the content came from the inner backend once


def test_an_overwrite_is_never_served_stale(tmp_path: Path) -> None:
    store = Store(ReadCacheLayer(MemoryBackend(), tmp_path))
    store.write("k", b"old")
    assert store.read_bytes("k") == b"old"
    store.write("k", b"new!", overwrite=True)
    assert store.read_bytes("k") == b"new!"
    assert store.read_range("k", 1, 2) == b"ew"


def test_the_cache_stays_under_its_bound_and_evicts_least_recently_used(tmp_path: Path) -> None:
    cache = ReadCacheLayer(MemoryBackend(), tmp_path, max_bytes=250_000)
    store = Store(cache)
    for i in range(5):
        store.write(f"k{i}", bytes([i]) * 100_000)
    for i in range(5):
        store.read_bytes(f"k{i}")
        assert cache.cache_size() <= 250_000
    store.read_bytes("k3")  # recently used: stays
    store.read_bytes("k0")
    before = cache.misses
    store.read_bytes("k3")
    store.read_bytes("k0")
    assert cache.misses == before


def test_objects_over_the_object_limit_bypass_the_cache(tmp_path: Path) -> None:
    cache = ReadCacheLayer(MemoryBackend(), tmp_path, max_object_bytes=10)
    store = Store(cache)
    store.write("big", b"y" * 100)
    assert store.read_bytes("big") == b"y" * 100
    assert cache.cache_size() == 0


def _reader(args: tuple[str, str, int]) -> bool:
    root, cache_dir, rounds = args
    store = Store(ReadCacheLayer(LocalBackend(root), cache_dir, max_bytes=300_000))
    for r in range(rounds):
        for i in range(6):
            if store.read_bytes(f"k{i}") != bytes([i]) * 100_000:
                return False
        del r
    return True


def test_processes_share_one_cache_folder_safely(tmp_path: Path) -> None:
    source = Store(LocalBackend(tmp_path / "data"))
    for i in range(6):
        source.write(f"k{i}", bytes([i]) * 100_000)
    args = (str(tmp_path / "data"), str(tmp_path / "cache"), 20)
    with multiprocessing.get_context("fork").Pool(4) as pool:
        assert all(pool.map(_reader, [args] * 4))
    leftovers = [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".fill-")]
    assert leftovers == []
