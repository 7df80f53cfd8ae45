"""A truncated or corrupted stream is reported, never returned short or wrong."""

from __future__ import annotations

import pytest

from omnistorage.compression import Codec, SnappyCodec, get_codec
from omnistorage.errors import CorruptDataError, DataError, StreamClosed, TruncatedDataError

PARTS = [b"first member " * 20, b"second member " * 30, b"third, \x00\xff binary " * 10]


def build(codec: Codec) -> tuple[bytes, dict[int, bytes]]:
    """A stream of three flushed members, and the valid prefixes by offset."""
    compressor = codec.compressor()
    stream = b""
    boundaries = {0: b""}
    done = b""
    for part in PARTS:
        stream += compressor.compress(part) + compressor.flush()
        done += part
        boundaries[len(stream)] = done
    stream += compressor.finish()
    boundaries[len(stream)] = done
    if codec.name == "snappy":
        boundaries[10] = b""  # a bare stream identifier is a valid empty stream
    return stream, boundaries


def decode(codec: Codec, data: bytes, chunk: int) -> bytes:
    decompressor = codec.decompressor()
    out = [decompressor.decompress(data[i : i + chunk]) for i in range(0, len(data), chunk)]
    out.append(decompressor.finish())
    return b"".join(out)


@pytest.mark.parametrize("name", ["gzip", "zstd", "snappy"])
@pytest.mark.parametrize("chunk", [1, 5, 1 << 20])
def test_every_truncation_point_is_detected(name: str, chunk: int) -> None:
    codec = get_codec(name)
    stream, boundaries = build(codec)
    for cut in range(len(stream)):
        if cut in boundaries:
            # A cut exactly between members is a valid, shorter stream.
            assert decode(codec, stream[:cut], chunk) == boundaries[cut]
            continue
        with pytest.raises((TruncatedDataError, CorruptDataError)):
            decode(codec, stream[:cut], chunk)


@pytest.mark.parametrize("name", ["gzip", "zstd"])
@pytest.mark.parametrize("flip", [0x01, 0x80, 0xFF])
def test_every_byte_flip_is_detected_or_harmless(name: str, flip: int) -> None:
    codec = get_codec(name)
    stream, _ = build(codec)
    original = b"".join(PARTS)
    for offset in range(len(stream)):
        damaged = bytearray(stream)
        damaged[offset] ^= flip
        try:
            result = decode(codec, bytes(damaged), 1 << 20)
        except DataError:
            continue
        # Header fields such as the gzip mtime or OS byte do not affect data.
        assert result == original, f"flip at {offset} gave different data silently"


def test_snappy_flips_outside_chunk_types_are_detected_or_harmless() -> None:
    """The framing format lets readers skip chunk types 0x80-0xfe, so a flipped
    type byte can hide a chunk; every other byte is covered by the CRC."""
    codec = get_codec("snappy")
    stream, _ = build(codec)
    type_offsets = set()
    pos = 0
    while pos < len(stream):
        type_offsets.add(pos)
        pos += 4 + int.from_bytes(stream[pos + 1 : pos + 4], "little")
    original = b"".join(PARTS)
    for offset in range(len(stream)):
        if offset in type_offsets:
            continue
        for flip in (0x01, 0x80, 0xFF):
            damaged = bytearray(stream)
            damaged[offset] ^= flip
            try:
                result = decode(codec, bytes(damaged), 1 << 20)
            except DataError:
                continue
            assert result == original, f"flip at {offset} gave different data silently"


@pytest.mark.parametrize("name", ["gzip", "zstd", "snappy"])
def test_garbage_after_a_stream_is_corrupt(name: str) -> None:
    codec = get_codec(name)
    stream, _ = build(codec)
    with pytest.raises(CorruptDataError):
        decode(codec, stream + b"this is not a member", 1 << 20)


@pytest.mark.parametrize("name", ["gzip", "zstd", "snappy"])
def test_input_that_is_not_compressed_is_corrupt(name: str) -> None:
    with pytest.raises(CorruptDataError):
        decode(get_codec(name), b"plain text, not compressed at all", 1 << 20)


def test_snappy_reserved_unskippable_chunk_is_corrupt() -> None:
    codec = get_codec("snappy")
    stream = codec.compressor().finish() + b"\x02\x01\x00\x00x"
    with pytest.raises(CorruptDataError, match="reserved"):
        decode(codec, stream, 1 << 20)


def test_snappy_padding_is_skipped_and_skippable_chunks_only_when_allowed() -> None:
    codec = get_codec("snappy")
    compressor = codec.compressor()
    body = compressor.compress(b"data") + compressor.finish()
    padded = body[:10] + b"\xfe\x02\x00\x00\x00\x00" + body[10:]
    assert decode(codec, padded, 3) == b"data"
    skippable = body[:10] + b"\x80\x01\x00\x00z" + body[10:]
    with pytest.raises(CorruptDataError, match=r"skippable chunk type 0x80.* at byte 10|byte 10"):
        decode(codec, skippable, 3)
    assert decode(SnappyCodec(allow_skippable=True), skippable, 3) == b"data"


@pytest.mark.parametrize("kind", [0x80, 0x9C, 0xFD])
def test_a_flipped_type_bit_in_a_data_chunk_is_an_error_not_lost_records(kind: int) -> None:
    codec = SnappyCodec()
    compressor = codec.compressor()
    parts = [
        compressor.compress(f"record {i}\n".encode() * 50) + compressor.flush() for i in range(5)
    ]
    stream = b"".join(parts) + compressor.finish()
    at = len(parts[0]) + len(parts[1])  # the third data chunk's type byte
    assert stream[at] == 0x00
    damaged = stream[:at] + bytes([kind]) + stream[at + 1 :]
    with pytest.raises(CorruptDataError, match=f"type {kind:#04x}"):
        decode(codec, damaged, 1 << 16)


def test_truncation_message_names_the_codec() -> None:
    codec = get_codec("zstd")
    stream, _ = build(codec)
    with pytest.raises(TruncatedDataError, match="zstd"):
        decode(codec, stream[:-3], 1 << 20)


@pytest.mark.parametrize("name", ["gzip", "zstd", "snappy"])
def test_a_decompressor_stays_failed_after_corruption(name: str) -> None:
    codec = get_codec(name)
    stream, _ = build(codec)
    decompressor = codec.decompressor()
    with pytest.raises(CorruptDataError):
        decompressor.decompress(b"garbage that is not compressed")
    with pytest.raises(StreamClosed):
        decompressor.decompress(stream)
