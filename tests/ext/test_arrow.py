"""pyarrow over a Store: Parquet tables and datasets, atomic output streams, and a
Parquet dataset through S3 (moto) with bounded memory."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
ds = pytest.importorskip("pyarrow.dataset")

from omnistorage import LocalBackend, MemoryBackend, Store  # noqa: E402
from omnistorage.ext.arrow import arrow_filesystem  # noqa: E402


def test_parquet_table_round_trip() -> None:
    store = Store(MemoryBackend())
    fs = arrow_filesystem(store)
    table = pa.table({"id": list(range(1000)), "v": [i * 0.5 for i in range(1000)]})
    pq.write_table(table, "t/data.parquet", filesystem=fs)
    assert pq.read_table("t/data.parquet", filesystem=fs).equals(table)
    assert store.is_file("t/data.parquet")


def test_partitioned_dataset_write_and_scan(tmp_path: Path) -> None:
    store = Store(LocalBackend(tmp_path))
    fs = arrow_filesystem(store)
    table = pa.table({"year": [2025, 2025, 2026, 2026], "v": [1, 2, 3, 4]})
    ds.write_dataset(
        table,
        "sales",
        format="parquet",
        partitioning=["year"],
        partitioning_flavor="hive",
        filesystem=fs,
    )
    scanned = ds.dataset("sales", format="parquet", partitioning="hive", filesystem=fs)
    assert sorted(scanned.to_table()["v"].to_pylist()) == [1, 2, 3, 4]
    only_2026 = scanned.to_table(filter=ds.field("year") == 2026)
    assert sorted(only_2026["v"].to_pylist()) == [3, 4]


def test_a_failed_write_publishes_nothing() -> None:
    store = Store(MemoryBackend())
    fs = arrow_filesystem(store)
    with pytest.raises(RuntimeError), fs.open_output_stream("partial.bin") as out:
        out.write(b"half")
        raise RuntimeError("boom")
    assert not store.exists("partial.bin")


def test_missing_files_raise_file_not_found() -> None:
    fs = arrow_filesystem(Store(MemoryBackend()))
    with pytest.raises(FileNotFoundError):
        pq.read_table("nope.parquet", filesystem=fs)


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


@pytest.mark.server
def test_parquet_dataset_through_s3_streams_with_bounded_memory() -> None:
    """Scanning a dataset much larger than the memory it may use: RSS grows by less
    than half the data read (the 1 GiB run is in benchmarks/adapters.py)."""
    from tests.support.remote import s3_store, wipe

    store = s3_store(part_size=8 << 20)
    fs = arrow_filesystem(store)
    rows = 400_000
    try:
        for part in range(8):
            start = part * rows
            ids = pa.array(range(start, start + rows), pa.int64())
            noise = pa.array((i * 2654435761) % 2**63 for i in range(start, start + rows))
            table = pa.table({"id": ids, "noise": noise})
            pq.write_table(table, f"big/part-{part}.parquet", filesystem=fs, compression="none")
        size = sum(info.size for info in store.list_files("big"))
        assert size > 40 << 20
        before = _rss()
        peak = [before]
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _rss())
                time.sleep(0.005)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        total = 0
        dataset = ds.dataset("big", format="parquet", filesystem=fs)
        for batch in dataset.to_batches(batch_size=65536, batch_readahead=1, fragment_readahead=1):
            total += batch.num_rows
        done.set()
        watcher.join()
        assert total == 8 * rows
        assert peak[0] - before < size / 2, (peak[0] - before, size)
    finally:
        wipe(store)
