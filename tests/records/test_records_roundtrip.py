"""Records round-trip through every format and codec, on memory and local stores."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnistorage import MemoryBackend, Store
from omnistorage.compression import get_codec
from omnistorage.errors import ConfigurationError
from omnistorage.formats import get_format
from omnistorage.records import open_reader, open_writer
from tests.records.conftest import CODEC_SUFFIXES, FORMAT_SUFFIXES


def sample_records(fmt: str, n: int = 3000) -> tuple[list[Any], list[Any]]:
    """Records to write and what reading them back must give."""
    if fmt == "ndjson":
        written: list[Any] = [
            {"i": i, "text": f"line {i} \u2028 ünïcode \r\n", "ok": i % 2 == 0, "x": [i, None]}
            for i in range(n)
        ]
        written += [b'{"raw": true}', "a string", 12, None, [1, 2]]
        expected = [*written[:-5], {"raw": True}, "a string", 12, None, [1, 2]]
        return written, expected
    if fmt == "csv":
        rows = [{"id": str(i), "note": f'say "hi",\nline {i}', "empty": ""} for i in range(n)]
        return rows, rows
    blobs = [bytes([i % 256]) * (i % 300) for i in range(n)]
    return blobs, blobs


@pytest.mark.parametrize("codec", sorted(CODEC_SUFFIXES))
@pytest.mark.parametrize("fmt", sorted(FORMAT_SUFFIXES))
def test_every_format_and_codec_round_trips(store: Store, fmt: str, codec: str) -> None:
    key = f"data/x{FORMAT_SUFFIXES[fmt]}{CODEC_SUFFIXES[codec]}"
    written, expected = sample_records(fmt)
    with open_writer(store, key) as writer:
        for record in written[:100]:
            writer.write(record)
        writer.write_many(written[100:])
    assert writer.records == len(written)
    assert writer.bytes_out == store.get_file_info(key).size
    with open_reader(store, key) as reader:
        assert list(reader) == expected
    assert reader.records == len(expected)


@pytest.mark.parametrize("codec", sorted(CODEC_SUFFIXES))
def test_an_empty_object_round_trips(memory_store: Store, codec: str) -> None:
    key = f"empty.ndjson{CODEC_SUFFIXES[codec]}"
    with open_writer(memory_store, key):
        pass
    assert memory_store.exists(key)
    with open_reader(memory_store, key) as reader:
        assert reader.read() is None


@pytest.mark.parametrize(
    ("key", "fmt", "codec"),
    [
        ("events.ndjson.zst", "ndjson", "zstd"),
        ("rows.csv.gz", "csv", "gzip"),
        ("blobs.tfrecord", "tfrecord", "none"),
        ("x.lp", "length-prefixed", "none"),
        ("a/b.jsonl", "ndjson", "none"),
        ("B.JSONL.SZ", "ndjson", "snappy"),
        ("t.tfrecords.snappy", "tfrecord", "snappy"),
    ],
)
def test_format_and_codec_are_inferred_from_the_key(
    memory_store: Store, key: str, fmt: str, codec: str
) -> None:
    record: Any = b"payload" if fmt in ("tfrecord", "length-prefixed") else {"a": "1"}
    with open_writer(memory_store, key) as writer:
        writer.write(record)
    raw = memory_store.read_bytes(key)
    decompressor = get_codec(codec).decompressor()
    decoder = get_format(fmt).decoder()
    assert decoder.feed(
        decompressor.decompress(raw) + decompressor.finish()
    ) + decoder.finish() == [record]


def test_explicit_format_and_compression_override_the_key(memory_store: Store) -> None:
    with open_writer(memory_store, "odd.name", format="ndjson", compression="gzip") as writer:
        writer.write({"a": 1})
    assert memory_store.read_bytes("odd.name")[:2] == b"\x1f\x8b"
    with open_reader(memory_store, "odd.name", format="ndjson", compression="gzip") as reader:
        assert list(reader) == [{"a": 1}]


def test_compression_none_overrides_a_codec_suffix(memory_store: Store) -> None:
    with open_writer(memory_store, "plain.ndjson.gz", compression="none") as writer:
        writer.write({"a": 1})
    assert memory_store.read_bytes("plain.ndjson.gz") == b'{"a":1}\n'


def test_configured_format_and_codec_objects_are_accepted(memory_store: Store) -> None:
    fmt = get_format("csv", fieldnames=("a", "b"))
    with open_writer(memory_store, "t.bin", format=fmt, compression=get_codec("zstd")) as writer:
        writer.write(["1", "2"])
    with open_reader(memory_store, "t.bin", format=fmt, compression="zstd") as reader:
        assert list(reader) == [{"a": "1", "b": "2"}]


def test_options_go_to_the_layer_that_accepts_them(memory_store: Store) -> None:
    with open_writer(
        memory_store, "o.csv.zst", level=19, fieldnames=["x"], batch_records=7, parallel=True
    ) as writer:
        writer.write_many([{"x": str(i)} for i in range(100)])
    with open_reader(memory_store, "o.csv.zst", fieldnames=["x"], read_size=10) as reader:
        assert [row["x"] for row in reader] == [str(i) for i in range(100)]


def test_an_unknown_option_is_a_configuration_error_naming_it(memory_store: Store) -> None:
    with pytest.raises(ConfigurationError, match="'levle'") as info:
        open_writer(memory_store, "a.ndjson.zst", levle=3)
    assert "level" in str(info.value)  # the message lists what is accepted
    with pytest.raises(ConfigurationError, match="'level'"):
        open_writer(memory_store, "a.ndjson", level=3)  # no codec: nobody takes level
    with pytest.raises(ConfigurationError, match="'batch_bytes'"):
        open_reader(memory_store, "a.ndjson", batch_bytes=3)
    assert not memory_store.exists("a.ndjson.zst")


def test_bad_option_values_and_names_are_configuration_errors(memory_store: Store) -> None:
    with pytest.raises(ConfigurationError):
        open_writer(memory_store, "a.ndjson.zst", level=99)
    with pytest.raises(ConfigurationError):
        open_writer(memory_store, "a.ndjson", batch_bytes=0)
    with pytest.raises(ConfigurationError, match="unknown format"):
        open_writer(memory_store, "a.ndjson", format="parquet")
    with pytest.raises(ConfigurationError, match="unknown compression"):
        open_writer(memory_store, "a.ndjson", compression="lz4")
    with pytest.raises(ConfigurationError, match="cannot infer"):
        open_writer(memory_store, "a.txt")
    with pytest.raises(ConfigurationError, match="recover"):
        open_reader(memory_store, "a.csv", recover=True)
    assert list(memory_store.list_files(recursive=True)) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(json_values, max_size=300),
    codec=st.sampled_from(sorted(CODEC_SUFFIXES)),
    batch_records=st.integers(1, 50),
    batch_bytes=st.integers(1, 4096),
    write_size=st.integers(1, 4096),
    read_size=st.integers(1, 512),
    flush_every=st.integers(0, 40),
    parallel=st.booleans(),
)
def test_any_json_values_round_trip_whatever_the_batching(
    records: list[Any],
    codec: str,
    batch_records: int,
    batch_bytes: int,
    write_size: int,
    read_size: int,
    flush_every: int,
    parallel: bool,
) -> None:
    store = Store(MemoryBackend())
    key = f"h.ndjson{CODEC_SUFFIXES[codec]}"
    with open_writer(
        store,
        key,
        batch_records=batch_records,
        batch_bytes=batch_bytes,
        write_size=write_size,
        parallel=parallel,
    ) as writer:
        for index, record in enumerate(records):
            writer.write(record)
            if flush_every and index % flush_every == 0:
                writer.flush()
    with open_reader(store, key, read_size=read_size) as reader:
        assert list(reader) == records


@settings(max_examples=40, deadline=None)
@given(
    blobs=st.lists(st.binary(max_size=700), max_size=200),
    framing=st.sampled_from(["tfrecord", "varint", "u32be"]),
    codec=st.sampled_from(sorted(CODEC_SUFFIXES)),
    chunks=st.lists(st.integers(0, 30), max_size=10),
)
def test_binary_records_round_trip_through_write_and_write_many(
    blobs: list[bytes], framing: str, codec: str, chunks: list[int]
) -> None:
    store = Store(MemoryBackend())
    key = f"b.lp{CODEC_SUFFIXES[codec]}"
    with open_writer(store, key, framing=framing, batch_records=3) as writer:
        rest = blobs
        for size in chunks:
            writer.write_many(iter(rest[:size]))
            if rest[size : size + 1]:
                writer.write(rest[size])
            rest = rest[size + 1 :]
        writer.write_many(rest)
    with open_reader(store, key, framing=framing) as reader:
        assert list(reader) == blobs
