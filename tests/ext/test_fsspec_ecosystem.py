"""pandas, pyarrow, Dask and DuckDB read and write through omnistorage's fsspec adapter,
keeping its guarantees (atomic publishes, create-only where asked, typed errors)."""

from __future__ import annotations

from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from omnistorage import LocalBackend, MemoryBackend, Store  # noqa: E402
from omnistorage.ext.fsspec import OmniFileSystem  # noqa: E402


def _frame() -> object:
    return pd.DataFrame({"id": range(100), "name": [f"user {i}" for i in range(100)]})


def test_pandas_csv_and_parquet_round_trip_through_omni_urls() -> None:
    store = Store(MemoryBackend())
    options = {"store": store}
    frame = _frame()
    frame.to_csv("omni://exports/users.csv.gz", index=False, storage_options=options)
    frame.to_parquet("omni://exports/users.parquet", storage_options=options)
    back = pd.read_csv("omni://exports/users.csv.gz", storage_options=options)
    assert back.equals(frame)
    assert pd.read_parquet("omni://exports/users.parquet", storage_options=options).equals(frame)
    assert store.is_file("exports/users.csv.gz")


def test_pandas_to_csv_writes_to_a_store_writer_directly() -> None:
    store = Store(MemoryBackend())
    with store.open_writer("direct.csv") as out:
        _frame().to_csv(out, index=False)
    with store.read("direct.csv") as raw:
        assert pd.read_csv(raw).equals(_frame())


def test_a_failing_pandas_write_publishes_nothing() -> None:
    store = Store(MemoryBackend())

    class Boom:
        def __str__(self) -> str:
            raise RuntimeError("cannot render")

    bad = pd.DataFrame({"x": [1, Boom()]})
    with pytest.raises(RuntimeError):
        bad.to_csv("omni://bad.csv", storage_options={"store": store})
    assert not store.exists("bad.csv")


def test_missing_files_raise_file_not_found() -> None:
    with pytest.raises(FileNotFoundError):
        pd.read_csv("omni://nope.csv", storage_options={"store": Store(MemoryBackend())})


def test_pyarrow_dataset_reads_a_partitioned_tree(tmp_path: Path) -> None:
    import pyarrow.dataset as ds
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    store = Store(LocalBackend(tmp_path))
    fs = OmniFileSystem(store)
    table = pa.table({"year": [2025, 2025, 2026], "v": [1, 2, 3]})
    pq.write_to_dataset(
        table, "sales", partition_cols=["year"], filesystem=PyFileSystem(FSSpecHandler(fs))
    )
    dataset = ds.dataset("sales", filesystem=PyFileSystem(FSSpecHandler(fs)), partitioning="hive")
    assert sorted(dataset.to_table()["v"].to_pylist()) == [1, 2, 3]


def test_dask_reads_csv_shards() -> None:
    dd = pytest.importorskip("dask.dataframe")
    store = Store(MemoryBackend())
    for i in range(3):
        store.write(f"shards/part-{i}.csv", f"a,b\n{i},{i * 10}\n".encode())
    frame = dd.read_csv("omni://shards/*.csv", storage_options={"store": store})
    assert sorted(frame["b"].compute().tolist()) == [0, 10, 20]


def test_duckdb_reads_and_writes_through_the_filesystem() -> None:
    duckdb = pytest.importorskip("duckdb")
    store = Store(MemoryBackend())
    fs = OmniFileSystem(store)
    store.write("in/data.csv", b"a,b\n1,2\n3,4\n")
    connection = duckdb.connect()
    connection.register_filesystem(fs)
    total = connection.execute("select sum(b) from read_csv('omni://in/data.csv')").fetchone()
    assert total == (6,)
    connection.execute("copy (select 42 as answer) to 'omni://out/answer.csv' (header true)")
    assert store.read_text("out/answer.csv").strip().splitlines() == ["answer", "42"]


def test_a_file_written_while_handling_another_error_is_published() -> None:
    store = Store(MemoryBackend())
    fs = OmniFileSystem(store)
    try:
        raise KeyError("handled")
    except KeyError:
        with fs.open("report.txt", "wb") as out:
            out.write(b"written in an except block")
    assert store.read_bytes("report.txt") == b"written in an except block"


def test_an_exception_inside_fsspec_open_publishes_nothing() -> None:
    import fsspec

    store = Store(MemoryBackend())
    with pytest.raises(RuntimeError), fsspec.open("omni://half.bin", "wb", store=store) as out:
        out.write(b"half")
        raise RuntimeError("boom")
    assert not store.exists("half.bin")
