"""Length-prefixed records: byte-exact TFRecord, checked framing, recover mode."""

from __future__ import annotations

import struct

import google_crc32c
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
from omnistorage.formats import Decoder, LengthPrefixed, TFRecord

RECORDS = [b"hello", b"", b"\x00" * 40, b"world\n" * 7]


def decode_all(decoder: Decoder, data: bytes, chunk: int = 1 << 30) -> list[bytes]:
    out: list[bytes] = []
    for i in range(0, len(data), chunk):
        out += decoder.feed(data[i : i + chunk])
    return out + decoder.finish()


def reference_tfrecord(payload: bytes) -> bytes:
    """TFRecord framing written out longhand from the specification."""

    def masked(data: bytes) -> int:
        crc: int = google_crc32c.value(data)
        return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF

    length = struct.pack("<Q", len(payload))
    return length + struct.pack("<I", masked(length)) + payload + struct.pack("<I", masked(payload))


def test_tfrecord_test_vector() -> None:
    framed = TFRecord().encoder().encode(b"hello")
    assert framed.hex() == "0500000000000000" + "eab2043e" + "68656c6c6f" + "bb1f1c19"


def test_tfrecord_matches_the_specification_for_every_record() -> None:
    encoder = TFRecord().encoder()
    assert encoder.encode_many(RECORDS) == b"".join(map(reference_tfrecord, RECORDS))


@pytest.mark.parametrize("framing", ["tfrecord", "varint", "u32be"])
@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_round_trip_in_any_split(framing: str, chunk: int) -> None:
    fmt = LengthPrefixed(framing=framing)  # type: ignore[arg-type]
    records = [*RECORDS, b"x" * 300]
    data = fmt.encoder().encode_many(records)
    assert decode_all(fmt.decoder(), data, chunk) == records


def test_unchecked_framings_are_as_documented() -> None:
    assert LengthPrefixed(framing="varint").encoder().encode(b"x" * 300) == b"\xac\x02" + b"x" * 300
    assert LengthPrefixed(framing="u32be").encoder().encode(b"ab") == b"\x00\x00\x00\x02ab"


def test_records_must_be_bytes_like() -> None:
    encoder = TFRecord().encoder()
    with pytest.raises(TypeError, match="str"):
        encoder.encode("text")
    assert encoder.encode(bytearray(b"hello")) == encoder.encode(memoryview(b"hello"))


def test_every_single_byte_flip_is_detected() -> None:
    fmt = TFRecord(max_record_size=1000)
    data = fmt.encoder().encode_many(RECORDS)
    for offset in range(len(data)):
        for flip in (0x01, 0x10, 0x80, 0xFF):
            damaged = bytearray(data)
            damaged[offset] ^= flip
            with pytest.raises((CorruptRecordError, TruncatedRecordError, RecordTooLargeError)):
                decode_all(fmt.decoder(), bytes(damaged))


def test_every_truncation_is_detected_except_at_record_boundaries() -> None:
    fmt = TFRecord()
    encoder = fmt.encoder()
    boundaries: dict[int, list[bytes]] = {0: []}
    data = b""
    for index, record in enumerate(RECORDS):
        data += encoder.encode(record)
        boundaries[len(data)] = RECORDS[: index + 1]
    for cut in range(len(data)):
        if cut in boundaries:
            assert decode_all(fmt.decoder(), data[:cut]) == boundaries[cut]
        else:
            with pytest.raises(TruncatedRecordError):
                decode_all(fmt.decoder(), data[:cut], chunk=7)


@pytest.mark.parametrize("framing", ["varint", "u32be"])
def test_unchecked_framings_detect_truncation(framing: str) -> None:
    fmt = LengthPrefixed(framing=framing)  # type: ignore[arg-type]
    data = fmt.encoder().encode(b"payload")
    for cut in range(1, len(data)):
        with pytest.raises(TruncatedRecordError):
            decode_all(fmt.decoder(), data[:cut])


def test_max_record_size_is_enforced_on_write_and_read() -> None:
    small = TFRecord(max_record_size=4)
    with pytest.raises(RecordTooLargeError):
        small.encoder().encode(b"hello")
    data = TFRecord().encoder().encode(b"hello")
    decoder = small.decoder()
    with pytest.raises(RecordTooLargeError, match="5 bytes"):
        decoder.feed(data[:12])  # raised from the header alone, nothing buffered


@pytest.mark.parametrize("framing", ["varint", "u32be"])
def test_max_record_size_is_enforced_for_unchecked_framings(framing: str) -> None:
    data = LengthPrefixed(framing=framing).encoder().encode(b"hello")  # type: ignore[arg-type]
    with pytest.raises(RecordTooLargeError):
        decode_all(LengthPrefixed(framing=framing, max_record_size=4).decoder(), data)  # type: ignore[arg-type]


def test_length_checksum_is_checked_before_the_size_limit() -> None:
    header = bytearray(TFRecord().encoder().encode(b"hello")[:12])
    header[7] = 0x7F  # a huge length whose checksum no longer matches
    with pytest.raises(CorruptRecordError, match="length checksum"):
        TFRecord(max_record_size=10).decoder().feed(bytes(header))


def test_overlong_varint_is_corrupt() -> None:
    with pytest.raises(CorruptRecordError, match="varint"):
        LengthPrefixed(framing="varint").decoder().feed(b"\x80" * 11)


def test_recover_skips_a_damaged_record_and_reports_its_offsets() -> None:
    encoder = TFRecord().encoder()
    framed = [encoder.encode(r) for r in (b"one", b"two", b"three")]
    data = bytearray(b"".join(framed))
    start = len(framed[0])
    data[start + 13] ^= 0x01  # inside the payload of b"two"
    seen: list[tuple[int, int]] = []
    decoder = TFRecord().decoder(recover=True, on_skip=lambda a, b: seen.append((a, b)))
    assert decode_all(decoder, bytes(data), chunk=5) == [b"one", b"three"]
    assert decoder.skipped == [(start, start + len(framed[1]))]
    assert seen == decoder.skipped


def test_recover_resynchronises_after_inserted_garbage() -> None:
    encoder = TFRecord().encoder()
    head = encoder.encode(b"before")
    tail = encoder.encode_many([b"after", b"end"])
    data = head + b"\xde\xad\xbe\xef" * 10 + tail
    decoder = TFRecord().decoder(recover=True)
    assert decode_all(decoder, data, chunk=3) == [b"before", b"after", b"end"]
    assert decoder.skipped == [(len(head), len(head) + 40)]


def test_recover_skips_a_truncated_tail() -> None:
    data = TFRecord().encoder().encode_many([b"kept", b"cut short"])
    decoder = TFRecord().decoder(recover=True)
    assert decode_all(decoder, data[:-3]) == [b"kept"]
    assert decoder.skipped == [(20, len(data) - 3)]


def test_recover_needs_a_checked_framing() -> None:
    with pytest.raises(ConfigurationError, match="checksums"):
        LengthPrefixed(framing="varint").decoder(recover=True)


def test_framing_and_options_are_validated() -> None:
    with pytest.raises(ConfigurationError, match="framing"):
        LengthPrefixed(framing="u16")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        TFRecord(framing="varint")
    with pytest.raises(ConfigurationError):
        LengthPrefixed(max_record_size=0)
    assert issubclass(CorruptRecordError, DataError)


@settings(max_examples=50, deadline=None)
@given(
    records=st.lists(st.binary(max_size=300), max_size=15),
    framing=st.sampled_from(["tfrecord", "varint", "u32be"]),
    chunk=st.integers(min_value=1, max_value=100),
)
def test_any_records_round_trip(records: list[bytes], framing: str, chunk: int) -> None:
    fmt = LengthPrefixed(framing=framing)  # type: ignore[arg-type]
    assert decode_all(fmt.decoder(), fmt.encoder().encode_many(records), chunk) == records


@settings(max_examples=50, deadline=None)
@given(
    records=st.lists(st.binary(min_size=1, max_size=60), min_size=3, max_size=8),
    data=st.data(),
)
def test_recover_returns_only_true_records_in_order(
    records: list[bytes], data: st.DataObject
) -> None:
    encoder = TFRecord().encoder()
    framed = [encoder.encode(r) for r in records]
    victim = data.draw(st.integers(min_value=0, max_value=len(records) - 1))
    start = sum(map(len, framed[:victim]))
    offset = data.draw(st.integers(min_value=start, max_value=start + len(framed[victim]) - 1))
    damaged = bytearray(b"".join(framed))
    damaged[offset] ^= data.draw(st.integers(min_value=1, max_value=255))
    decoder = TFRecord().decoder(recover=True)
    got = decode_all(decoder, bytes(damaged), chunk=data.draw(st.integers(1, 50)))
    assert got == records[:victim] + records[victim + 1 :]
    assert decoder.skipped == [(start, start + len(framed[victim]))]
