"""Formats by name and by key extension."""

from __future__ import annotations

import pytest

import omnistorage.formats as formats
from omnistorage.errors import ConfigurationError, DataError, StreamClosed
from omnistorage.formats import (
    CSV,
    NDJSON,
    Decoder,
    Encoder,
    Format,
    LengthPrefixed,
    TFRecord,
    format_for_key,
    format_names,
    get_format,
)


def test_all_lists_every_public_name() -> None:
    public = {name for name in dir(formats) if not name.startswith("_")}
    assert public == set(formats.__all__)


@pytest.mark.parametrize("name", ["ndjson", "csv", "tfrecord", "length-prefixed"])
def test_every_format_satisfies_the_protocols(name: str) -> None:
    fmt = get_format(name)
    assert isinstance(fmt, Format)
    assert fmt.name == name
    assert name in format_names()
    assert isinstance(fmt.encoder(), Encoder)
    assert isinstance(fmt.decoder(), Decoder)
    assert fmt.decoder().skipped == []


def test_unknown_format_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="csv, length-prefixed, ndjson, tfrecord"):
        get_format("parquet")


def test_options_are_passed_and_checked() -> None:
    assert get_format("length-prefixed", framing="varint") == LengthPrefixed(framing="varint")
    assert get_format("ndjson", max_record_size=5) == NDJSON(max_record_size=5)
    with pytest.raises(ConfigurationError, match="'delimeter'"):
        get_format("csv", delimeter=";")
    with pytest.raises(ConfigurationError):
        get_format("tfrecord", framing="u32be")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("logs/2024/a.ndjson", NDJSON()),
        ("a.jsonl.gz", NDJSON()),
        ("a.JSON.zst", NDJSON()),
        ("t/b.csv.sz", CSV()),
        ("c.tfrecord", TFRecord()),
        ("c.tfrecords.snappy", TFRecord()),
        ("d.lp.zst", LengthPrefixed()),
    ],
)
def test_format_for_key_strips_the_compression_suffix(key: str, expected: Format) -> None:
    assert format_for_key(key) == expected


@pytest.mark.parametrize("key", ["a.parquet", "a.gz", "noext", "dir.csv/file", "a.zst.ndjson.bak"])
def test_format_for_key_rejects_unknown_suffixes(key: str) -> None:
    with pytest.raises(ConfigurationError, match="cannot infer"):
        format_for_key(key)


def test_format_for_key_passes_options() -> None:
    assert format_for_key("a.csv", delimiter=";") == CSV(delimiter=";")


BAD_INPUT = {
    "ndjson": b"{not json}\n",
    "csv": b"a,b\r\n1,2,3\r\n",
    "tfrecord": b"\x05" + b"\x00" * 15,
    "length-prefixed": b"\x05" + b"\x00" * 15,
}
GOOD_INPUT = {
    "ndjson": b"1\n",
    "csv": b"a\r\n1\r\n",
    "tfrecord": TFRecord().encoder().encode(b"x"),
    "length-prefixed": TFRecord().encoder().encode(b"x"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUT))
def test_a_decoder_stays_failed_after_an_error(name: str) -> None:
    decoder = get_format(name).decoder()
    with pytest.raises(DataError):
        decoder.feed(BAD_INPUT[name])
        decoder.finish()
    with pytest.raises(StreamClosed, match="failed earlier") as info:
        decoder.feed(GOOD_INPUT[name])
    assert isinstance(info.value.__cause__, DataError)
    with pytest.raises(StreamClosed):
        decoder.finish()


@pytest.mark.parametrize("name", sorted(GOOD_INPUT))
def test_a_decoder_is_single_use(name: str) -> None:
    decoder = get_format(name).decoder()
    assert decoder.feed(GOOD_INPUT[name]) + decoder.finish() != []
    assert decoder.finish() == []
    with pytest.raises(StreamClosed, match="after finish"):
        decoder.feed(GOOD_INPUT[name])
