"""Every codec gives back exactly what it was given, however it is fed."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnistorage.compression import (
    Codec,
    Compressor,
    Decompressor,
    GzipCodec,
    ZstdCodec,
    get_codec,
)
from omnistorage.errors import StreamClosed

CHECKED_CODECS = ("gzip", "zstd", "snappy")
ALL_CODECS = (*CHECKED_CODECS, "none")


def compress_parts(codec: Codec, parts: list[bytes], *, flush_after_each: bool = True) -> bytes:
    """Compress ``parts``, ending a member/frame after each when asked."""
    compressor = codec.compressor()
    out = []
    for part in parts:
        out.append(compressor.compress(part))
        if flush_after_each:
            out.append(compressor.flush())
    out.append(compressor.finish())
    return b"".join(out)


def decompress_all(codec: Codec, data: bytes, chunk: int = 1 << 30) -> bytes:
    decompressor = codec.decompressor()
    out = [decompressor.decompress(data[i : i + chunk]) for i in range(0, len(data), chunk)]
    out.append(decompressor.finish())
    return b"".join(out)


TEXT = b"".join(b"line %d: the quick brown fox\n" % i for i in range(5000))


def test_codec_objects_satisfy_the_protocols(codec: Codec) -> None:
    assert isinstance(codec, Codec)
    assert isinstance(codec.compressor(), Compressor)
    assert isinstance(codec.decompressor(), Decompressor)


def test_round_trip_of_text_and_random_bytes(codec: Codec) -> None:
    data = TEXT + os.urandom(200_000) + TEXT
    assert decompress_all(codec, compress_parts(codec, [data], flush_after_each=False)) == data


def test_round_trip_with_flushes_in_the_middle(codec: Codec) -> None:
    parts = [TEXT[:1000], b"", TEXT[1000:90_000], b"x", TEXT[90_000:]]
    assert decompress_all(codec, compress_parts(codec, parts), chunk=4096) == b"".join(parts)


def test_flushed_prefix_decodes_on_its_own(codec: Codec) -> None:
    compressor = codec.compressor()
    head = compressor.compress(TEXT[:5000]) + compressor.flush()
    compressor.compress(TEXT[5000:])  # never flushed: a "crash" now
    assert decompress_all(codec, head) == TEXT[:5000]


def test_flush_with_nothing_pending_returns_nothing(codec: Codec) -> None:
    compressor = codec.compressor()
    assert compressor.flush() == b""
    compressor.compress(b"abc")
    compressor.flush()
    assert compressor.flush() == b""


def test_empty_stream_is_valid_and_decodes_to_nothing(codec: Codec) -> None:
    stream = codec.compressor().finish()
    assert decompress_all(codec, stream) == b""


def test_no_input_at_all_is_a_valid_empty_stream(codec: Codec) -> None:
    assert codec.decompressor().finish() == b""


def test_concatenated_streams_decode_back_to_back(codec: Codec) -> None:
    first = compress_parts(codec, [b"alpha" * 100, b"beta" * 100])
    second = compress_parts(codec, [b"gamma" * 100])
    joined = first + second
    expected = b"alpha" * 100 + b"beta" * 100 + b"gamma" * 100
    assert decompress_all(codec, joined) == expected
    assert decompress_all(codec, joined, chunk=7) == expected


def test_compressor_refuses_use_after_finish(codec: Codec) -> None:
    compressor = codec.compressor()
    compressor.finish()
    with pytest.raises(StreamClosed):
        compressor.compress(b"late")


def test_decompressor_accepts_bytearray_and_memoryview(codec: Codec) -> None:
    stream = compress_parts(codec, [TEXT[:3000]])
    decompressor = codec.decompressor()
    half = len(stream) // 2
    out = decompressor.decompress(bytearray(stream[:half]))
    out += decompressor.decompress(memoryview(stream)[half:])
    assert out + decompressor.finish() == TEXT[:3000]


def test_snappy_splits_input_into_64_kib_chunks() -> None:
    codec = get_codec("snappy")
    stream = compress_parts(codec, [os.urandom(200_000)], flush_after_each=False)
    # identifier + 4 chunks (3 full, 1 partial) stored uncompressed
    assert len(stream) == 10 + 200_000 + 4 * 8


def test_snappy_interoperates_with_python_snappy() -> None:
    snappy = pytest.importorskip("snappy")
    codec = get_codec("snappy")
    ours = compress_parts(codec, [TEXT, TEXT[:77]])
    assert snappy.StreamDecompressor().decompress(ours) == TEXT + TEXT[:77]
    theirs = snappy.StreamCompressor().compress(TEXT)
    assert decompress_all(codec, theirs) == TEXT


@pytest.mark.parametrize("implementation", ["zlib", "isal"])
def test_gzip_implementations_read_each_other(implementation: str) -> None:
    pytest.importorskip("isal")
    writer = GzipCodec(implementation=implementation)  # type: ignore[arg-type]
    other = GzipCodec(implementation="isal" if implementation == "zlib" else "zlib")
    stream = compress_parts(writer, [TEXT, TEXT])
    assert decompress_all(other, stream) == TEXT + TEXT


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_gzip_levels_round_trip(level: int) -> None:
    codec = GzipCodec(level=level)
    assert decompress_all(codec, compress_parts(codec, [TEXT])) == TEXT


def test_gzip_output_is_deterministic() -> None:
    codec = GzipCodec(implementation="zlib")
    assert compress_parts(codec, [TEXT]) == compress_parts(codec, [TEXT])


@pytest.mark.parametrize("options", [{"level": 1}, {"level": 19}, {"level": -5}, {"threads": 2}])
def test_zstd_options_round_trip(options: dict[str, int]) -> None:
    codec = ZstdCodec(**options)
    data = TEXT * 20
    assert decompress_all(codec, compress_parts(codec, [data[:10], data[10:]])) == data


def test_zstd_frames_carry_a_content_checksum() -> None:
    stream = compress_parts(get_codec("zstd"), [b"payload"])
    frame_header_descriptor = stream[4]
    assert frame_header_descriptor & 0x04  # Content_Checksum_flag


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(ALL_CODECS),
    parts=st.lists(st.binary(max_size=3000), max_size=6),
    flushes=st.lists(st.booleans(), min_size=6, max_size=6),
    chunk=st.integers(min_value=1, max_value=5000),
)
def test_any_parts_flushes_and_splits_round_trip(
    name: str, parts: list[bytes], flushes: list[bool], chunk: int
) -> None:
    codec = get_codec(name)
    compressor = codec.compressor()
    out = []
    for part, flush in zip(parts, flushes, strict=False):
        out.append(compressor.compress(part))
        if flush:
            out.append(compressor.flush())
    out.append(compressor.finish())
    assert decompress_all(codec, b"".join(out), chunk=chunk) == b"".join(parts)
