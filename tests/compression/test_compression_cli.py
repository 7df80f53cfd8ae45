"""Our .gz and .zst streams interoperate with the gzip and zstd command-line tools."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from omnistorage.compression import Codec, get_codec

DATA = b"".join(b'{"n": %d, "text": "interop \xe2\x80\xa8 check"}\n' % i for i in range(20000))


def tool(name: str) -> str:
    """The tool's path; fail in CI (the CI script installs it), else skip."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (the CI script must install it)")
        pytest.skip(f"{name} is not installed")
    return path


def ours(codec: Codec, parts: list[bytes]) -> bytes:
    compressor = codec.compressor()
    out = b"".join(compressor.compress(p) + compressor.flush() for p in parts)
    return out + compressor.finish()


def decode(codec: Codec, data: bytes) -> bytes:
    decompressor = codec.decompressor()
    return decompressor.decompress(data) + decompressor.finish()


@pytest.mark.parametrize(("name", "cli"), [("gzip", "gzip"), ("zstd", "zstd")])
def test_the_cli_decodes_our_multi_member_stream(name: str, cli: str, tmp_path: Path) -> None:
    path = tool(cli)
    stream = ours(get_codec(name), [DATA[:1000], DATA[1000:500_000], DATA[500_000:]])
    target = tmp_path / "ours.bin"
    target.write_bytes(stream)
    result = subprocess.run([path, "-d", "-c", str(target)], capture_output=True, check=True)
    assert result.stdout == DATA


@pytest.mark.parametrize(("name", "cli"), [("gzip", "gzip"), ("zstd", "zstd")])
def test_the_cli_accepts_our_empty_stream(name: str, cli: str, tmp_path: Path) -> None:
    path = tool(cli)
    target = tmp_path / "empty.bin"
    target.write_bytes(get_codec(name).compressor().finish())
    result = subprocess.run([path, "-d", "-c", str(target)], capture_output=True, check=True)
    assert result.stdout == b""


@pytest.mark.parametrize(("name", "cli"), [("gzip", "gzip"), ("zstd", "zstd")])
def test_we_decode_cli_output_including_concatenated_files(
    name: str, cli: str, tmp_path: Path
) -> None:
    path = tool(cli)
    source = tmp_path / "data.ndjson"
    source.write_bytes(DATA)
    once = subprocess.run([path, "-c", str(source)], capture_output=True, check=True).stdout
    codec = get_codec(name)
    assert decode(codec, once) == DATA
    assert decode(codec, once + once) == DATA + DATA


def test_we_detect_truncation_of_cli_zstd_output(tmp_path: Path) -> None:
    path = tool("zstd")
    source = tmp_path / "data.ndjson"
    source.write_bytes(DATA)
    stream = subprocess.run([path, "-c", str(source)], capture_output=True, check=True).stdout
    decompressor = get_codec("zstd").decompressor()
    decompressor.decompress(stream[:-1])
    with pytest.raises(Exception, match="truncated"):
        decompressor.finish()
