"""RecordReader: iteration, raw records, typed errors on damage, recover mode."""

from __future__ import annotations

from typing import Any

import pytest

from omnistorage import NotFound, Store
from omnistorage.errors import (
    CorruptDataError,
    CorruptRecordError,
    StreamClosed,
    TruncatedDataError,
    TruncatedRecordError,
)
from omnistorage.records import open_reader, open_writer
from tests.records.conftest import CODEC_SUFFIXES

EVENTS = [{"n": i, "msg": f"event {i}"} for i in range(5000)]
BLOBS = [f"blob-{i}".encode() * (i % 7 + 1) for i in range(5000)]


def write(store: Store, key: str, records: list[Any], **options: Any) -> bytes:
    with open_writer(store, key, **options) as writer:
        writer.write_many(records)
    return store.read_bytes(key)


def test_read_returns_records_then_none(memory_store: Store) -> None:
    write(memory_store, "a.ndjson.zst", EVENTS[:3])
    with open_reader(memory_store, "a.ndjson.zst") as reader:
        assert [reader.read(), reader.read(), reader.read()] == EVENTS[:3]
        assert reader.read() is None
        assert reader.read() is None
        assert reader.records == 3


def test_read_batch_and_iteration_can_be_mixed(memory_store: Store) -> None:
    write(memory_store, "a.ndjson.gz", EVENTS)
    with open_reader(memory_store, "a.ndjson.gz", read_size=1000) as reader:
        first = next(reader)
        batch = reader.read_batch()
        rest = list(reader)
        assert reader.read_batch() == []
    assert [first, *batch, *rest] == EVENTS
    assert reader.bytes_read == len(memory_store.read_bytes("a.ndjson.gz"))
    assert reader.bytes_decoded > reader.bytes_read


def test_a_loop_left_by_break_goes_on_with_read_and_next(memory_store: Store) -> None:
    write(memory_store, "a.ndjson.zst", EVENTS)
    got: list[Any] = []
    with open_reader(memory_store, "a.ndjson.zst", read_size=1000) as reader:
        for record in reader:
            got.append(record)
            if len(got) == 10:
                break
        assert reader.records == 10
        got.append(reader.read())
        got.append(next(reader))
        for record in reader:  # a new loop starts where the reader is
            got.append(record)
            if len(got) == 3000:
                break
        got += reader.read_batch()
        got += list(reader)
        assert reader.records == len(EVENTS)
    assert got == EVENTS


def test_records_taken_by_read_batch_inside_a_loop_are_not_repeated(memory_store: Store) -> None:
    write(memory_store, "a.ndjson.zst", EVENTS)
    got: list[Any] = []
    with open_reader(memory_store, "a.ndjson.zst", read_size=2000) as reader:
        for record in reader:
            got.append(record)
            if len(got) % 100 == 1:
                got += reader.read_batch()
    assert got == EVENTS


def test_two_loops_over_one_reader_share_its_position(memory_store: Store) -> None:
    write(memory_store, "a.ndjson", EVENTS)
    with open_reader(memory_store, "a.ndjson", read_size=4000) as reader:
        first, second = iter(reader), iter(reader)
        got = [next(first), next(second), next(first), next(reader)]
        got += list(second)
        assert list(first) == []
    assert got == EVENTS


def test_a_loop_paused_when_the_reader_closes_raises_stream_closed(memory_store: Store) -> None:
    write(memory_store, "a.ndjson.zst", EVENTS)
    reader = open_reader(memory_store, "a.ndjson.zst")
    loop = iter(reader)
    assert next(loop) == EVENTS[0]
    reader.close()
    with pytest.raises(StreamClosed):
        next(loop)


def test_decode_false_yields_raw_record_bytes(memory_store: Store) -> None:
    write(memory_store, "a.ndjson.sz", [{"a": 1}, [2], "x"])
    with open_reader(memory_store, "a.ndjson.sz", decode=False) as reader:
        assert list(reader) == [b'{"a":1}', b"[2]", b'"x"']


def test_a_missing_object_raises_not_found(memory_store: Store) -> None:
    with pytest.raises(NotFound):
        open_reader(memory_store, "missing.ndjson")


def test_a_closed_reader_raises_stream_closed(memory_store: Store) -> None:
    write(memory_store, "a.ndjson", EVENTS)
    reader = open_reader(memory_store, "a.ndjson", read_size=100)
    next(reader)
    reader.close()
    reader.close()
    with pytest.raises(StreamClosed):
        list(reader)


@pytest.mark.parametrize("codec", ["gzip", "zstd", "snappy"])
def test_a_truncated_compressed_object_raises_after_the_good_records(
    memory_store: Store, codec: str
) -> None:
    data = write(memory_store, f"t.ndjson{CODEC_SUFFIXES[codec]}", EVENTS)
    memory_store.write("cut" + CODEC_SUFFIXES[codec], data[: len(data) * 2 // 3])
    got: list[Any] = []
    with open_reader(memory_store, "cut" + CODEC_SUFFIXES[codec], format="ndjson") as reader:
        with pytest.raises((TruncatedDataError, TruncatedRecordError)) as info:
            for record in reader:
                got.append(record)
        assert got == EVENTS[: len(got)]
        assert info.value.path == "cut" + CODEC_SUFFIXES[codec]
        with pytest.raises(type(info.value)):
            reader.read()  # stays failed


def test_a_truncated_uncompressed_record_raises_truncated_record_error(
    memory_store: Store,
) -> None:
    data = write(memory_store, "b.tfrecord", BLOBS[:10])
    memory_store.write("cut.tfrecord", data[:-3])
    with open_reader(memory_store, "cut.tfrecord") as reader:
        with pytest.raises(TruncatedRecordError):
            list(reader)
    data = write(memory_store, "n.ndjson", [{"a": 1}, {"b": 2}])
    memory_store.write("cut.ndjson", data[:-4])
    with open_reader(memory_store, "cut.ndjson") as reader:
        assert reader.read() == {"a": 1}
        with pytest.raises(TruncatedRecordError):
            reader.read()


@pytest.mark.parametrize("codec", ["gzip", "zstd", "snappy"])
def test_corrupt_compressed_bytes_raise_corrupt_data_error(memory_store: Store, codec: str) -> None:
    data = bytearray(write(memory_store, f"c.ndjson{CODEC_SUFFIXES[codec]}", EVENTS))
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(b ^ 0x5A for b in data[middle : middle + 8])
    memory_store.write("bad" + CODEC_SUFFIXES[codec], bytes(data))
    with open_reader(memory_store, "bad" + CODEC_SUFFIXES[codec], format="ndjson") as reader:
        with pytest.raises(CorruptDataError) as info:
            list(reader)
    assert info.value.path == "bad" + CODEC_SUFFIXES[codec]


def test_a_corrupt_tfrecord_raises_corrupt_record_error(memory_store: Store) -> None:
    plain = bytearray(write(memory_store, "b.tfrecord", BLOBS[:100]))
    plain[200] ^= 0xFF
    memory_store.write("bad.tfrecord", bytes(plain))
    with open_reader(memory_store, "bad.tfrecord") as reader:
        with pytest.raises(CorruptRecordError) as info:
            list(reader)
    assert info.value.path == "bad.tfrecord"


def test_recover_mode_skips_damaged_records_and_reports_offsets(memory_store: Store) -> None:
    plain = bytearray(write(memory_store, "b.tfrecord", BLOBS[:50]))
    sizes = [16 + len(blob) for blob in BLOBS[:50]]
    start_of_10 = sum(sizes[:10])
    plain[start_of_10 + 14] ^= 0xFF  # inside record 10's payload
    memory_store.write("bad.tfrecord", bytes(plain))
    with open_reader(memory_store, "bad.tfrecord", recover=True) as reader:
        records = list(reader)
    assert records == BLOBS[:10] + BLOBS[11:50]
    assert reader.skipped == [(start_of_10, start_of_10 + sizes[10])]


def test_recover_mode_skips_bad_ndjson_lines(memory_store: Store) -> None:
    memory_store.write("r.ndjson", b'{"a":1}\n{oops\n{"b":2}\n')
    with open_reader(memory_store, "r.ndjson", recover=True) as reader:
        assert list(reader) == [{"a": 1}, {"b": 2}]
        assert reader.skipped == [(8, 14)]
    with open_reader(memory_store, "r.ndjson") as reader:
        with pytest.raises(CorruptRecordError):
            list(reader)


@pytest.mark.parametrize("codec", ["gzip", "zstd", "snappy"])
def test_recover_mode_reads_a_compressed_stream_cut_short(memory_store: Store, codec: str) -> None:
    key = f"t.tfrecord{CODEC_SUFFIXES[codec]}"
    with open_writer(memory_store, key) as writer:
        writer.write_many(BLOBS[:2000])
        writer.flush()  # a complete frame/member: survives the cut below
        writer.write_many(BLOBS[2000:])
    data = memory_store.read_bytes(key)
    memory_store.write("cut" + key, data[:-20])
    with open_reader(memory_store, "cut" + key, recover=True) as reader:
        records = list(reader)
    assert reader.truncated
    assert len(records) >= 2000
    assert records == BLOBS[: len(records)]
