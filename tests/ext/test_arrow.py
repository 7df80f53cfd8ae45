"""pyarrow over a Store: Parquet tables and datasets, atomic output streams, and a
Parquet dataset through S3 (moto) with bounded memory."""

from __future__ import annotations

from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
ds = pytest.importorskip("pyarrow.dataset")

from omnistorage import Capability, LocalBackend, MemoryBackend, Store  # noqa: E402
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


@pytest.mark.server
def test_parquet_dataset_round_trips_through_s3() -> None:
    """Eight Parquet files written to S3 (moto) through the handler and scanned back in
    batches. (Memory during the scan is measured by benchmarks/adapters.py.)"""
    from tests.support.remote import s3_store, wipe

    store = s3_store(part_size=8 << 20)
    fs = arrow_filesystem(store)
    rows = 200_000
    try:
        for part in range(8):
            ids = pa.array(range(part * rows, (part + 1) * rows), pa.int64())
            pq.write_table(pa.table({"id": ids}), f"big/part-{part}.parquet", filesystem=fs)
        total = 0
        checksum = 0
        dataset = ds.dataset("big", format="parquet", filesystem=fs)
        for batch in dataset.to_batches(batch_size=65536):
            total += batch.num_rows
            checksum += sum(batch["id"].to_pylist())
        assert total == 8 * rows
        assert checksum == (8 * rows - 1) * 8 * rows // 2
    finally:
        wipe(store)


ROOT_SPELLINGS = ["", "/", "//", "///"]


def _planted(tmp_path: Path) -> tuple[Store, list[str]]:
    store = Store(LocalBackend(tmp_path / "store"))
    keys = ["a/x.parquet", "a/b/y.parquet", "z.bin"]
    for key in keys:
        store.write(key, b"kept")
    return store, keys


def _remaining(store: Store) -> list[str]:
    return sorted(info.path for info in store.list_files(recursive=True))


@pytest.mark.parametrize("root", ROOT_SPELLINGS)
def test_delete_dir_contents_refuses_the_root_as_pyarrows_filesystems_do(
    root: str, tmp_path: Path
) -> None:
    """pyarrow's own filesystems (local under a subtree, its mock) refuse the root here; so
    does the adapter, and nothing is deleted."""
    pafs = pytest.importorskip("pyarrow.fs")
    (tmp_path / "theirs").mkdir()
    for theirs in (
        pafs.SubTreeFileSystem(str(tmp_path / "theirs"), pafs.LocalFileSystem()),
        pafs._MockFileSystem(),
    ):
        with pytest.raises(pa.ArrowInvalid):
            theirs.delete_dir_contents(root)
    store, keys = _planted(tmp_path)
    fs = arrow_filesystem(store)
    with pytest.raises(ValueError, match="root"):
        fs.delete_dir_contents(root)
    with pytest.raises(ValueError, match="root"):
        fs.delete_dir_contents(root, missing_dir_ok=True)
    with pytest.raises(OSError, match="root"):
        fs.delete_dir(root)
    assert _remaining(store) == sorted(keys)


def test_emptying_the_root_takes_the_explicit_call(tmp_path: Path) -> None:
    store, _ = _planted(tmp_path)
    fs = arrow_filesystem(store)
    fs.delete_dir_contents("a")  # a folder below the root is emptied as asked
    assert _remaining(store) == ["z.bin"]
    assert store.is_folder("a") or not store.supports(Capability.MKDIR)
    fs.delete_dir_contents("/", accept_root_dir=True)
    assert _remaining(store) == []
