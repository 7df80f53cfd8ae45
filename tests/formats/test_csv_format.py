"""CSV: RFC 4180 through the stdlib, one header per object, incremental decode."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnistorage.errors import (
    ConfigurationError,
    CorruptRecordError,
    DataError,
    RecordTooLargeError,
    TruncatedRecordError,
)
from omnistorage.formats import CSV, Decoder

ROWS = [
    {"id": "1", "text": 'comma, "quotes" and\nnewline', "note": ""},
    {"id": "2", "text": "crlf\r\ninside", "note": "lone\rcr"},
    {"id": "3", "text": "unicode \u2028 é 😀", "note": " spaced "},
]


def stdlib_bytes(rows: list[dict[str, Any]], fieldnames: list[str]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fieldnames)
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def decode_all(decoder: Decoder, data: bytes, chunk: int = 1 << 30) -> list[Any]:
    out: list[Any] = []
    for i in range(0, len(data), chunk):
        out += decoder.feed(data[i : i + chunk])
    return out + decoder.finish()


def test_output_matches_stdlib_dictwriter_byte_for_byte() -> None:
    encoder = CSV().encoder()
    data = encoder.encode(ROWS[0]) + encoder.encode_many(ROWS[1:]) + encoder.finish()
    assert data == stdlib_bytes(ROWS, ["id", "text", "note"])


def test_header_is_written_once_per_encoder() -> None:
    encoder = CSV().encoder()
    first = encoder.encode_many(ROWS[:1])
    second = encoder.encode_many(ROWS[1:])
    assert first.startswith(b"id,text,note\r\n")
    assert b"id,text,note" not in second
    assert CSV().encoder().encode(ROWS[0]).startswith(b"id,text,note\r\n")


def test_header_only_object_when_no_rows() -> None:
    assert CSV(fieldnames=("a", "b")).encoder().finish() == b"a,b\r\n"
    assert CSV().encoder().finish() == b""
    assert decode_all(CSV().decoder(), b"a,b\r\n") == []


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_every_split_point_decodes_the_same(chunk: int) -> None:
    data = stdlib_bytes(ROWS, ["id", "text", "note"])
    assert decode_all(CSV().decoder(), data, chunk) == ROWS


def test_each_two_way_split_decodes_the_same() -> None:
    data = stdlib_bytes(ROWS, ["id", "text", "note"])
    for cut in range(len(data) + 1):
        decoder = CSV().decoder()
        assert decoder.feed(data[:cut]) + decoder.feed(data[cut:]) + decoder.finish() == ROWS


def test_sequences_are_accepted_with_fieldnames() -> None:
    fmt = CSV(fieldnames=("a", "b"))
    data = fmt.encoder().encode_many([("1", "2"), ["x,y", None]])
    assert data == b'a,b\r\n1,2\r\n"x,y",\r\n'
    assert decode_all(fmt.decoder(), data) == [{"a": "1", "b": "2"}, {"a": "x,y", "b": ""}]


def test_no_header_and_no_fieldnames_gives_lists() -> None:
    fmt = CSV(header=False)
    data = fmt.encoder().encode_many([["a", "b"], ["c"]])
    assert data == b"a,b\r\nc\r\n"
    assert decode_all(fmt.decoder(), data) == [["a", "b"], ["c"]]


def test_missing_and_extra_fields_are_data_errors_naming_the_field() -> None:
    encoder = CSV(fieldnames=("a", "b")).encoder()
    with pytest.raises(DataError, match="'b'"):
        encoder.encode({"a": 1})
    with pytest.raises(DataError, match="'c'"):
        encoder.encode({"a": 1, "b": 2, "c": 3})
    with pytest.raises(DataError, match="3 values"):
        encoder.encode([1, 2, 3])
    with pytest.raises(TypeError):
        encoder.encode("a,b")


def test_a_failed_batch_returns_nothing_and_keeps_the_header_pending() -> None:
    encoder = CSV().encoder()
    with pytest.raises(DataError):
        encoder.encode_many([{"a": 1}, {"b": 2}])
    assert encoder.encode({"a": 1}) == b"a\r\n1\r\n"


def test_sequence_first_row_needs_fieldnames_for_a_header() -> None:
    with pytest.raises(TypeError, match="header"):
        CSV().encoder().encode(["a"])


def test_last_record_may_lack_a_line_break() -> None:
    assert decode_all(CSV().decoder(), b"a,b\r\n1,2\r\n3,4") == [
        {"a": "1", "b": "2"},
        {"a": "3", "b": "4"},
    ]


def test_ending_inside_a_quoted_field_is_truncation() -> None:
    with pytest.raises(TruncatedRecordError):
        decode_all(CSV().decoder(), b'a,b\r\n1,"unfinished\r\nstill', chunk=4)


def test_wrong_field_count_is_corrupt_with_the_line_number() -> None:
    with pytest.raises(CorruptRecordError, match="line 4"):  # physical lines
        decode_all(CSV().decoder(), b'a,b\r\n"x\ny",2\r\n1,2,3\r\n')


def test_header_must_match_given_fieldnames() -> None:
    with pytest.raises(CorruptRecordError, match="header"):
        decode_all(CSV(fieldnames=("a", "b")).decoder(), b"a,c\r\n1,2\r\n")


def test_blank_lines_and_bare_newlines_are_accepted() -> None:
    data = b"a,b\n1,2\n\n3,4\r5,6\r\n"
    assert decode_all(CSV().decoder(), data, chunk=1) == [
        {"a": "1", "b": "2"},
        {"a": "3", "b": "4"},
        {"a": "5", "b": "6"},
    ]


def test_utf8_byte_order_mark_is_skipped() -> None:
    data = b"\xef\xbb\xbfa,b\r\n1,2\r\n"
    for chunk in (1, 2, 100):
        assert decode_all(CSV().decoder(), data, chunk) == [{"a": "1", "b": "2"}]


def test_decode_false_yields_raw_records() -> None:
    data = stdlib_bytes(ROWS, ["id", "text", "note"])
    raw = decode_all(CSV().decoder(decode=False), data, chunk=5)
    assert raw[0] == b'1,"comma, ""quotes"" and\nnewline",'
    assert len(raw) == 3


def test_max_record_size_on_write() -> None:
    encoder = CSV(max_record_size=10).encoder()
    with pytest.raises(RecordTooLargeError):
        encoder.encode({"a": "x" * 20})


def test_max_record_size_on_read_stops_an_unclosed_quoted_field() -> None:
    decoder = CSV(max_record_size=50).decoder()
    decoder.feed(b'a\r\n"')
    with pytest.raises(RecordTooLargeError):
        for _ in range(20):
            decoder.feed(b"line\r\n")


def test_max_record_size_on_read_of_a_complete_record() -> None:
    data = b"a\r\n" + b'"' + b"x\n" * 40 + b'"\r\n'
    with pytest.raises(RecordTooLargeError):
        decode_all(CSV(max_record_size=50).decoder(), data)


def test_fields_longer_than_the_stdlib_default_limit_work() -> None:
    big = "y" * 300_000
    fmt = CSV()
    assert decode_all(fmt.decoder(), fmt.encoder().encode({"a": big}), chunk=65536) == [{"a": big}]


def test_other_dialect_options() -> None:
    fmt = CSV(delimiter="\t", lineterminator="\n", encoding="latin-1")
    data = fmt.encoder().encode_many([{"a": "é\tx", "b": "2"}])
    assert data == b'a\tb\n"\xe9\tx"\t2\n'
    assert decode_all(fmt.decoder(), data) == [{"a": "é\tx", "b": "2"}]


@pytest.mark.parametrize(
    "options",
    [
        {"delimiter": ",,"},
        {"delimiter": '"'},
        {"lineterminator": ";"},
        {"encoding": "utf-16"},
        {"encoding": "nope"},
        {"fieldnames": ("a", "a")},
    ],
)
def test_bad_options_are_configuration_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        CSV(**options)


def test_recover_is_not_supported() -> None:
    with pytest.raises(ConfigurationError):
        CSV().decoder(recover=True)


fields = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.lists(fields, min_size=3, max_size=3), max_size=10),
    chunk=st.integers(min_value=1, max_value=40),
)
def test_any_text_round_trips_and_matches_stdlib(rows: list[list[str]], chunk: int) -> None:
    names = ["a", "b", "c"]
    dicts = [dict(zip(names, row, strict=True)) for row in rows]
    data = CSV().encoder().encode_many(dicts)
    assert data == stdlib_bytes(dicts, names) or not dicts
    assert decode_all(CSV().decoder(), data, chunk) == dicts


def test_a_long_quoted_field_fed_in_small_pieces_is_parsed_in_linear_time() -> None:
    import time

    field = ("x" * 99 + "\n") * 20_000  # 2 MB, 20k embedded newlines
    data = CSV().encoder().encode({"a": field})
    decoder = CSV().decoder()
    started = time.perf_counter()
    got: list[Any] = []
    for i in range(0, len(data), 1024):
        got += decoder.feed(data[i : i + 1024])
    got += decoder.finish()
    assert got == [{"a": field}]
    assert time.perf_counter() - started < 5


def test_a_long_unterminated_line_is_not_rejoined_on_every_feed() -> None:
    import time

    data = b"a\r\n" + b"y" * 4_000_000 + b"\r\n"
    decoder = CSV().decoder()
    started = time.perf_counter()
    got: list[Any] = []
    for i in range(0, len(data), 1024):
        got += decoder.feed(data[i : i + 1024])
    assert got + decoder.finish() == [{"a": "y" * 4_000_000}]
    assert time.perf_counter() - started < 5
