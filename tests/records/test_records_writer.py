"""RecordWriter behaviour: publishing, aborting, counters, errors, batching, parallel mode."""

from __future__ import annotations

import gc
import io
import warnings
from typing import Any

import pytest

from omnistorage import MemoryBackend, Store
from omnistorage.compression import get_codec
from omnistorage.errors import (
    AlreadyExists,
    DataError,
    RecordTooLargeError,
    StorageError,
    StreamClosed,
)
from omnistorage.formats import NDJSON, get_format
from omnistorage.records import RecordWriter, open_reader, open_writer
from tests.records.conftest import FailingBackend

EVENTS = [{"n": i, "msg": f"event {i}", "level": "info"} for i in range(20_000)]


def read_all(store: Store, key: str, **options: Any) -> list[Any]:
    with open_reader(store, key, **options) as reader:
        return list(reader)


def test_a_clean_with_exit_publishes(store: Store) -> None:
    with open_writer(store, "logs/a.ndjson.zst") as writer:
        writer.write_many(EVENTS)
        assert not store.exists("logs/a.ndjson.zst")  # atomic: not visible before close
    assert read_all(store, "logs/a.ndjson.zst") == EVENTS


def test_an_exception_inside_the_with_block_publishes_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with open_writer(store, "logs/a.ndjson.zst") as writer:
            writer.write_many(EVENTS)
            writer.flush()
            raise RuntimeError("boom")
    assert writer.closed
    assert not store.exists("logs/a.ndjson.zst")
    assert list(store.list_files(recursive=True)) == []


def test_abort_publishes_nothing_and_is_idempotent(memory_store: Store) -> None:
    writer = open_writer(memory_store, "a.ndjson.gz", parallel=True)
    writer.write_many(EVENTS)
    writer.abort()
    writer.abort()
    assert not memory_store.exists("a.ndjson.gz")
    with pytest.raises(StreamClosed):
        writer.write({"late": True})
    with pytest.raises(StreamClosed):
        writer.close()


def test_close_returns_the_write_result_and_is_idempotent(memory_store: Store) -> None:
    writer = open_writer(memory_store, "a.ndjson.zst")
    writer.write({"a": 1})
    result = writer.close()
    assert result.path == "a.ndjson.zst"
    assert result.size == writer.bytes_out == len(memory_store.read_bytes("a.ndjson.zst"))
    assert writer.close() is result
    with pytest.raises(StreamClosed):
        writer.write({"b": 2})
    with pytest.raises(StreamClosed):
        writer.write_many([{"b": 2}])
    with pytest.raises(StreamClosed):
        writer.flush()


def test_create_only_by_default_and_overwrite_replaces(memory_store: Store) -> None:
    memory_store.write("a.ndjson", b'{"old":1}\n')
    writer = open_writer(memory_store, "a.ndjson")
    writer.write({"new": 1})
    with pytest.raises(AlreadyExists):
        writer.close()
    assert writer.closed
    assert read_all(memory_store, "a.ndjson") == [{"old": 1}]
    with open_writer(memory_store, "a.ndjson", overwrite=True) as replacing:
        replacing.write({"new": 1})
    assert read_all(memory_store, "a.ndjson") == [{"new": 1}]


def test_counters_track_records_and_bytes(memory_store: Store) -> None:
    with open_writer(memory_store, "c.ndjson.zst") as writer:
        for event in EVENTS[:10]:
            writer.write(event)
        assert writer.records == 10
        writer.write_many(EVENTS[10:])
        writer.flush()
        assert writer.bytes_out > 0
    encoded = b"".join(get_format("ndjson").encoder().encode(e) for e in EVENTS)
    assert writer.records == len(EVENTS)
    assert writer.bytes_in == len(encoded)
    assert writer.bytes_out == len(memory_store.read_bytes("c.ndjson.zst"))
    assert writer.bytes_out < writer.bytes_in / 4
    assert writer.rejected == 0


def test_a_bad_record_given_to_write_raises_at_once_and_is_dropped(memory_store: Store) -> None:
    writer = open_writer(memory_store, "r.ndjson", batch_records=3)
    writer.write({"i": 0})
    with pytest.raises(DataError) as info:
        writer.write({"bad": {1, 2}})  # a set is not JSON
    assert any("record 1 " in note for note in getattr(info.value, "__notes__", []))
    assert writer.rejected == 1
    assert writer.records == 1
    writer.write({"i": 2})
    writer.close()
    assert read_all(memory_store, "r.ndjson") == [{"i": 0}, {"i": 2}]


def test_a_record_is_what_it_was_when_write_returned(memory_store: Store) -> None:
    writer = open_writer(memory_store, "reused.ndjson")
    event: dict[str, object] = {"seq": 0, "tags": []}
    for seq in range(5):  # one dict reused per event, a common logging pattern
        event["seq"] = seq
        event["tags"] = [seq]  # type: ignore[assignment]
        writer.write(event)
    event["seq"] = 99
    writer.close()
    assert read_all(memory_store, "reused.ndjson") == [{"seq": i, "tags": [i]} for i in range(5)]


@pytest.mark.parametrize(
    "bad",
    [float("nan"), float("inf"), float("-inf")],
    ids=["nan", "inf", "-inf"],
)
@pytest.mark.parametrize("shape", ["top", "nested", "list"])
def test_nan_and_infinity_are_refused_with_the_position(
    memory_store: Store, bad: float, shape: str, null_test: str
) -> None:
    record = {"top": {"x": bad}, "nested": {"a": {"b": [1, bad]}}, "list": [{"v": bad}]}[shape]
    writer = open_writer(memory_store, "nan.ndjson")
    writer.write({"ok": None})  # a real null is fine
    with pytest.raises(DataError, match="NaN or Infinity") as info:
        writer.write(record)
    assert any("record 1 " in note for note in getattr(info.value, "__notes__", []))
    with pytest.raises(DataError, match="NaN or Infinity") as many:
        writer.write_many([{"ok": 1}, {"ok": 2}, record, {"ok": 3}])
    assert any("record 2 of the call" in note for note in getattr(many.value, "__notes__", []))
    writer.close()
    assert read_all(memory_store, "nan.ndjson") == [{"ok": None}, {"ok": 1}, {"ok": 2}]


def test_nan_as_null_is_an_opt_in(memory_store: Store) -> None:
    writer = open_writer(memory_store, "nan.ndjson", format=NDJSON(nan_as_null=True))
    writer.write({"x": float("nan"), "y": [float("inf")]})
    writer.close()
    assert read_all(memory_store, "nan.ndjson") == [{"x": None, "y": [None]}]


def test_a_bad_record_inside_a_with_block_publishes_nothing(memory_store: Store) -> None:
    with pytest.raises(DataError), open_writer(memory_store, "r.ndjson") as writer:
        writer.write({"i": 0})
        writer.write({"bad": {1}})  # raises here, inside the block: the writer aborts
    assert writer.closed
    assert not memory_store.exists("r.ndjson")


def test_write_many_stops_at_the_first_bad_record(memory_store: Store) -> None:
    writer = open_writer(memory_store, "m.ndjson")
    records: list[Any] = [{"i": i} for i in range(10)]
    records[6] = {"bad": {1}}
    with pytest.raises(DataError) as info:
        writer.write_many(iter(records))
    assert any("record 6 " in note for note in getattr(info.value, "__notes__", []))
    assert writer.records == 6
    writer.write_many([{"i": "after"}])
    writer.close()
    assert read_all(memory_store, "m.ndjson") == [*records[:6], {"i": "after"}]


def test_max_record_size_is_enforced_when_writing_and_reading(memory_store: Store) -> None:
    with open_writer(memory_store, "s.ndjson.zst", max_record_size=64) as writer:
        writer.write_many([{"small": "x"}])
        with pytest.raises(RecordTooLargeError):
            writer.write_many([{"big": "y" * 100}])
    with open_writer(memory_store, "big.ndjson.zst") as writer:
        writer.write({"big": "y" * 100})
    with pytest.raises(RecordTooLargeError) as info:
        read_all(memory_store, "big.ndjson.zst", max_record_size=64)
    assert info.value.path == "big.ndjson.zst"
    with open_writer(memory_store, "b.lp", max_record_size=10) as writer:
        with pytest.raises(RecordTooLargeError):
            writer.write_many([b"0123456789A"])
        writer.write(b"0123456789")
    assert read_all(memory_store, "b.lp") == [b"0123456789"]


@pytest.mark.parametrize("batch_bytes", [64, 1 << 16])
def test_write_refuses_a_line_over_max_record_size_at_its_own_write(
    memory_store: Store, batch_bytes: int
) -> None:
    # {"a":"…"} is 8 bytes plus the string: 56 bytes fit max_record_size=56, 57 do not.
    fits, too_big = {"a": "x" * 48}, {"a": "x" * 49}
    with open_writer(
        memory_store, "s.ndjson.zst", max_record_size=56, batch_bytes=batch_bytes
    ) as writer:
        writer.write(fits)
        with pytest.raises(RecordTooLargeError) as info:
            writer.write(too_big)
        assert any("record 1 " in note for note in getattr(info.value, "__notes__", []))
        writer.write(fits)
        assert writer.records == 2
        assert writer.rejected == 1
    assert read_all(memory_store, "s.ndjson.zst") == [fits, fits]


def test_nan_in_a_batch_full_of_nulls_is_found_at_its_position(
    memory_store: Store, null_test: str
) -> None:
    records: list[Any] = [{"i": i, "maybe": None} for i in range(1000)]
    records[700] = {"i": 700, "maybe": None, "x": float("inf")}
    writer = open_writer(memory_store, "n.ndjson.zst")
    with pytest.raises(DataError, match="NaN or Infinity at \\['x'\\]") as info:
        writer.write_many(records)
    assert any("record 700 of the call" in note for note in getattr(info.value, "__notes__", []))
    assert writer.records == 700
    writer.close()
    assert read_all(memory_store, "n.ndjson.zst") == records[:700]
    # The opt-in writes them as null, through write and write_many alike.
    with open_writer(memory_store, "z.ndjson.zst", format=NDJSON(nan_as_null=True)) as writer:
        writer.write_many(records)
        writer.write({"x": float("-inf")})
    got = read_all(memory_store, "z.ndjson.zst")
    assert got[700] == {"i": 700, "maybe": None, "x": None}
    assert got[-1] == {"x": None}
    assert len(got) == 1001


def test_csv_takes_dict_rows_and_reads_them_back_as_dicts(memory_store: Store) -> None:
    rows = [{"name": "a,b", "note": 'he said "hi"\nbye', "n": 1}, {"name": "", "note": "", "n": 2}]
    with open_writer(memory_store, "t.csv.gz") as writer:
        writer.write_many(rows)
    assert read_all(memory_store, "t.csv.gz") == [
        {"name": "a,b", "note": 'he said "hi"\nbye', "n": "1"},
        {"name": "", "note": "", "n": "2"},
    ]


def test_csv_takes_sequence_rows_and_raw_rows_with_fieldnames(memory_store: Store) -> None:
    with open_writer(memory_store, "t.csv", fieldnames=["a", "b"]) as writer:
        writer.write(b"raw,row")
        writer.write(["x", "y"])
        writer.write({"a": "1", "b": "2"})
    assert memory_store.read_bytes("t.csv") == b"a,b\r\nraw,row\r\nx,y\r\n1,2\r\n"
    assert read_all(memory_store, "t.csv", decode=False) == [b"raw,row", b"x,y", b"1,2"]


def test_a_raw_csv_row_without_known_fieldnames_is_refused(memory_store: Store) -> None:
    writer = open_writer(memory_store, "t.csv")
    with pytest.raises(DataError, match="fieldnames"):
        writer.write_many([b"raw,row"])
    writer.write_many([{"a": "1"}])
    writer.close()
    assert read_all(memory_store, "t.csv") == [{"a": "1"}]


def test_a_header_only_csv_object_is_written_when_fieldnames_are_known(
    memory_store: Store,
) -> None:
    with open_writer(memory_store, "h.csv", fieldnames=["a", "b"]):
        pass
    assert memory_store.read_bytes("h.csv") == b"a,b\r\n"


def test_raw_ndjson_lines_are_written_as_they_are(memory_store: Store) -> None:
    with open_writer(memory_store, "r.ndjson") as writer:
        writer.write(b'{"pre":"encoded"}')
        writer.write_many([bytearray(b"[1,2]"), memoryview(b"3")])
    assert memory_store.read_bytes("r.ndjson") == b'{"pre":"encoded"}\n[1,2]\n3\n'


def test_parallel_mode_writes_the_same_bytes_as_serial_mode(memory_store: Store) -> None:
    for codec in ("gzip", "snappy", "none"):
        for parallel in (False, True):
            key = f"{codec}-{parallel}.ndjson"
            with open_writer(
                memory_store, key, compression=codec, parallel=parallel, queue_depth=2
            ) as writer:
                for event in EVENTS[:5000]:
                    writer.write(event)
                writer.flush()
                writer.write_many(EVENTS[5000:])
        serial = memory_store.read_bytes(f"{codec}-False.ndjson")
        assert memory_store.read_bytes(f"{codec}-True.ndjson") == serial


@pytest.mark.parametrize(
    "options", [{"parallel": True}, {"threads": 2}, {"threads": 2, "parallel": True}]
)
def test_multi_threaded_zstd_decodes_the_same(memory_store: Store, options: dict[str, Any]) -> None:
    events = EVENTS * 4  # several 1 MiB jobs
    with open_writer(memory_store, "mt.ndjson.zst", **options) as writer:
        writer.write_many(events[:30_000])
        writer.flush()
        writer.write_many(events[30_000:])
    assert read_all(memory_store, "mt.ndjson.zst") == events
    plain = get_codec("zstd").decompressor()
    assert plain.decompress(memory_store.read_bytes("mt.ndjson.zst")) == b"".join(
        get_format("ndjson").encoder().encode(e) for e in events
    )


@pytest.mark.parametrize("parallel", [False, True])
def test_a_store_failure_aborts_the_object_and_kills_the_writer(parallel: bool) -> None:
    backend = FailingBackend()
    backend.fail_write_after = 10_000
    store = Store(backend)
    writer = open_writer(store, "f.ndjson", parallel=parallel, write_size=4096)
    with pytest.raises(StorageError):
        for _ in range(50):
            writer.write_many(EVENTS[:1000])
            writer.flush()
    assert writer.closed
    assert backend.aborted == ["f.ndjson"]
    with pytest.raises(StreamClosed):
        writer.write({"a": 1})
    with pytest.raises(StreamClosed):
        writer.close()
    writer.abort()
    assert not store.exists("f.ndjson")


@pytest.mark.parametrize("parallel", [False, True])
def test_a_failed_publish_leaves_nothing(parallel: bool) -> None:
    backend = FailingBackend()
    backend.fail_publish.add("p.ndjson.zst")
    store = Store(backend)
    writer = open_writer(store, "p.ndjson.zst", parallel=parallel)
    writer.write_many(EVENTS)
    with pytest.raises(StorageError, match="injected publish failure"):
        writer.close()
    assert writer.closed
    assert not store.exists("p.ndjson.zst")


def test_an_unclosed_writer_is_aborted_by_garbage_collection(memory_store: Store) -> None:
    writer = open_writer(memory_store, "gc.ndjson", parallel=True)
    writer.write_many(EVENTS[:10])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del writer
        gc.collect()
    assert any("never published" in str(w.message) for w in caught)
    assert not memory_store.exists("gc.ndjson")


class _Capture:
    """A target that keeps the bytes and never publishes (a process that dies)."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def write(self, data: bytes) -> int:
        return self.buffer.write(data)

    def close(self) -> None:
        raise AssertionError("never closed in this test")

    def abort(self) -> None:
        pass


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("codec", ["gzip", "zstd", "snappy", "none"])
@pytest.mark.parametrize("fmt", ["ndjson", "tfrecord"])
def test_what_was_flushed_decodes_completely_after_a_crash(
    codec: str, fmt: str, parallel: bool
) -> None:
    target = _Capture()
    records: list[Any] = (
        EVENTS[:3000] if fmt == "ndjson" else [f"blob {i}".encode() for i in range(3000)]
    )
    writer = RecordWriter(target, format=get_format(fmt), codec=get_codec(codec), parallel=parallel)
    writer.write_many(records[:1000])
    writer.flush()
    flushed_once = target.buffer.getvalue()
    for record in records[1000:2500]:
        writer.write(record)
    writer.flush()
    flushed = target.buffer.getvalue()
    writer.write_many(records[2500:])  # not flushed: lost in the "crash"
    for data, count in ((flushed_once, 1000), (flushed, 2500)):
        decompressor = get_codec(codec).decompressor()
        decoder = get_format(fmt).decoder()
        plain = decompressor.decompress(data) + decompressor.finish()  # complete: no error
        assert decoder.feed(plain) + decoder.finish() == records[:count]
    writer.abort()


def test_write_many_accepts_any_iterable(memory_store: Store) -> None:
    with open_writer(memory_store, "g.ndjson.sz", batch_records=7) as writer:
        writer.write_many(event for event in EVENTS[:100])
        writer.write_many(tuple(EVENTS[100:200]))
        writer.write_many([])
    assert read_all(memory_store, "g.ndjson.sz") == EVENTS[:200]


def test_large_records_keep_batches_small(memory_store: Store) -> None:
    big = [{"i": i, "blob": "z" * 300_000} for i in range(40)]
    with open_writer(memory_store, "big.ndjson.zst", batch_bytes=256 * 1024) as writer:
        for record in big:
            writer.write(record)
            assert not writer._lines  # a big record is compressed by its own write
    assert read_all(memory_store, "big.ndjson.zst") == big


def test_content_type_and_metadata_reach_the_store() -> None:
    store = Store(MemoryBackend())
    with open_writer(
        store, "m.ndjson", content_type="application/x-ndjson", metadata={"source": "test"}
    ) as writer:
        writer.write({"a": 1})
    info = store.get_file_info("m.ndjson")
    assert info.content_type == "application/x-ndjson"
    assert info.metadata == {"source": "test"}
