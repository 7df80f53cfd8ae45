"""RollingRecordWriter's batched write path: lines gathered without the lock, then moved
into objects in order, with exact rotation, every line published or reported once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnistorage import MemoryBackend, Store
from omnistorage.errors import StreamClosed
from omnistorage.records import PublishError, PublishInfo, RollingRecordWriter, open_reader
from omnistorage.records._rolling import PENDING_LINES
from tests.records.conftest import FailingBackend

TEMPLATE = "{stream}-{seq:06d}.ndjson.zst"
FIXED = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def fixed_clock() -> datetime:
    return FIXED


def read_objects(store: Store) -> list[list[Any]]:
    objects = []
    for info in sorted(store.list_files("", recursive=True), key=lambda i: i.path):
        with open_reader(store, info.path) as reader:
            objects.append(list(reader))
    return objects


def line_size(record: Any) -> int:
    import orjson

    return len(orjson.dumps(record)) + 1


def test_gathered_lines_are_counted_as_accepted_and_pending(memory_store: Store) -> None:
    out = RollingRecordWriter(memory_store, TEMPLATE, clock=fixed_clock)
    for i in range(PENDING_LINES // 2):
        out.write({"i": i})
    stats = out.stats()
    assert stats.records == stats.pending_records == PENDING_LINES // 2
    out.close()
    final = out.stats()
    assert final.records == final.published_records == PENDING_LINES // 2
    assert read_objects(memory_store) == [[{"i": i} for i in range(PENDING_LINES // 2)]]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=400),
    max_bytes=st.integers(min_value=50, max_value=3000),
    max_records=st.one_of(st.none(), st.integers(min_value=1, max_value=150)),
)
def test_rotation_through_gathered_lines_is_exact(
    sizes: list[int], max_bytes: int, max_records: int | None
) -> None:
    store = Store(MemoryBackend())
    records = [{"i": i, "pad": "x" * size} for i, size in enumerate(sizes)]
    published: list[PublishInfo] = []
    with RollingRecordWriter(
        store,
        TEMPLATE,
        max_bytes=max_bytes,
        max_records=max_records,
        clock=fixed_clock,
        on_publish=published.append,
    ) as out:
        for record in records:
            out.write(record)
    objects = read_objects(store)
    assert [r for obj in objects for r in obj] == records  # all of them, once, in order
    for index, (info, obj) in enumerate(zip(published, objects, strict=True)):
        size = sum(map(line_size, obj))
        assert info.bytes_in == size
        if info.reason == "max_bytes":  # ends with the record that reached the limit
            assert size - line_size(obj[-1]) < max_bytes <= size
        elif info.reason == "max_records":
            assert len(obj) == max_records
            assert size - line_size(obj[-1]) < max_bytes
        else:  # only the last object is published by close, below both limits
            assert (index, info.reason) == (len(published) - 1, "close")
            assert size < max_bytes
            assert max_records is None or len(obj) < max_records


def test_writes_racing_close_are_published_or_refused_never_lost() -> None:
    for _ in range(5):
        _race_writes_with_close()


def _race_writes_with_close() -> None:
    store = Store(MemoryBackend())
    out = RollingRecordWriter(store, TEMPLATE, max_records=500, clock=fixed_clock)
    accepted: list[list[int]] = [[] for _ in range(4)]
    refused = [0] * 4
    start = threading.Barrier(5)

    def produce(worker: int) -> None:
        start.wait()
        for i in range(20_000):
            try:
                out.write({"w": worker, "i": i})
            except StreamClosed:
                refused[worker] += 1
                return
            accepted[worker].append(i)

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    start.wait()
    while sum(map(len, accepted)) < 5_000:
        threading.Event().wait(0.001)
    out.close()
    for thread in threads:
        thread.join()
    written = [r for obj in read_objects(store) for r in obj]
    for worker in range(4):
        mine = [r["i"] for r in written if r["w"] == worker]
        assert mine == accepted[worker]  # exactly the accepted ones, in order
    assert out.stats().records == len(written) == out.stats().published_records


def test_an_object_that_cannot_be_opened_for_gathered_lines_is_reported() -> None:
    backend = FailingBackend()
    store = Store(backend)
    failures: list[PublishInfo] = []
    out = RollingRecordWriter(
        store, TEMPLATE, max_records=10, clock=fixed_clock, on_failure=failures.append
    )
    backend.fail_open.add(out.name_for(1))
    with pytest.raises(PublishError) as info:
        for i in range(PENDING_LINES + 1):  # the first opens object 0; then 64 are gathered
            out.write({"i": i})
    # Object 0 took 10 records; object 1 could not be opened for the other 55.
    assert info.value.failures == tuple(failures)
    assert failures[0].path == out.name_for(1)
    assert failures[0].records == PENDING_LINES + 1 - 10
    assert failures[0].reason == "error"
    assert isinstance(info.value.__cause__, Exception)
    stats = out.stats()
    assert stats.failed_objects == 1
    assert stats.failed_records == PENDING_LINES + 1 - 10
    assert stats.published_records == 10
    backend.fail_open.clear()
    out.write({"i": "after"})  # the writer goes on
    out.close()
    assert read_objects(store) == [[{"i": i} for i in range(10)], [{"i": "after"}]]
    assert out.stats().records == 10 + PENDING_LINES + 1 - 10 + 1


def test_a_store_failure_while_gathered_lines_are_written_is_raised_by_that_write() -> None:
    backend = FailingBackend()
    store = Store(backend)
    out = RollingRecordWriter(store, TEMPLATE, clock=fixed_clock, write_size=1024)
    backend.fail_write_after = 4_000
    done = 0
    with pytest.raises(PublishError) as info:
        for i in range(100_000):
            out.write({"i": i, "pad": "y" * 200})
            done += 1
    assert info.value.failures[0].reason == "error"
    assert info.value.failures[0].records == out.stats().failed_records == done + 1
    backend.fail_write_after = None
    out.write({"i": "next"})
    out.close()
    assert read_objects(store) == [[{"i": "next"}]]


def test_write_many_and_rotate_take_the_gathered_lines_first(memory_store: Store) -> None:
    with RollingRecordWriter(memory_store, TEMPLATE, clock=fixed_clock) as out:
        for i in range(5):
            out.write({"i": i})
        out.write_many([{"i": i} for i in range(5, 10)])
        for i in range(10, 15):
            out.write({"i": i})
        info = out.rotate()
        assert info is not None
        assert info.records == 15
        out.write({"i": 15})
    assert read_objects(memory_store) == [[{"i": i} for i in range(15)], [{"i": 15}]]


def test_lines_too_long_for_gathering_keep_their_place(memory_store: Store) -> None:
    records: list[Any] = []
    for i in range(200):
        records.append({"i": i, "pad": "z" * (40_000 if i % 37 == 0 else 10)})
    with RollingRecordWriter(memory_store, TEMPLATE, clock=fixed_clock) as out:
        for record in records:
            out.write(record)
    assert read_objects(memory_store) == [records]


def test_a_busy_stream_rotating_on_age_publishes_every_line_once(memory_store: Store) -> None:
    published: list[PublishInfo] = []
    out = RollingRecordWriter(
        memory_store, TEMPLATE, max_age=0.05, clock=fixed_clock, on_publish=published.append
    )
    stop = threading.Event()
    accepted: list[list[int]] = [[] for _ in range(3)]

    def produce(worker: int) -> None:
        i = 0
        while not stop.is_set():
            out.write({"w": worker, "i": i})
            accepted[worker].append(i)
            i += 1

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(3)]
    for thread in threads:
        thread.start()
    threading.Event().wait(0.6)
    stop.set()
    for thread in threads:
        thread.join()
    out.close()
    written = [r for obj in read_objects(memory_store) for r in obj]
    for worker in range(3):
        assert [r["i"] for r in written if r["w"] == worker] == accepted[worker]
    assert sum(info.records for info in published) == len(written)
    assert sum(info.reason == "max_age" for info in published) >= 3
