"""Decompression bombs stay bounded; a zstd window over the limit is a typed limit error.

RSS is measured in a fresh subprocess (``ru_maxrss``), so the numbers are
the reader's own and not this test process's history.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

from omnistorage.compression import ZstdCodec, get_codec
from omnistorage.errors import LimitExceeded, RecordTooLargeError

MiB = 1 << 20
RSS_BUDGET = 64 * MiB


def zstd_rle_bomb(blocks: int, byte: bytes = b"x", prefix: bytes = b"") -> bytes:
    """A zstd frame of run-length blocks: 4 bytes in, 128 KiB out, each.

    Built by hand from RFC 8878: magic, a frame header with a 128 KiB window
    and no content size, then RLE blocks (type 1) whose size field is the
    regenerated size; an optional raw block (type 0) first.
    """
    out = bytearray(b"\x28\xb5\x2f\xfd")  # magic 0xFD2FB528, little-endian
    out += b"\x00"  # frame header descriptor: no checksum, no FCS, not single segment
    out += bytes([7 << 3])  # window descriptor: 2**(10+7) = 128 KiB
    if prefix:
        out += (len(prefix) << 3 | 0 << 1).to_bytes(3, "little") + prefix
    size = 128 * 1024
    for i in range(blocks):
        last = 1 if i == blocks - 1 else 0
        out += (size << 3 | 1 << 1 | last).to_bytes(3, "little") + byte
    return bytes(out)


def gzip_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\x00" * MiB
    parts = [compressor.compress(chunk) for _ in range(size // MiB)]
    return b"".join(parts) + compressor.flush()


def _rss_of(script: str, path: Path) -> dict[str, object]:
    code = (
        textwrap.dedent(
            """
        import json, resource, sys
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        result = {}
        """
        )
        + textwrap.dedent(script)
        + textwrap.dedent(
            """
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        result["growth"] = after - before
        print(json.dumps(result))
        """
        )
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_zstd_bomb_decodes_to_what_it_claims() -> None:
    data = zstd_rle_bomb(4)
    reader = get_codec("zstd").decompressor()
    out = reader.decompress(data, -1) + reader.finish()
    assert out == b"x" * (4 * 128 * 1024)


@pytest.mark.parametrize("codec", ["zstd", "gzip"])
def test_reading_one_byte_of_a_bomb_stays_bounded(tmp_path: Path, codec: str) -> None:
    # zstd: 64 KiB of RLE blocks expand to 2 GiB; gzip: ~2 MiB expand to 2 GiB.
    path = tmp_path / f"bomb.{codec}"
    path.write_bytes(zstd_rle_bomb(16384) if codec == "zstd" else gzip_bomb(2048 * MiB))
    result = _rss_of(
        f"""
        from omnistorage.compression import DecompressedReader, get_codec
        with DecompressedReader(open(sys.argv[1], "rb"), get_codec({codec!r})) as reader:
            result["first"] = reader.read(1).decode("latin-1")
            total = 1
            while total < 256 * 1024 * 1024:  # and 256 MiB more, streamed
                total += len(reader.read(1 << 20))
            result["total"] = total
        """,
        path,
    )
    assert result["total"] == 256 * MiB + 1
    assert int(result["growth"]) < RSS_BUDGET, result  # type: ignore[call-overload]


def test_a_record_inside_a_bomb_is_refused_with_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.ndjson.zst"
    path.write_bytes(zstd_rle_bomb(8192, b" ", prefix=b'{"a":1'))
    result = _rss_of(
        """
        from omnistorage import LocalBackend, Store
        from omnistorage.errors import RecordTooLargeError
        from omnistorage.records import open_reader
        import os
        store = Store(LocalBackend(os.path.dirname(sys.argv[1])))
        try:
            with open_reader(store, os.path.basename(sys.argv[1])) as reader:
                next(iter(reader))
        except RecordTooLargeError as exc:
            result["error"] = type(exc).__name__
        """,
        path,
    )
    assert result["error"] == RecordTooLargeError.__name__
    assert int(result["growth"]) < RSS_BUDGET, result  # type: ignore[call-overload]


@pytest.mark.skipif(shutil.which("zstd") is None, reason="the zstd CLI is not installed")
def test_a_long_window_frame_is_a_limit_naming_the_option(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(b"0123456789abcdef" * 65536 + bytes(range(256)) * 4096)
    # From stdin the size is unknown, so the CLI keeps the 1 GiB window it was asked for.
    stream = subprocess.run(
        ["zstd", "-q", "--long=30", "-c"],
        input=source.read_bytes(),
        capture_output=True,
        check=True,
    ).stdout
    decompressor = ZstdCodec().decompressor()
    with pytest.raises(LimitExceeded, match="max_window_size"):
        decompressor.decompress(stream, -1)
    wide = ZstdCodec(max_window_size=1 << 30).decompressor()
    assert wide.decompress(stream, -1) + wide.finish() == source.read_bytes()
