"""Async record writers and readers: the same bytes as the sync layers (they share the
code), every format and codec, seals, failures, cancellation."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from omnistorage import MemoryBackend, Store
from omnistorage.aio import AsyncMemoryBackend, AsyncStore, SyncBackendAdapter
from omnistorage.aio.records import open_reader, open_writer
from omnistorage.errors import (
    ConfigurationError,
    DataError,
    NotFound,
    StorageError,
    StreamClosed,
    TruncatedDataError,
)
from omnistorage.ext import FaultInjectionLayer
from omnistorage.records import open_reader as sync_open_reader
from omnistorage.records import open_writer as sync_open_writer

pytestmark = pytest.mark.asyncio

SUFFIXES = {
    "ndjson": ".ndjson",
    "csv": ".csv",
    "tfrecord": ".tfrecord",
}
CODECS = {"none": "", "gzip": ".gz", "zstd": ".zst", "snappy": ".sz"}


def records_for(fmt: str, n: int) -> list[Any]:
    if fmt == "tfrecord":
        return [f"payload {i}".encode() * (i % 7 + 1) for i in range(n)]
    return [{"id": str(i), "text": f'line {i}, with "quotes"\nand a newline'} for i in range(n)]


def twin_stores() -> tuple[Store, AsyncStore]:
    """A sync and an async store over the same named memory space."""
    sync = Store(MemoryBackend(name=f"twins-{id(object())}"))
    return sync, AsyncStore(AsyncMemoryBackend(backend=sync.unwrap()))


@pytest.mark.parametrize("codec", sorted(CODECS))
@pytest.mark.parametrize("fmt", sorted(SUFFIXES))
async def test_the_async_writer_writes_the_bytes_the_sync_writer_writes(
    fmt: str, codec: str
) -> None:
    sync, store = twin_stores()
    key = f"out/data{SUFFIXES[fmt]}{CODECS[codec]}"
    records = records_for(fmt, 5000)
    with sync_open_writer(sync, f"sync/{key}", batch_bytes=4096, write_size=8192) as out:
        out.write_many(records[:2500])
        for record in records[2500:]:
            out.write(record)
    async with open_writer(store, f"async/{key}", batch_bytes=4096, write_size=8192) as aout:
        await aout.write_many(records[:2500])
        for record in records[2500:]:
            await aout.write(record)
    assert await store.read_bytes(f"async/{key}") == sync.read_bytes(f"sync/{key}")
    info = await store.get_file_info(f"async/{key}")
    assert info.metadata == sync.get_file_info(f"sync/{key}").metadata


@pytest.mark.parametrize("codec", sorted(CODECS))
@pytest.mark.parametrize("fmt", sorted(SUFFIXES))
async def test_the_async_reader_reads_what_the_sync_writer_wrote(fmt: str, codec: str) -> None:
    sync, store = twin_stores()
    key = f"in/data{SUFFIXES[fmt]}{CODECS[codec]}"
    records = records_for(fmt, 3000)
    with sync_open_writer(sync, key) as out:
        out.write_many(records)
    async with open_reader(store, key) as reader:
        got = [record async for record in reader]
    assert got == records
    with sync_open_reader(sync, key) as back:
        assert list(back) == got


async def test_a_sealed_object_cut_short_raises_through_the_async_reader() -> None:
    sync, store = twin_stores()
    async with open_writer(store, "cut.ndjson.zst") as out:
        await out.write_many({"n": i} for i in range(2000))
    data = sync.read_bytes("cut.ndjson.zst")
    for cut in (len(data) - 1, len(data) // 2):
        sync.write(
            "cut.ndjson.zst", data[:cut], overwrite=True, metadata={"omnistorage-sealed": "1"}
        )
        with pytest.raises(TruncatedDataError) as info:
            async with open_reader(store, "cut.ndjson.zst") as reader:
                async for _ in reader:
                    pass
        assert info.value.path == "cut.ndjson.zst"


async def test_an_exception_inside_open_writer_publishes_nothing() -> None:
    store = AsyncStore(AsyncMemoryBackend())
    with pytest.raises(RuntimeError):
        async with open_writer(store, "boom.ndjson.gz") as out:
            await out.write_many({"i": i} for i in range(10_000))
            raise RuntimeError("stop")
    assert not await store.exists("boom.ndjson.gz")


async def test_a_cancellation_inside_open_writer_publishes_nothing(tmp_path: object) -> None:
    from omnistorage import LocalBackend

    store = AsyncStore(SyncBackendAdapter(LocalBackend(f"{tmp_path}/root")))
    started = asyncio.Event()

    async def produce() -> None:
        async with open_writer(store, "cancelled.ndjson.zst", write_size=4096) as out:
            for i in range(10**9):
                await out.write({"i": i, "pad": "x" * 100})
                if i == 5000:
                    started.set()
                if i % 1000 == 0:
                    await asyncio.sleep(0)

    task = asyncio.create_task(produce())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [info async for info in store.list_files(recursive=True)] == []
    await store.close()


async def test_a_record_that_cannot_be_encoded_is_dropped_and_the_writer_goes_on() -> None:
    store = AsyncStore(AsyncMemoryBackend())
    async with open_writer(store, "nan.ndjson") as out:
        await out.write({"ok": 1})
        with pytest.raises(DataError):
            await out.write({"bad": math.nan})
        await out.write({"ok": 2})
        assert (out.records, out.rejected) == (2, 1)
    assert await store.read_bytes("nan.ndjson") == b'{"ok":1}\n{"ok":2}\n'


async def test_write_many_says_which_record_stopped_it() -> None:
    store = AsyncStore(AsyncMemoryBackend())
    async with open_writer(store, "many.ndjson") as out:
        with pytest.raises((DataError, ValueError)) as info:
            await out.write_many([{"i": 0}, {"i": 1}, {"i": math.inf}, {"i": 3}])
        assert "record 2 of the call" in " ".join(info.value.__notes__)
        assert out.records == 2


async def test_a_store_failure_aborts_the_object_and_closes_the_writer() -> None:
    faults = FaultInjectionLayer(MemoryBackend())
    faults.fail_nth("write", 2, temporary=False)
    store = AsyncStore(SyncBackendAdapter(faults))
    out = open_writer(store, "fail.ndjson", batch_bytes=1024, write_size=1024)
    with pytest.raises(StorageError) as info:
        async with out:
            for i in range(100_000):
                await out.write({"i": i, "pad": "y" * 200})
    assert not isinstance(info.value, StreamClosed)
    assert out.closed
    with pytest.raises(StreamClosed):
        await out.write({"late": True})
    assert not await store.exists("fail.ndjson")
    await store.close()


async def test_parallel_needs_zstd_in_async_writers() -> None:
    store = AsyncStore(AsyncMemoryBackend())
    with pytest.raises(ConfigurationError, match="zstd"):
        open_writer(store, "p.ndjson.gz", parallel=True)
    async with open_writer(store, "p.ndjson.zst", parallel=True) as out:
        await out.write_many({"i": i} for i in range(20_000))
    async with open_reader(store, "p.ndjson.zst") as reader:
        assert [r["i"] async for r in reader] == list(range(20_000))


async def test_unknown_options_are_refused_before_any_io() -> None:
    store = AsyncStore(AsyncMemoryBackend())
    with pytest.raises(ConfigurationError, match="levle"):
        open_writer(store, "x.ndjson.zst", levle=3)
    with pytest.raises(ConfigurationError, match="recover"):
        open_reader(store, "x.csv", recover=True)


async def test_reading_a_missing_object_raises_not_found_when_it_opens() -> None:
    store = AsyncStore(AsyncMemoryBackend())
    reader = open_reader(store, "missing.ndjson.zst")
    with pytest.raises(NotFound):
        async with reader:
            pass
