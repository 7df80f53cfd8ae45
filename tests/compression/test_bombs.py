"""Decompression bombs stay bounded; a zstd window over the limit is a typed limit error.

RSS is measured in a fresh subprocess from ``/proc/self/status``: the peak
(``VmHWM``) minus the resident size before the work (``VmRSS``). Not
``ru_maxrss``: Linux carries it across ``execve`` from the forking process,
so a child of a large pytest process would report no growth at all.
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


def zstd_rle_bomb(
    blocks: int, byte: bytes = b"x", prefix: bytes = b"", window_log: int = 17
) -> bytes:
    """A zstd frame of run-length blocks: 4 bytes in, 128 KiB out, each.

    Built by hand from RFC 8878: magic, a frame header with a 128 KiB window
    and no content size, then RLE blocks (type 1) whose size field is the
    regenerated size; an optional raw block (type 0) first.
    """
    out = bytearray(b"\x28\xb5\x2f\xfd")  # magic 0xFD2FB528, little-endian
    out += b"\x00"  # frame header descriptor: no checksum, no FCS, not single segment
    out += bytes([(window_log - 10) << 3])  # window descriptor: 2**window_log (128 KiB)
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
        import json, sys

        def status(field):
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) * 1024
            raise RuntimeError(field)

        # Libraries load before the baseline: the growth is the reading's own.
        import cramjam, isal.isal_zlib, omnistorage.compression, omnistorage.records
        try:
            from compression import zstd
        except ImportError:
            from backports import zstd
        before = status("VmRSS")
        result = {}
        """
        )
        + textwrap.dedent(script)
        + textwrap.dedent(
            """
        result["growth"] = status("VmHWM") - before
        print(json.dumps(result))
        """
        )
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_measurement_sees_growth(tmp_path: Path) -> None:
    result = _rss_of("block = bytearray(96 * 1024 * 1024)", tmp_path / "unused")
    assert int(result["growth"]) >= 96 * MiB, result  # type: ignore[call-overload]


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


def snappy_bomb(chunks: int) -> bytes:
    """A snappy framing stream of ``chunks`` 64 KiB chunks of zeros (~3 KiB each)."""
    from omnistorage.compression import SnappyCodec

    compressor = SnappyCodec().compressor()
    one = compressor.compress(bytes(64 * 1024))
    assert one.startswith(b"\xff\x06\x00\x00sNaPpY")
    return one + one[10:] * (chunks - 1)


def _read_one_then_256_mib(codec: str, options: str = "") -> str:
    return f"""
        from omnistorage.compression import DecompressedReader, get_codec
        codec = get_codec({codec!r}{options})
        with DecompressedReader(open(sys.argv[1], "rb"), codec) as reader:
            result["first"] = reader.read(1).decode("latin-1")
            total = 1
            while total < 256 * 1024 * 1024:
                part = len(reader.read(1 << 20))
                if not part:
                    break
                total += part
            result["total"] = total
        """


def test_a_long_snappy_stream_stays_bounded(tmp_path: Path) -> None:
    # 4,096 chunks: about 12 MiB in, 256 MiB out (each chunk is bounded at 64 KiB).
    path = tmp_path / "bomb.sz"
    path.write_bytes(snappy_bomb(4096 + 1))
    result = _rss_of(_read_one_then_256_mib("snappy"), path)
    assert result["total"] == 256 * MiB + 1
    assert int(result["growth"]) < RSS_BUDGET, result  # type: ignore[call-overload]


def test_a_huge_window_within_a_small_limit_stays_bounded(tmp_path: Path) -> None:
    # A frame asking for a 32 MiB window (the decoder must keep that much
    # history), read with max_window_size=2**25: window plus buffers < 64 MiB.
    path = tmp_path / "window.zst"
    path.write_bytes(zstd_rle_bomb(4096, window_log=25))
    result = _rss_of(_read_one_then_256_mib("zstd", ", max_window_size=1 << 25"), path)
    assert result["total"] == 256 * MiB + 1
    assert int(result["growth"]) < RSS_BUDGET, result  # type: ignore[call-overload]


def test_the_default_window_limit_bounds_memory_by_the_window(tmp_path: Path) -> None:
    # The default limit is the zstd CLI's 128 MiB, and a decoder must hold a
    # frame's whole window: memory is bounded by max_window_size + 64 MiB.
    path = tmp_path / "window.zst"
    path.write_bytes(zstd_rle_bomb(4096, window_log=27))
    result = _rss_of(_read_one_then_256_mib("zstd"), path)
    assert result["total"] == 256 * MiB + 1
    assert int(result["growth"]) < (1 << 27) + RSS_BUDGET, result  # type: ignore[call-overload]


def test_a_window_over_the_limit_is_refused_before_allocating(tmp_path: Path) -> None:
    path = tmp_path / "window.zst"
    path.write_bytes(zstd_rle_bomb(64, window_log=31))
    result = _rss_of(
        """
        from omnistorage.compression import DecompressedReader, get_codec
        from omnistorage.errors import LimitExceeded
        try:
            DecompressedReader(open(sys.argv[1], "rb"), get_codec("zstd")).read(1)
        except LimitExceeded as exc:
            result["error"] = str(exc)
        """,
        path,
    )
    assert "max_window_size=134217728" in str(result["error"])
    assert int(result["growth"]) < 16 * MiB, result  # type: ignore[call-overload]


def test_a_gzip_bomb_through_zlib_stays_bounded(tmp_path: Path) -> None:
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip_bomb(2048 * MiB))
    result = _rss_of(_read_one_then_256_mib("gzip", ", implementation='zlib'"), path)
    assert result["total"] == 256 * MiB + 1
    assert int(result["growth"]) < RSS_BUDGET, result  # type: ignore[call-overload]
