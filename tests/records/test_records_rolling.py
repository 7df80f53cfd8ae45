"""RollingRecordWriter: rotation, names, restarts, failures, counters, threads."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from omnistorage import AlreadyExists, InvalidPath, MemoryBackend, Store, WriteOptions, Writer
from omnistorage.errors import ConfigurationError, DataError, StreamClosed
from omnistorage.records import PublishError, PublishInfo, RollingRecordWriter, open_reader
from omnistorage.records import _rolling_objects as rolling_module
from tests.records.conftest import FailingBackend

TEMPLATE = "{prefix}/{date:%Y/%m/%d}/{stream}-{seq:020d}.ndjson.zst"
FIXED = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def fixed_clock() -> datetime:
    return FIXED


def read_objects(store: Store, prefix: str = "") -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for info in sorted(store.list_files(prefix, recursive=True), key=lambda i: i.path):
        with open_reader(store, info.path) as reader:
            out[info.path] = list(reader)
    return out


def name(seq: int, stream: str = "events", prefix: str = "logs") -> str:
    return f"{prefix}/2026/03/04/{stream}-{seq:020d}.ndjson.zst"


def test_objects_rotate_on_record_count_exactly(memory_store: Store) -> None:
    with RollingRecordWriter(
        memory_store, TEMPLATE, prefix="logs", max_records=1000, clock=fixed_clock
    ) as out:
        for i in range(1500):
            out.write({"i": i})
        out.write_many({"i": i} for i in range(1500, 3500))
    objects = read_objects(memory_store)
    assert list(objects) == [name(0), name(1), name(2), name(3)]
    assert [len(records) for records in objects.values()] == [1000, 1000, 1000, 500]
    assert [r["i"] for records in objects.values() for r in records] == list(range(3500))


def test_objects_rotate_on_encoded_bytes(memory_store: Store) -> None:
    record = {"text": "x" * 90}  # 101 bytes encoded with its newline
    published: list[PublishInfo] = []
    with RollingRecordWriter(
        memory_store, TEMPLATE, max_bytes=10_000, clock=fixed_clock, on_publish=published.append
    ) as out:
        for _ in range(250):
            out.write(record)
        out.write_many([record] * 2000)
    assert sum(info.records for info in published) == 2250
    for info in published[:-1]:
        assert info.reason == "max_bytes"
        assert 10_000 <= info.bytes_in <= 10_000 + 101  # ends with the record that crossed
    assert published[-1].reason == "close"


def test_an_idle_stream_rotates_on_age_by_the_timer(
    memory_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The timer's idle poll is stretched to a minute, so a publish well before it
    # can only come from the timer waking at the object's deadline: the bound
    # below holds on any machine, yet fails if the timer missed the deadline and
    # slept until its next poll.
    monkeypatch.setattr(rolling_module, "IDLE_WAIT", 60.0)
    published: list[tuple[float, PublishInfo]] = []
    done = threading.Event()

    def on_publish(info: PublishInfo) -> None:
        published.append((time.monotonic(), info))
        done.set()

    out = RollingRecordWriter(memory_store, TEMPLATE, max_age=0.2, on_publish=on_publish)
    try:
        start = time.monotonic()
        out.write({"i": 1})
        out.write({"i": 2})
        assert done.wait(60), "the timer never published the idle object"
        at, info = published[0]
        assert 0.2 <= at - start < 30  # never early; at the deadline, not the next poll
        assert info.reason == "max_age"
        assert info.records == 2
        assert memory_store.exists(info.path)
        time.sleep(0.6)  # idle: no record, so no empty object
        assert len(published) == 1
        assert out.stats().objects == 1
        out.write({"i": 3})
    finally:
        out.close()
    assert [p[1].records for p in published] == [2, 1]


def test_max_age_accepts_a_timedelta(memory_store: Store) -> None:
    done = threading.Event()
    with RollingRecordWriter(
        memory_store,
        TEMPLATE,
        max_age=timedelta(milliseconds=150),
        on_publish=lambda info: done.set(),
    ) as out:
        out.write({"a": 1})
        assert done.wait(5)


def test_names_are_deterministic_from_the_template(memory_store: Store) -> None:
    with RollingRecordWriter(
        memory_store,
        "{prefix}/{region}/{date:%Y-%m-%dT%H}/{stream}.{seq:04d}.jsonl.gz",
        prefix="raw",
        stream="clicks",
        fields={"region": "eu"},
        clock=fixed_clock,
        start_seq=7,
        max_records=2,
    ) as out:
        assert out.name_for(9) == "raw/eu/2026-03-04T05/clicks.0009.jsonl.gz"
        out.write_many([{"a": i} for i in range(5)])
    assert sorted(i.path for i in memory_store.list_files(recursive=True)) == [
        "raw/eu/2026-03-04T05/clicks.0007.jsonl.gz",
        "raw/eu/2026-03-04T05/clicks.0008.jsonl.gz",
        "raw/eu/2026-03-04T05/clicks.0009.jsonl.gz",
    ]


def test_an_empty_prefix_drops_the_empty_segment(memory_store: Store) -> None:
    with RollingRecordWriter(memory_store, TEMPLATE, clock=fixed_clock) as out:
        out.write({"a": 1})
    assert [i.path for i in memory_store.list_files(recursive=True)] == [
        "2026/03/04/events-00000000000000000000.ndjson.zst"
    ]


def test_a_restarted_writer_skips_published_names_and_overwrites_nothing(
    memory_store: Store,
) -> None:
    with RollingRecordWriter(
        memory_store, TEMPLATE, prefix="logs", max_records=10, clock=fixed_clock
    ) as first:
        first.write_many({"run": 1, "i": i} for i in range(375))  # seq 0..37
    before = {
        i.path: memory_store.read_bytes(i.path)
        for i in memory_store.list_files("logs", recursive=True)
    }
    with RollingRecordWriter(
        memory_store, TEMPLATE, prefix="logs", max_records=10, clock=fixed_clock
    ) as second:
        second.write_many({"run": 2, "i": i} for i in range(15))
    objects = read_objects(memory_store, "logs")
    assert len(objects) == 40
    for path, data in before.items():
        assert memory_store.read_bytes(path) == data
    assert objects[name(38)] == [{"run": 2, "i": i} for i in range(10)]
    assert objects[name(39)] == [{"run": 2, "i": i} for i in range(10, 15)]


def test_a_restart_after_retention_continues_after_the_highest_sequence(
    memory_store: Store,
) -> None:
    with RollingRecordWriter(
        memory_store, TEMPLATE, prefix="logs", max_records=1, clock=fixed_clock
    ) as first:
        first.write_many({"run": 1, "i": i} for i in range(5))  # seq 0..4
    memory_store.delete(name(0))  # retention removed the oldest objects
    memory_store.delete(name(1))
    memory_store.write(name(7, stream="other"), b"{}\n")  # another stream's numbers
    with RollingRecordWriter(
        memory_store, TEMPLATE, prefix="logs", max_records=1, clock=fixed_clock
    ) as second:
        second.write({"run": 2})
    assert memory_store.is_file(name(5))
    assert not memory_store.exists(name(0))
    names = sorted(i.path for i in memory_store.list_files("logs", recursive=True))
    assert names[-1] == name(7, stream="other")
    ours = [n for n in names if "/events-" in n]
    assert ours == [name(i) for i in (2, 3, 4, 5)]  # sorting by name is sorting by time


class _CountingBackend(MemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.calls = {"exists": 0, "list": 0}

    def exists(self, key: str) -> bool:
        self.calls["exists"] += 1
        return super().exists(key)

    def list(self, prefix: str, *, recursive: bool = True) -> Any:
        self.calls["list"] += 1
        return super().list(prefix, recursive=recursive)


def test_a_restart_over_thousands_of_objects_costs_one_listing() -> None:
    backend = _CountingBackend()
    store = Store(backend)
    for seq in range(3000):
        store.write(name(seq), b"{}\n")
    backend.calls = {"exists": 0, "list": 0}
    with RollingRecordWriter(store, TEMPLATE, prefix="logs", clock=fixed_clock) as writer:
        writer.write({"after": "restart"})
    assert backend.calls["list"] == 1
    assert backend.calls["exists"] <= 2  # the create-only check of the new name
    assert store.is_file(name(3000))


def test_a_restarted_writer_fails_loudly_with_if_exists_fail(memory_store: Store) -> None:
    with RollingRecordWriter(memory_store, TEMPLATE, clock=fixed_clock) as first:
        first.write({"run": 1})
    original = memory_store.read_bytes(first.name_for(0))
    with RollingRecordWriter(memory_store, TEMPLATE, clock=fixed_clock, if_exists="fail") as second:
        with pytest.raises(AlreadyExists):
            second.write({"run": 2})
        assert second.stats().records == 0
    assert memory_store.read_bytes(first.name_for(0)) == original


def test_stats_add_up(memory_store: Store) -> None:
    out = RollingRecordWriter(memory_store, TEMPLATE, max_records=300, clock=fixed_clock)
    out.write_many({"i": i} for i in range(1000))
    stats = out.stats()
    assert stats.records == 1000
    assert stats.objects == 3
    assert stats.published_records == 900
    assert stats.pending_records == 100
    assert stats.failed_objects == stats.failed_records == 0
    out.close()
    final = out.stats()
    assert final.objects == 4
    assert final.published_records == 1000
    assert final.pending_records == 0
    assert final.bytes_out == sum(i.size for i in memory_store.list_files(recursive=True))
    assert final.bytes_in > final.bytes_out > 0
    with pytest.raises(StreamClosed):
        out.write({"late": 1})
    out.close()  # idempotent


def test_a_failed_publish_is_raised_by_the_call_that_rotated_and_counted() -> None:
    backend = FailingBackend()
    store = Store(backend)
    failures: list[PublishInfo] = []
    out = RollingRecordWriter(
        store, TEMPLATE, max_records=100, clock=fixed_clock, on_failure=failures.append
    )
    backend.fail_publish.add(out.name_for(1))
    with pytest.raises(PublishError) as info:
        out.write_many({"i": i} for i in range(250))  # object 1 fails as it rotates
    assert len(failures) == 1
    assert failures[0].records == 100
    assert info.value.failures == (failures[0],)
    assert info.value.failures[0].path == out.name_for(1)
    assert isinstance(info.value.__cause__, Exception)
    assert any("200 record(s)" in note for note in info.value.__notes__)
    stats = out.stats()
    assert stats.failed_objects == 1
    assert stats.failed_records == 100
    assert stats.records == 200  # accepted, then 100 of them lost (reported once, here)
    out.write({"i": "after"})  # the writer goes on
    out.close()
    assert out.stats().records == out.stats().published_records + 100
    assert not store.exists(out.name_for(1))
    with open_reader(store, out.name_for(2)) as reader:
        assert list(reader) == [{"i": "after"}]


def test_a_failed_timer_publish_is_raised_by_the_next_write_which_accepts_nothing() -> None:
    backend = FailingBackend()
    store = Store(backend)
    backend.fail_all = True
    done = threading.Event()
    out = RollingRecordWriter(
        store, TEMPLATE, max_age=0.1, clock=fixed_clock, on_failure=lambda info: done.set()
    )
    out.write({"i": 1})
    assert done.wait(5)
    backend.fail_all = False
    with pytest.raises(PublishError) as info:
        out.write({"i": 2})
    assert info.value.failures[0].reason == "max_age"
    assert out.stats().records == 1
    out.write({"i": 3})
    out.close()
    assert read_objects(store) == {out.name_for(1): [{"i": 3}]}


def test_a_failed_timer_publish_is_raised_by_close() -> None:
    backend = FailingBackend()
    store = Store(backend)
    backend.fail_all = True
    done = threading.Event()
    out = RollingRecordWriter(
        store, TEMPLATE, max_age=0.1, clock=fixed_clock, on_failure=lambda info: done.set()
    )
    out.write({"i": 1})
    assert done.wait(5)
    backend.fail_all = False
    with pytest.raises(PublishError) as info:
        out.close()
    assert info.value.failures[0].reason == "max_age"
    assert out.closed


def test_a_store_failure_while_writing_loses_only_that_object() -> None:
    backend = FailingBackend()
    store = Store(backend)
    out = RollingRecordWriter(store, TEMPLATE, clock=fixed_clock, write_size=1024)
    backend.fail_write_after = 20_000
    with pytest.raises(PublishError) as info:
        for i in range(100_000):
            out.write({"i": i, "pad": "y" * 50})
    lost = info.value.failures[0].records
    assert info.value.failures[0].reason == "error"
    assert out.stats().failed_records == lost == out.stats().records
    backend.fail_write_after = None
    out.write({"i": "next"})
    out.close()
    assert read_objects(store) == {out.name_for(1): [{"i": "next"}]}


def test_a_record_that_cannot_be_encoded_is_refused_by_its_own_write(memory_store: Store) -> None:
    with RollingRecordWriter(memory_store, TEMPLATE, clock=fixed_clock) as out:
        with pytest.raises(DataError):
            out.write({"bad": {1}})  # the first record: no empty object is left behind
        assert out.stats().records == 0
        out.write({"good": 1})
        with pytest.raises(DataError):
            out.write_many([{"good": 2}, {"bad": {1}}, {"good": 3}])
    assert read_objects(memory_store) == {out.name_for(0): [{"good": 1}, {"good": 2}]}


def test_a_reused_dict_and_nan_through_the_rolling_fast_path(
    memory_store: Store, null_test: str
) -> None:
    event: dict[str, Any] = {}
    with RollingRecordWriter(memory_store, TEMPLATE, clock=fixed_clock, max_records=3) as out:
        for seq in range(7):  # one dict reused per event, across rotations
            event["seq"] = seq
            out.write(event)
        with pytest.raises(DataError, match="NaN or Infinity"):
            out.write({"x": float("nan")})
        with pytest.raises(DataError, match="NaN or Infinity"):
            out.write({"x": [1.0, float("-inf")]})
        out.write({"x": None})  # a real null is fine
        assert out.stats().records == 8
    records = [r for rs in read_objects(memory_store).values() for r in rs]
    assert records == [{"seq": seq} for seq in range(7)] + [{"x": None}]


def test_leaving_the_with_block_by_an_exception_still_publishes(memory_store: Store) -> None:
    with pytest.raises(RuntimeError):
        with RollingRecordWriter(memory_store, TEMPLATE, clock=fixed_clock) as out:
            out.write({"acknowledged": True})
            raise RuntimeError("app crashed")
    assert read_objects(memory_store) == {out.name_for(0): [{"acknowledged": True}]}


def test_rotate_publishes_now(memory_store: Store) -> None:
    with RollingRecordWriter(memory_store, TEMPLATE, clock=fixed_clock) as out:
        assert out.rotate() is None
        out.write({"a": 1})
        info = out.rotate()
        assert info is not None
        assert info.reason == "rotate"
        assert info.records == 1
        assert memory_store.exists(info.path)


def test_many_threads_write_every_record_exactly_once(memory_store: Store) -> None:
    published: list[PublishInfo] = []
    out = RollingRecordWriter(
        memory_store, TEMPLATE, max_records=700, max_age=0.05, on_publish=published.append
    )

    def produce(thread: int) -> None:
        for i in range(3000):
            if i % 500 == 0:
                out.write_many({"t": thread, "i": i + k} for k in range(10))
            elif i % 500 < 10:
                continue
            else:
                out.write({"t": thread, "i": i})

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.close()
    seen = [(r["t"], r["i"]) for records in read_objects(memory_store).values() for r in records]
    assert sorted(seen) == [(t, i) for t in range(6) for i in range(3000)]
    assert all(info.records <= 700 for info in published)
    assert [info.seq for info in published] == sorted(info.seq for info in published)
    assert out.stats().published_records == 18_000


class _HeldPublish(MemoryBackend):
    """A memory backend whose publishes wait until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.publishing = threading.Event()
        self.release = threading.Event()

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        inner = super().new_writer(key, options)
        backend = self

        class Slow(Writer):
            def write(self, data: bytes | bytearray | memoryview) -> int:
                return inner.write(data)

            def close(self) -> None:
                backend.publishing.set()
                backend.release.wait(60)
                inner.close()

            def abort(self) -> None:
                inner.abort()

        return Slow()


def test_the_timer_does_not_block_writers_while_it_publishes() -> None:
    backend = _HeldPublish()
    store = Store(backend)
    out = RollingRecordWriter(store, TEMPLATE, max_age=0.1)
    wrote = threading.Event()

    def second() -> None:
        out.write({"second": 2})  # goes into a new object while the first publishes
        wrote.set()

    writer = threading.Thread(target=second)
    try:
        out.write({"first": 1})
        assert backend.publishing.wait(60)
        writer.start()
        # The timer's publish is held until the write returns: a write that waited
        # for it would never return.
        assert wrote.wait(30), "the write waited for the timer's publish"
    finally:
        backend.release.set()
        if writer.ident is not None:  # started
            writer.join(60)
        out.close()
    assert out.stats().published_records == 2


def test_a_callback_error_is_raised_by_the_next_call(memory_store: Store) -> None:
    def broken(info: PublishInfo) -> None:
        raise ValueError("callback bug")

    out = RollingRecordWriter(memory_store, TEMPLATE, max_records=1, on_publish=broken)
    out.write({"a": 1})
    with pytest.raises(ValueError, match="callback bug"):
        out.write({"b": 2})
    out.write({"c": 3})
    with pytest.raises(ValueError, match="callback bug"):
        out.close()
    assert out.stats().objects == 2


def test_csv_objects_each_get_a_header(memory_store: Store) -> None:
    with RollingRecordWriter(
        memory_store, "rows/{seq:03d}.csv", max_records=2, clock=fixed_clock
    ) as out:
        out.write_many([{"a": i, "b": -i} for i in range(5)])
    assert memory_store.read_bytes("rows/000.csv") == b"a,b\r\n0,0\r\n1,-1\r\n"
    assert memory_store.read_bytes("rows/002.csv") == b"a,b\r\n4,-4\r\n"


def test_bad_templates_and_options_are_refused(memory_store: Store) -> None:
    with pytest.raises(ConfigurationError, match="seq"):
        RollingRecordWriter(memory_store, "logs/{stream}.ndjson")
    with pytest.raises(ConfigurationError, match="region"):
        RollingRecordWriter(memory_store, "{region}/{seq}.ndjson")
    with pytest.raises(ConfigurationError, match="reserved"):
        RollingRecordWriter(memory_store, "{seq}.ndjson", fields={"seq": 1})
    with pytest.raises(InvalidPath):
        RollingRecordWriter(memory_store, "../{seq}.ndjson")
    with pytest.raises(ConfigurationError):
        RollingRecordWriter(memory_store, "{seq}.ndjson", max_age=0)
    with pytest.raises(ConfigurationError):
        RollingRecordWriter(memory_store, "{seq}.ndjson", max_records=0)
    with pytest.raises(ConfigurationError, match="if_exists"):
        RollingRecordWriter(memory_store, "{seq}.ndjson", if_exists="overwrite")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="'levle'"):
        RollingRecordWriter(memory_store, "{seq}.ndjson.zst", levle=3)
    with pytest.raises(ConfigurationError, match="cannot infer"):
        RollingRecordWriter(memory_store, "{seq}.log")
