"""gzip member headers of every shape, split at every position, with zlib and ISA-L.

The headers are built by hand from RFC 1952 (FTEXT, FEXTRA, FNAME, FCOMMENT,
FHCRC), and the standard library's ``gzip`` module checks that each is a
valid file before ours reads it.
"""

from __future__ import annotations

import gzip
import random
import zlib

import pytest

from omnistorage.compression import GzipCodec
from omnistorage.errors import CorruptDataError, TruncatedDataError

IMPLEMENTATIONS = ["zlib", "isal"]


def member(body: bytes, *, flags: int = 0, extra: bytes = b"", name: bytes = b"",
           comment: bytes = b"") -> bytes:  # fmt: skip
    header = bytearray(b"\x1f\x8b\x08" + bytes([flags]) + b"\x00\x00\x00\x00\x00\x03")
    if flags & 0x04:
        header += len(extra).to_bytes(2, "little") + extra
    if flags & 0x08:
        header += name + b"\x00"
    if flags & 0x10:
        header += comment + b"\x00"
    if flags & 0x02:
        header += (zlib.crc32(bytes(header)) & 0xFFFF).to_bytes(2, "little")
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    packed = deflate.compress(body) + deflate.flush()
    trailer = zlib.crc32(body).to_bytes(4, "little") + len(body).to_bytes(4, "little")
    return bytes(header) + packed + trailer


SHAPES = {
    "plain": {},
    "fname+fcomment": {"flags": 0x18, "name": b"a.txt", "comment": b"made by pigz -C"},
    "fextra": {"flags": 0x04, "extra": b"AB\x04\x00data"},
    "fhcrc": {"flags": 0x02},
    "all": {"flags": 0x1F, "extra": b"XY\x01\x00z", "name": b"n", "comment": b"c"},
}
BODY = b"the quick brown fox jumps over the lazy dog\n" * 40


def read(codec: GzipCodec, stream: bytes, cut: int) -> bytes:
    decompressor = codec.decompressor()
    out = decompressor.decompress(stream[:cut]) + decompressor.decompress(stream[cut:])
    return out + decompressor.finish()


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_every_cut_of_every_header_shape_reads_the_same(implementation: str, shape: str) -> None:
    first = member(b"A" * 1000, **SHAPES["plain"])  # type: ignore[arg-type]
    second = member(BODY, **SHAPES[shape])  # type: ignore[arg-type]
    stream = first + second
    assert gzip.decompress(stream) == b"A" * 1000 + BODY  # a valid file for the stdlib
    codec = GzipCodec(implementation=implementation)  # type: ignore[arg-type]
    header_end = len(first) + 60
    for cut in range(len(first) - 1, min(len(stream), header_end)):
        assert read(codec, stream, cut) == b"A" * 1000 + BODY, cut


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_header_straddling_a_128_kib_read_boundary(implementation: str) -> None:
    noise = random.Random(7).randbytes(131_060)
    payload = next(
        noise[:n] for n in range(131_060, 130_000, -1) if len(member(noise[:n])) == 131_060
    )
    first = member(payload)  # 131,060 bytes: the next header straddles the 128 KiB read
    second = member(BODY, flags=0x18, name=b"b.txt", comment=b"comment")
    stream = first + second
    codec = GzipCodec(implementation=implementation)  # type: ignore[arg-type]
    decompressor = codec.decompressor()
    out = b""
    for start in range(0, len(stream), 128 * 1024):
        out += decompressor.decompress(stream[start : start + 128 * 1024])
    out += decompressor.finish()
    assert out == payload + BODY


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_trailing_garbage_is_corrupt_with_both_implementations(implementation: str) -> None:
    codec = GzipCodec(implementation=implementation)  # type: ignore[arg-type]
    stream = member(BODY) + b"garbage!"
    with pytest.raises(CorruptDataError, match="not a gzip member"):
        read(codec, stream, len(stream))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda s: s[:3] + b"\xe0" + s[4:], "reserved header flags"),
        (lambda s: s[:2] + b"\x07" + s[3:], "compression method"),
        (lambda s: s[:-8] + bytes([s[-8] ^ 1]) + s[-7:], "CRC-32"),
        (lambda s: s[:-4] + bytes([s[-4] ^ 1]) + s[-3:], "ISIZE"),
    ],
    ids=["reserved-flags", "method", "crc", "isize"],
)
def test_damaged_headers_and_trailers_are_named(
    implementation: str, damage: object, message: str
) -> None:
    codec = GzipCodec(implementation=implementation)  # type: ignore[arg-type]
    stream = damage(member(BODY))  # type: ignore[operator]
    with pytest.raises(CorruptDataError, match=message):
        read(codec, stream, len(stream))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_damaged_header_crc_is_named(implementation: str) -> None:
    good = member(BODY, flags=0x02)
    bad = good[:10] + bytes([good[10] ^ 0xFF]) + good[11:]
    codec = GzipCodec(implementation=implementation)  # type: ignore[arg-type]
    with pytest.raises(CorruptDataError, match="FHCRC"):
        read(codec, bad, len(bad))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_every_cut_inside_a_member_is_truncation(implementation: str) -> None:
    stream = member(BODY, flags=0x1F, extra=b"XY\x01\x00z", name=b"n", comment=b"c")
    codec = GzipCodec(implementation=implementation)  # type: ignore[arg-type]
    for end in range(1, len(stream)):
        decompressor = codec.decompressor()
        with pytest.raises(TruncatedDataError):
            decompressor.decompress(stream[:end])
            decompressor.finish()
