"""AsyncRollingRecordWriter: rotation, names, restarts, failures and the age timer on
the event loop, with concurrent tasks and cancellation."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from omnistorage import MemoryBackend, Store
from omnistorage.aio import AsyncMemoryBackend, AsyncStore, SyncBackendAdapter
from omnistorage.aio.records import AsyncRollingRecordWriter, PublishError, open_reader
from omnistorage.errors import AlreadyExists, ConfigurationError, DataError
from omnistorage.records import PublishInfo, RollingRecordWriter
from tests.records.conftest import FailingBackend

pytestmark = pytest.mark.asyncio

TEMPLATE = "{prefix}/{date:%Y/%m/%d}/{stream}-{seq:06d}.ndjson.zst"
WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def fixed_clock() -> datetime:
    return WHEN


async def read_objects(store: AsyncStore) -> dict[str, list[Any]]:
    objects: dict[str, list[Any]] = {}
    for path in sorted([info.path async for info in store.list_files(recursive=True)]):
        async with open_reader(store, path) as reader:
            objects[path] = [record async for record in reader]
    return objects


async def test_objects_rotate_on_record_count_exactly() -> None:
    store = AsyncStore(AsyncMemoryBackend())
    async with AsyncRollingRecordWriter(
        store, TEMPLATE, prefix="logs", max_records=1000, clock=fixed_clock
    ) as out:
        for i in range(1500):
            await out.write({"i": i})
        await out.write_many({"i": i} for i in range(1500, 3500))
    objects = await read_objects(store)
    assert list(objects) == [out.name_for(n, WHEN) for n in range(4)]
    assert [len(records) for records in objects.values()] == [1000, 1000, 1000, 500]
    assert [r["i"] for records in objects.values() for r in records] == list(range(3500))


async def test_objects_rotate_on_encoded_bytes() -> None:
    store = AsyncStore(AsyncMemoryBackend())
    record = {"text": "x" * 90}  # 101 bytes encoded with its newline
    published: list[PublishInfo] = []
    async with AsyncRollingRecordWriter(
        store, TEMPLATE, max_bytes=10_000, clock=fixed_clock, on_publish=published.append
    ) as out:
        for _ in range(250):
            await out.write(record)
        await out.write_many([record] * 2000)
    assert sum(info.records for info in published) == 2250
    for info in published[:-1]:
        assert info.reason == "max_bytes"
        assert 10_000 <= info.bytes_in <= 10_000 + 101
    assert published[-1].reason == "close"


async def test_the_async_and_sync_writers_name_and_fill_objects_alike() -> None:
    sync = Store(MemoryBackend(name=f"rolling-twins-{time.monotonic_ns()}"))
    store = AsyncStore(AsyncMemoryBackend(backend=sync.unwrap()))
    records = [{"i": i, "tag": "t" * (i % 50)} for i in range(5000)]
    with RollingRecordWriter(
        sync, TEMPLATE, prefix="sync", max_bytes=20_000, clock=fixed_clock
    ) as out:
        out.write_many(records)
    async with AsyncRollingRecordWriter(
        store, TEMPLATE, prefix="async", max_bytes=20_000, clock=fixed_clock
    ) as aout:
        await aout.write_many(records)
    sync_names = sorted(info.path for info in sync.list_files("sync", recursive=True))
    async_names = sorted([info.path async for info in store.list_files("async", recursive=True)])
    assert [n.replace("sync/", "", 1) for n in sync_names] == [
        n.replace("async/", "", 1) for n in async_names
    ]
    for a, b in zip(sync_names, async_names, strict=True):
        assert sync.read_bytes(a) == sync.read_bytes(b)


async def test_an_idle_stream_is_published_by_the_timer_on_the_loop() -> None:
    store = AsyncStore(AsyncMemoryBackend())
    published: list[tuple[float, PublishInfo]] = []
    done = asyncio.Event()

    def on_publish(info: PublishInfo) -> None:
        published.append((time.monotonic(), info))
        done.set()

    threads = threading.active_count()
    out = AsyncRollingRecordWriter(store, TEMPLATE, max_age=0.2, on_publish=on_publish)
    try:
        start = time.monotonic()
        await out.write({"i": 1})
        await out.write({"i": 2})
        assert threading.active_count() == threads, "the timer must not be a thread"
        # Published by the timer alone (no write or close comes until it is), and
        # never before its age; how soon after depends on the machine's load.
        await asyncio.wait_for(done.wait(), 30)
        at, info = published[0]
        assert at - start >= 0.2
        assert (info.reason, info.records) == ("max_age", 2)
        assert await store.is_file(info.path)
        await asyncio.sleep(0.5)  # idle: no record, so no empty object
        assert len(published) == 1
        await out.write({"i": 3})
    finally:
        await out.close()
    assert [p[1].records for p in published] == [2, 1]


async def test_many_tasks_write_every_record_exactly_once() -> None:
    store = AsyncStore(AsyncMemoryBackend())
    async with AsyncRollingRecordWriter(
        store, TEMPLATE, max_records=777, clock=fixed_clock, write_size=4096
    ) as out:

        async def produce(task: int) -> None:
            for i in range(500):
                await out.write({"task": task, "i": i})
                if i % 50 == 0:
                    await asyncio.sleep(0)

        await asyncio.gather(*(produce(task) for task in range(12)))
    stats = out.stats()
    assert stats.records == stats.published_records == 6000
    objects = await read_objects(store)
    seen = sorted((r["task"], r["i"]) for records in objects.values() for r in records)
    assert seen == [(task, i) for task in range(12) for i in range(500)]
    assert all(len(records) == 777 for records in list(objects.values())[:-1])


async def test_cancelling_the_producer_still_publishes_every_acknowledged_record(
    tmp_path: object,
) -> None:
    from omnistorage import LocalBackend

    store = AsyncStore(SyncBackendAdapter(LocalBackend(f"{tmp_path}/root")))
    acknowledged = 0

    async def service() -> None:
        nonlocal acknowledged
        async with AsyncRollingRecordWriter(
            store, TEMPLATE, max_records=3000, clock=fixed_clock, write_size=2048
        ) as out:
            for i in range(10**9):
                await out.write({"i": i, "pad": "z" * 64})
                acknowledged = i + 1
                if i % 100 == 0:
                    await asyncio.sleep(0)

    task = asyncio.create_task(service())
    while acknowledged < 7000:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    objects = await read_objects(store)
    got = [r["i"] for records in objects.values() for r in records]
    assert got[:acknowledged] == list(range(acknowledged))
    assert len(got) in (acknowledged, acknowledged + 1)  # the cancelled write may be in
    await store.close()


async def test_a_restarted_writer_continues_after_the_highest_sequence() -> None:
    store = AsyncStore(AsyncMemoryBackend())
    async with AsyncRollingRecordWriter(store, TEMPLATE, max_records=1, clock=fixed_clock) as out:
        await out.write_many([{"n": 0}, {"n": 1}, {"n": 2}])
    await store.delete(out.name_for(0, WHEN))  # retention removed the oldest
    async with AsyncRollingRecordWriter(store, TEMPLATE, clock=fixed_clock) as again:
        await again.write({"n": 3})
    assert list(await read_objects(store)) == [out.name_for(n, WHEN) for n in (1, 2, 3)]


async def test_if_exists_fail_refuses_an_existing_name() -> None:
    store = AsyncStore(AsyncMemoryBackend())
    async with AsyncRollingRecordWriter(store, TEMPLATE, clock=fixed_clock) as out:
        await out.write({"n": 0})
    async with AsyncRollingRecordWriter(
        store, TEMPLATE, clock=fixed_clock, if_exists="fail"
    ) as replay:
        with pytest.raises(AlreadyExists):
            await replay.write({"n": 0})
        assert replay.stats().records == 0


async def test_names_taken_meanwhile_are_skipped_by_the_shared_search() -> None:
    store = AsyncStore(AsyncMemoryBackend())
    out = AsyncRollingRecordWriter(store, TEMPLATE, clock=fixed_clock, max_records=1)
    await out.write({"n": 0})  # object 0 (the listing found nothing), published at once
    for seq in range(1, 9):  # another writer takes 1 … 8 meanwhile
        await store.write(out.name_for(seq, WHEN), b"")
    await out.write({"n": 1})
    await out.close()
    assert (await read_objects(store))[out.name_for(9, WHEN)] == [{"n": 1}]


async def test_a_failed_publish_is_raised_by_the_call_that_rotated_and_counted() -> None:
    backend = FailingBackend()
    store = AsyncStore(SyncBackendAdapter(backend))
    failures: list[PublishInfo] = []
    out = AsyncRollingRecordWriter(
        store, TEMPLATE, max_records=100, clock=fixed_clock, on_failure=failures.append
    )
    backend.fail_publish.add(out.name_for(1))
    with pytest.raises(PublishError) as info:
        await out.write_many({"i": i} for i in range(250))
    assert [f.records for f in failures] == [100]
    assert info.value.failures == (failures[0],)
    assert any("200 record(s)" in note for note in info.value.__notes__)
    await out.write({"i": "after"})  # the writer goes on
    await out.close()
    stats = out.stats()
    assert (stats.failed_records, stats.records) == (100, stats.published_records + 100)
    assert not await store.exists(out.name_for(1))
    await store.close()


async def test_a_failed_timer_publish_is_raised_by_the_next_write() -> None:
    backend = FailingBackend()
    store = AsyncStore(SyncBackendAdapter(backend))
    backend.fail_all = True
    failed = asyncio.Event()
    out = AsyncRollingRecordWriter(
        store, TEMPLATE, max_age=0.1, clock=fixed_clock, on_failure=lambda info: failed.set()
    )
    await out.write({"i": 1})
    await asyncio.wait_for(failed.wait(), 5)
    backend.fail_all = False
    with pytest.raises(PublishError) as info:
        await out.write({"i": 2})
    assert info.value.failures[0].reason == "max_age"
    await out.write({"i": 3})
    await out.close()
    assert await read_objects(store) == {out.name_for(1): [{"i": 3}]}
    await store.close()


async def test_a_store_failure_while_writing_loses_only_that_object() -> None:
    backend = FailingBackend()
    store = AsyncStore(SyncBackendAdapter(backend))
    out = AsyncRollingRecordWriter(store, TEMPLATE, clock=fixed_clock, write_size=1024)
    backend.fail_write_after = 20_000
    with pytest.raises(PublishError) as info:
        for i in range(100_000):  # incompressible: past the adapter's 256 KiB buffer soon
            await out.write({"i": i, "pad": secrets.token_hex(32)})
    assert info.value.failures[0].reason == "error"
    assert out.stats().failed_records == info.value.failures[0].records == out.stats().records
    backend.fail_write_after = None
    await out.write({"i": "next"})
    await out.close()
    assert await read_objects(store) == {out.name_for(1): [{"i": "next"}]}
    await store.close()


async def test_a_record_that_cannot_be_encoded_is_refused_by_its_own_write() -> None:
    store = AsyncStore(AsyncMemoryBackend())
    async with AsyncRollingRecordWriter(store, TEMPLATE, clock=fixed_clock) as out:
        with pytest.raises(DataError):
            await out.write({"bad": {1}})  # the first record: no empty object is left
        await out.write({"good": 1})
    assert await read_objects(store) == {out.name_for(0): [{"good": 1}]}


async def test_bad_options_are_refused_at_construction() -> None:
    store = AsyncStore(AsyncMemoryBackend())
    with pytest.raises(ConfigurationError, match="seq"):
        AsyncRollingRecordWriter(store, "fixed.ndjson")
    with pytest.raises(ConfigurationError, match="zstd"):
        AsyncRollingRecordWriter(store, "{seq}.ndjson.gz", parallel=True)
    with pytest.raises(ConfigurationError, match="max_age"):
        AsyncRollingRecordWriter(store, TEMPLATE, max_age=0)
