"""gzip headers made by the real tools, split at every position, with zlib and ISA-L.

``gzip -N`` writes FNAME, ``pigz -C`` FNAME and FCOMMENT. Neither tool
writes FEXTRA or FHCRC: those come from hand-built headers in
``test_gzip_headers.py``. Multi-member files are concatenations, as ``cat``
makes them.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from omnistorage.compression import DecompressedReader, GzipCodec
from omnistorage.errors import CorruptDataError, TruncatedDataError

IMPLEMENTATIONS = ["zlib", "isal"]
BODY = b"".join(b"line %d of the interop body\n" % i for i in range(3000))


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (apt-get install -y {name})")
    return path


def made_by(argv: list[str], tmp_path: Path, name: str = "a.txt") -> bytes:
    source = tmp_path / name
    source.write_bytes(BODY)
    done = subprocess.run(
        [tool(argv[0]), *argv[1:], "-c", str(source)], capture_output=True, check=True, timeout=60
    )
    return done.stdout


SHAPES = {
    "gzip -n (plain)": ["gzip", "-n"],
    "gzip -N (fname)": ["gzip", "-N"],
    "pigz -C (fname+fcomment)": ["pigz", "-C", "made by pigz with a comment"],
    "pigz -N -C, -1": ["pigz", "-1", "-N", "-C", "x"],
}


def read_split(codec: GzipCodec, stream: bytes, cuts: list[int]) -> bytes:
    decompressor = codec.decompressor()
    out = []
    start = 0
    for cut in [*cuts, len(stream)]:
        out.append(decompressor.decompress(stream[start:cut]))
        start = cut
    return b"".join(out) + decompressor.finish()


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_every_cut_of_a_tool_made_header(implementation: str, shape: str, tmp_path: Path) -> None:
    one = made_by(SHAPES[shape], tmp_path)
    flags = one[3]
    assert (flags & 0x08 != 0) == ("fname" in shape or "-N" in shape)
    stream = one + one  # multi-member: the second header is cut too
    codec = GzipCodec(implementation=implementation)  # type: ignore[arg-type]
    header = 10 + len(SHAPES[shape][-1]) + 16
    for cut in [*range(1, header + 2), *range(len(one) - 9, len(one) + header + 2)]:
        assert read_split(codec, stream, [cut]) == BODY + BODY, cut


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_pigz_header_across_every_read_boundary_of_a_reader(
    implementation: str, tmp_path: Path
) -> None:
    # The case: `cat a.gz b.gz` where b's FNAME+FCOMMENT header
    # straddles a read of the stream reader.
    a = made_by(["gzip", "-n"], tmp_path)
    b = made_by(["pigz", "-C", "comment"], tmp_path, "b.txt")
    codec = GzipCodec(implementation=implementation)  # type: ignore[arg-type]
    for offset in range(1, 30):
        reader = DecompressedReader(io.BytesIO(a + b), codec, read_size=len(a) + offset)
        assert reader.read() == BODY + BODY, offset


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("garbage", [b"\x00" * 8, b"junk", b"\x1f\x8b\x09", b"\x1f\x8b\x08\xe0"])
def test_trailing_garbage_after_tool_output_is_corrupt(
    implementation: str, garbage: bytes, tmp_path: Path
) -> None:
    stream = made_by(["pigz", "-C", "c"], tmp_path) + garbage
    codec = GzipCodec(implementation=implementation)  # type: ignore[arg-type]
    for cut in (1, len(stream) - len(garbage), len(stream) - 1):
        with pytest.raises(CorruptDataError):
            read_split(codec, stream, [cut])


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_partial_next_header_is_truncation(implementation: str, tmp_path: Path) -> None:
    # b"\x1f" or b"\x1f\x8b\x08" could start another member: it reads as cut short.
    one = made_by(["pigz", "-C", "c"], tmp_path)
    codec = GzipCodec(implementation=implementation)  # type: ignore[arg-type]
    for tail in (b"\x1f", b"\x1f\x8b", b"\x1f\x8b\x08", one[:12]):
        with pytest.raises(TruncatedDataError):
            read_split(codec, one + tail, [len(one)])
