"""Seals: end markers that standard tools skip and our decompressors verify."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
import snappy

from omnistorage.compression import (
    Codec,
    DecompressedReader,
    GzipCodec,
    NoneCodec,
    Seal,
    SnappyCodec,
    ZstdCodec,
    can_seal,
    get_codec,
    seal_bytes,
)
from omnistorage.errors import ConfigurationError, CorruptDataError, TruncatedDataError

PARTS = [
    b"".join(b'{"seq": %d, "pad": "%s"}\n' % (i, b"x" * (i % 50)) for i in range(k, k + 300))
    for k in (0, 300, 600)
]
DATA = b"".join(PARTS)

SEALABLE: list[Codec] = [
    GzipCodec(implementation="zlib"),
    GzipCodec(implementation="isal"),
    ZstdCodec(),
    SnappyCodec(),
]
IDS = ["gzip-zlib", "gzip-isal", "zstd", "snappy"]


def compress(codec: Codec, parts: list[bytes]) -> bytes:
    """A stream written with a flush after every part (one member/frame each)."""
    compressor = codec.compressor()
    out = b"".join(compressor.compress(p) + compressor.flush() for p in parts)
    return out + compressor.finish()


def sealed(codec: Codec, parts: list[bytes], records: int = 900) -> bytes:
    return compress(codec, parts) + seal_bytes(codec.name, Seal(records, sum(map(len, parts))))


def decode(codec: Codec, data: bytes, *, require_seal: bool = False, step: int = 0) -> bytes:
    decompressor = codec.decompressor(require_seal=require_seal)
    if not step:
        return decompressor.decompress(data) + decompressor.finish()
    out = [decompressor.decompress(data[i : i + step]) for i in range(0, len(data), step)]
    return b"".join(out) + decompressor.finish()


def test_only_compressed_codecs_can_be_sealed() -> None:
    assert [name for name in ("gzip", "zstd", "snappy", "none") if can_seal(name)] == [
        "gzip",
        "zstd",
        "snappy",
    ]
    with pytest.raises(ConfigurationError, match="'none' cannot be sealed"):
        seal_bytes("none", Seal(1, 2))
    with pytest.raises(ConfigurationError, match="cannot be sealed"):
        NoneCodec().decompressor(require_seal=True)
    with pytest.raises(ConfigurationError, match="cannot be sealed"):
        DecompressedReader(io.BytesIO(b"x"), NoneCodec(), require_seal=True)
    assert NoneCodec().decompressor().seal is None


@pytest.mark.parametrize("bad", [-1, 1 << 64, True, 1.5])
def test_seal_fields_are_checked(bad: object) -> None:
    with pytest.raises(ConfigurationError, match=r"Seal\.records"):
        Seal(bad, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize("codec", SEALABLE, ids=IDS)
@pytest.mark.parametrize("step", [0, 1, 7, 4096])
def test_a_sealed_stream_reads_back_with_its_seal(codec: Codec, step: int) -> None:
    stream = sealed(codec, PARTS, records=900)
    decompressor = codec.decompressor(require_seal=True)
    out = [
        decompressor.decompress(stream[i : i + (step or len(stream))])
        for i in range(0, len(stream), step or len(stream))
    ]
    assert b"".join(out) + decompressor.finish() == DATA
    assert decompressor.seal == Seal(900, len(DATA))


@pytest.mark.parametrize("codec", SEALABLE, ids=IDS)
def test_reader_exposes_the_seal_after_eof(codec: Codec) -> None:
    reader = DecompressedReader(io.BytesIO(sealed(codec, PARTS, 900)), codec, require_seal=True)
    assert reader.seal is None
    assert reader.read() == DATA
    assert reader.seal == Seal(900, len(DATA))
    unsealed = DecompressedReader(io.BytesIO(compress(codec, PARTS)), codec)
    assert unsealed.read() == DATA
    assert unsealed.seal is None


@pytest.mark.parametrize("codec", SEALABLE, ids=IDS)
def test_an_empty_sealed_stream(codec: Codec) -> None:
    stream = compress(codec, []) + seal_bytes(codec.name, Seal(0, 0))
    reader = DecompressedReader(io.BytesIO(stream), codec, require_seal=True)
    assert reader.read() == b""
    assert reader.seal == Seal(0, 0)
    # The seal alone is a valid sealed, empty object too.
    assert decode(codec, seal_bytes(codec.name, Seal(0, 0)), require_seal=True) == b""


@pytest.mark.parametrize("codec", SEALABLE, ids=IDS)
def test_a_missing_seal_is_truncation_only_when_required(codec: Codec) -> None:
    stream = compress(codec, PARTS)
    assert decode(codec, stream) == DATA
    with pytest.raises(TruncatedDataError, match="sealed but the seal is missing"):
        decode(codec, stream, require_seal=True)
    with pytest.raises(TruncatedDataError, match="sealed but the seal is missing"):
        DecompressedReader(io.BytesIO(stream), codec, require_seal=True).read()
    with pytest.raises(TruncatedDataError, match="sealed but the seal is missing"):
        decode(codec, b"", require_seal=True)


@pytest.mark.parametrize("codec", SEALABLE, ids=IDS)
def test_a_seal_with_the_wrong_size_is_corruption(codec: Codec) -> None:
    # A member/frame dropped at a boundary before the seal: the sizes differ.
    stream = compress(codec, PARTS[1:]) + seal_bytes(codec.name, Seal(900, len(DATA)))
    with pytest.raises(CorruptDataError, match=f"states {len(DATA)} uncompressed bytes"):
        decode(codec, stream)


@pytest.mark.parametrize("codec", SEALABLE, ids=IDS)
def test_a_damaged_seal_is_corruption(codec: Codec) -> None:
    marker = bytearray(seal_bytes(codec.name, Seal(900, len(DATA))))
    marker[-13 if codec.name == "gzip" else -3] ^= 0x01  # inside the payload's CRC / size
    with pytest.raises(CorruptDataError, match="damaged seal"):
        decode(codec, compress(codec, PARTS) + bytes(marker))


@pytest.mark.parametrize("codec", SEALABLE, ids=IDS)
def test_concatenated_sealed_objects_need_each_seal(codec: Codec) -> None:
    one = sealed(codec, PARTS, 900)
    two = sealed(codec, PARTS[:1], 300)
    decompressor = codec.decompressor(require_seal=True)
    assert decompressor.decompress(one + two) + decompressor.finish() == DATA + PARTS[0]
    assert decompressor.seal == Seal(300, len(PARTS[0]))
    # Data after the last seal without its own seal: fine unless a seal is required.
    tail = one + compress(codec, PARTS[:1])
    assert decode(codec, tail) == DATA + PARTS[0]
    with pytest.raises(TruncatedDataError, match="seal is missing"):
        decode(codec, tail, require_seal=True)


def test_foreign_markers_of_the_same_kind_are_ignored() -> None:
    # zstd skippable frames: the seal's magic with other content, the
    # seekable format's seek table magic, an empty one.
    zstd = ZstdCodec()
    marker = seal_bytes("zstd", Seal(900, len(DATA)))
    assert marker[:4] == (0x184D2A5B).to_bytes(4, "little")
    others = [
        marker[:4] + (5).to_bytes(4, "little") + b"hello",
        (0x184D2A5E).to_bytes(4, "little") + (28).to_bytes(4, "little") + marker[8:],
        (0x184D2A50).to_bytes(4, "little") + bytes(4),
    ]
    stream = compress(zstd, PARTS) + b"".join(others) + marker
    assert decode(zstd, stream, require_seal=True, step=3) == DATA
    decompressor = zstd.decompressor()
    assert decompressor.decompress(stream + b"".join(others)) == DATA
    assert decompressor.seal == Seal(900, len(DATA))
    with pytest.raises(TruncatedDataError, match="seal is missing"):
        decode(zstd, stream + others[1], require_seal=True)
    # A gzip member whose FEXTRA holds another subfield.
    extra = b"AP\x02\x00hi"
    member = (
        b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff"
        + len(extra).to_bytes(2, "little")
        + extra
        + b"\x03\x00"
        + bytes(8)
    )
    gzip = GzipCodec(implementation="zlib")
    assert decode(gzip, compress(gzip, PARTS) + member) == DATA
    with pytest.raises(TruncatedDataError, match="seal is missing"):
        decode(gzip, compress(gzip, PARTS) + member, require_seal=True)


def test_snappy_seal_type_chunk_that_is_not_a_seal_is_still_rejected() -> None:
    codec = SnappyCodec()
    stream = compress(codec, PARTS) + b"\xa5\x05\x00\x00hello"
    with pytest.raises(CorruptDataError, match="reserved skippable chunk type 0xa5"):
        decode(codec, stream)
    assert decode(SnappyCodec(allow_skippable=True), stream) == DATA


# ------------------------------------------------------------------ real tools


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (apt-get install -y {name})")
    return path


@pytest.mark.parametrize(
    ("codec", "argv"),
    [
        (GzipCodec(implementation="zlib"), ["gzip", "-dc"]),
        (GzipCodec(implementation="isal"), ["gzip", "-dc"]),
        (GzipCodec(implementation="zlib"), ["pigz", "-dc"]),
        (ZstdCodec(), ["zstd", "-dc"]),
    ],
    ids=["gzip", "gzip-isal", "pigz", "zstd"],
)
def test_command_line_tools_read_sealed_streams_unchanged(
    codec: Codec, argv: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "sealed"
    path.write_bytes(sealed(codec, PARTS) + sealed(codec, []))
    done = subprocess.run(
        [tool(argv[0]), *argv[1:], str(path)], capture_output=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == DATA
    # `gzip -t`/`zstd -t` also accept the file as a whole.
    test = subprocess.run(
        [tool(argv[0]), "-t", str(path)], capture_output=True, check=False, timeout=60
    )
    assert test.returncode == 0, test.stderr


def test_python_snappy_reads_sealed_streams_unchanged() -> None:
    codec = SnappyCodec()
    stream = sealed(codec, PARTS) + sealed(codec, PARTS[:1]) + sealed(codec, [])
    assert snappy.StreamDecompressor().decompress(stream) == DATA + PARTS[0]
    out = io.BytesIO()
    snappy.stream_decompress(io.BytesIO(stream), out)
    assert out.getvalue() == DATA + PARTS[0]


def test_the_codec_name_picks_the_marker() -> None:
    for name in ("gzip", "zstd", "snappy"):
        codec = get_codec(name)
        assert decode(codec, sealed(codec, PARTS), require_seal=True) == DATA
