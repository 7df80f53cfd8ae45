"""A cut at every byte of a small flushed stream: sealed ones always raise.

Documented outcomes:

- sealed, read with ``require_seal=True``: every proper prefix raises
  :class:`TruncatedDataError` (or :class:`CorruptDataError`), never short data;
- unsealed: a cut inside a member/frame/chunk raises ``TruncatedDataError``;
  a cut exactly at a member/frame/chunk boundary is a valid shorter stream and
  returns exactly the parts flushed before it (which is why seals exist);
- sealed but read without ``require_seal``: a cut inside the seal raises, a
  cut before it behaves as unsealed.
"""

from __future__ import annotations

import io

import pytest

from omnistorage.compression import (
    Codec,
    DecompressedReader,
    GzipCodec,
    Seal,
    SnappyCodec,
    ZstdCodec,
    seal_bytes,
)
from omnistorage.errors import CorruptDataError, DataError, TruncatedDataError

PARTS = [b"alpha %d\n" % i * 3 for i in range(3)]
DATA = b"".join(PARTS)
CODECS: list[Codec] = [
    GzipCodec(implementation="zlib"),
    GzipCodec(implementation="isal"),
    ZstdCodec(),
    SnappyCodec(),
]
IDS = ["gzip-zlib", "gzip-isal", "zstd", "snappy"]


def flushed(codec: Codec) -> tuple[bytes, list[int]]:
    """The stream with a flush after each part, and the offsets where members end."""
    compressor = codec.compressor()
    out = bytearray()
    ends = []
    for part in PARTS:
        out += compressor.compress(part)
        out += compressor.flush()
        ends.append(len(out))
    out += compressor.finish()
    return bytes(out), ends


def read(codec: Codec, data: bytes, *, require_seal: bool, step: int) -> bytes:
    reader = DecompressedReader(io.BytesIO(data), codec, require_seal=require_seal, read_size=step)
    return reader.read()


@pytest.mark.parametrize("codec", CODECS, ids=IDS)
@pytest.mark.parametrize("step", [1, 5, 1 << 16])
def test_every_cut_of_a_sealed_stream_raises(codec: Codec, step: int) -> None:
    body, _ = flushed(codec)
    stream = body + seal_bytes(codec.name, Seal(9, len(DATA)))
    assert read(codec, stream, require_seal=True, step=step) == DATA
    for cut in range(len(stream)):
        with pytest.raises((TruncatedDataError, CorruptDataError)):
            out = read(codec, stream[:cut], require_seal=True, step=step)
            pytest.fail(f"cut at {cut} of {len(stream)} returned {len(out)} bytes")


@pytest.mark.parametrize("codec", CODECS, ids=IDS)
def test_every_cut_of_two_concatenated_sealed_objects_raises(codec: Codec) -> None:
    body, _ = flushed(codec)
    one = body + seal_bytes(codec.name, Seal(9, len(DATA)))
    stream = one + one
    assert read(codec, stream, require_seal=True, step=64) == DATA + DATA
    for cut in range(len(one) + 1, len(stream)):
        with pytest.raises(DataError):
            read(codec, stream[:cut], require_seal=True, step=64)


@pytest.mark.parametrize("codec", CODECS, ids=IDS)
def test_every_cut_of_an_unsealed_stream_is_documented(codec: Codec) -> None:
    stream, ends = flushed(codec)
    # Member boundaries: the stream start (an empty stream), each flush.
    boundaries = {0: b""} | {end: b"".join(PARTS[: i + 1]) for i, end in enumerate(ends)}
    if codec.name == "snappy":
        boundaries[10] = b""  # after the stream identifier: a valid empty stream
    for cut in range(len(stream) + 1):
        if cut in boundaries:
            assert read(codec, stream[:cut], require_seal=False, step=7) == boundaries[cut]
        else:
            with pytest.raises(TruncatedDataError):
                read(codec, stream[:cut], require_seal=False, step=7)


@pytest.mark.parametrize("codec", CODECS, ids=IDS)
def test_a_sealed_stream_read_without_require_seal(codec: Codec) -> None:
    body, _ = flushed(codec)
    stream = body + seal_bytes(codec.name, Seal(9, len(DATA)))
    identifier_end = len(body) + 10 if codec.name == "snappy" else -1
    for cut in range(len(body) + 1, len(stream)):  # inside the seal
        if cut == identifier_end:
            continue
        with pytest.raises(TruncatedDataError):
            read(codec, stream[:cut], require_seal=False, step=3)
    if codec.name == "snappy":  # the seal starts with a stream identifier
        assert read(codec, stream[: len(body) + 10], require_seal=False, step=3) == DATA
    reader = DecompressedReader(io.BytesIO(stream), codec)
    assert reader.read() == DATA
    assert reader.seal == Seal(9, len(DATA))
