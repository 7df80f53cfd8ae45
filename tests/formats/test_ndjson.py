"""NDJSON: orjson lines, split on \\n only, bounded by max_record_size."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnistorage.errors import (
    CorruptRecordError,
    DataError,
    RecordTooLargeError,
    TruncatedRecordError,
)
from omnistorage.formats import NDJSON, Decoder
from omnistorage.formats._null_check import RE_NULL_TEST, null_test

RECORDS: list[Any] = [{"a": 1}, [1, 2, "x"], "text", 3.5, None, True, {"nested": {"k": [{}]}}]


def decode_all(decoder: Decoder, data: bytes, chunk: int = 1 << 30) -> list[Any]:
    out: list[Any] = []
    for i in range(0, len(data), chunk):
        out += decoder.feed(data[i : i + chunk])
    return out + decoder.finish()


def test_every_record_is_one_newline_terminated_line() -> None:
    data = NDJSON().encoder().encode_many(RECORDS)
    assert data.count(b"\n") == len(RECORDS)
    assert data.endswith(b"\n")
    assert decode_all(NDJSON().decoder(), data) == RECORDS


def test_encode_many_equals_encode_on_each() -> None:
    encoder = NDJSON().encoder()
    mixed = [*RECORDS, b'{"raw": true}']
    assert encoder.encode_many(mixed) == b"".join(map(encoder.encode, mixed))
    assert encoder.encode_many(iter(mixed)) == b"".join(map(encoder.encode, mixed))
    assert encoder.encode_many([]) == b""


def test_unicode_line_separators_inside_strings_round_trip() -> None:
    record = {"text": "a\u2028b\u2029c\x85d\re\x0bf\x0cg"}
    data = NDJSON().encoder().encode(record)
    assert data.count(b"\n") == 1
    for chunk in (1, 2, 1000):
        assert decode_all(NDJSON().decoder(), data * 3, chunk) == [record] * 3


def test_raw_bytes_records_are_written_as_is() -> None:
    encoder = NDJSON().encoder()
    assert encoder.encode(b'{"a":1}') == b'{"a":1}\n'
    assert encoder.encode(bytearray(b"[]")) == b"[]\n"
    with pytest.raises(DataError, match="newline"):
        encoder.encode(b'{"a":\n1}')


def test_unserializable_record_is_a_data_error() -> None:
    with pytest.raises(DataError, match="not JSON-serializable"):
        NDJSON().encoder().encode({"when": object()})
    with pytest.raises(DataError):
        NDJSON().encoder().encode_many([{"ok": 1}, {"bad": {1, 2}}])


def test_default_hook_serializes_other_types() -> None:
    fmt = NDJSON(default=lambda value: sorted(value))
    assert fmt.encoder().encode_many([{"s": {2, 1}}]) == b'{"s":[1,2]}\n'


def test_max_record_size_is_enforced_on_write() -> None:
    encoder = NDJSON(max_record_size=10).encoder()
    assert encoder.encode("x" * 8) == b'"' + b"x" * 8 + b'"\n'  # exactly 10 bytes
    with pytest.raises(RecordTooLargeError):
        encoder.encode("x" * 9)
    with pytest.raises(RecordTooLargeError):
        encoder.encode_many(["short", "x" * 9])
    with pytest.raises(RecordTooLargeError):
        encoder.encode(b"y" * 11)


def test_max_record_size_is_enforced_on_read_without_unbounded_buffering() -> None:
    decoder = NDJSON(max_record_size=100).decoder()
    assert decoder.feed(b'"' + b"z" * 60) == []
    with pytest.raises(RecordTooLargeError, match="line 1"):
        decoder.feed(b"z" * 60)  # 121 bytes and no newline yet: stop now


def test_complete_overlong_line_is_rejected_on_read() -> None:
    data = b'"ok"\n"' + b"z" * 200 + b'"\n'
    with pytest.raises(RecordTooLargeError, match="line 2"):
        decode_all(NDJSON(max_record_size=100).decoder(), data)


def test_bad_json_names_the_line_and_offset() -> None:
    data = b'{"a": 1}\n{"b": \n'
    with pytest.raises(CorruptRecordError, match=r"line 2 at byte offset 9"):
        decode_all(NDJSON().decoder(), data)


def test_line_numbers_count_across_feeds() -> None:
    data = b"1\n2\n3\nnope\n"
    with pytest.raises(CorruptRecordError, match=r"line 4 at byte offset 6"):
        decode_all(NDJSON().decoder(), data, chunk=2)


def test_last_line_without_newline_is_decoded() -> None:
    assert decode_all(NDJSON().decoder(), b'{"a": 1}\n{"b": 2}') == [{"a": 1}, {"b": 2}]


def test_last_line_that_is_not_json_is_truncation() -> None:
    with pytest.raises(TruncatedRecordError, match="line 2"):
        decode_all(NDJSON().decoder(), b'{"a": 1}\n{"b": ')


def test_require_final_newline_rejects_any_unterminated_line() -> None:
    with pytest.raises(TruncatedRecordError):
        decode_all(NDJSON(require_final_newline=True).decoder(), b'{"a": 1}\n{"b": 2}')
    assert decode_all(NDJSON(require_final_newline=True).decoder(), b"1\n2\n") == [1, 2]


def test_blank_lines_and_crlf_endings_are_accepted() -> None:
    data = b'{"a": 1}\r\n\r\n\n  \n[2]\r\n'
    assert decode_all(NDJSON().decoder(), data, chunk=3) == [{"a": 1}, [2]]


def test_decode_false_yields_raw_lines() -> None:
    data = b'{"a": 1}\n\nnot json but raw\n[2]'
    assert decode_all(NDJSON().decoder(decode=False), data, chunk=4) == [
        b'{"a": 1}',
        b"not json but raw",
        b"[2]",
    ]


def test_recover_skips_bad_lines_and_reports_offsets() -> None:
    seen: list[tuple[int, int]] = []
    decoder = NDJSON().decoder(recover=True, on_skip=lambda a, b: seen.append((a, b)))
    data = b'{"a": 1}\n{broken\n{"b": 2}\n{"c"'
    assert decode_all(decoder, data, chunk=5) == [{"a": 1}, {"b": 2}]
    assert decoder.skipped == [(9, 17), (26, 30)]
    assert seen == decoder.skipped


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)


@settings(max_examples=60, deadline=None)
@given(records=st.lists(json_values, max_size=20), chunk=st.integers(min_value=1, max_value=64))
def test_any_json_values_round_trip_in_any_split(records: list[Any], chunk: int) -> None:
    data = NDJSON().encoder().encode_many(records)
    assert decode_all(NDJSON().decoder(), data, chunk) == [
        orjson.loads(orjson.dumps(r)) for r in records
    ]


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(
        st.one_of(
            st.binary(max_size=40),
            st.sampled_from([b"null", b"nul", b"ull", b"nnull", b"nulll", b"NULL", b"n\x00ull"]),
        ),
        max_size=30,
    ),
    offset=st.integers(min_value=0, max_value=3),
)
def test_the_null_tests_agree_with_a_plain_search(pieces: list[bytes], offset: int) -> None:
    data = b"".join(pieces)
    expected = data.find(b"null") >= 0
    for test, arg in (null_test(), RE_NULL_TEST):
        assert bool(test(data, arg)) is expected
        assert bool(test(bytearray(data), arg)) is expected
        view = memoryview(data)[offset:]
        assert bool(test(view, arg)) is (bytes(view).find(b"null") >= 0)
