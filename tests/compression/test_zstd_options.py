"""ZstdCodec options: job_size for multi-threaded compression."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from omnistorage.compression import ZstdCodec
from omnistorage.errors import ConfigurationError

MiB = 1 << 20
PIECE = b"".join(os.urandom(4096) * 16 for _ in range(16))  # 1 MiB, compressible


def compress(codec: ZstdCodec, pieces: list[bytes]) -> bytes:
    compressor = codec.compressor()
    out = [compressor.compress(piece) for piece in pieces]
    return b"".join(out) + compressor.finish()


@pytest.mark.parametrize("threads", [1, 2, -1])
@pytest.mark.parametrize("job_size", [512 << 10, MiB, 4 * MiB])
def test_multithreaded_jobs_round_trip(threads: int, job_size: int) -> None:
    codec = ZstdCodec(threads=threads, job_size=job_size)
    pieces = [PIECE] * 6
    compressor = codec.compressor()
    stream = b"".join(compressor.compress(p) for p in pieces[:3]) + compressor.flush()
    stream += b"".join(compressor.compress(p) for p in pieces[3:]) + compressor.finish()
    decompressor = codec.decompressor()
    assert decompressor.decompress(stream) + decompressor.finish() == PIECE * 6
    zstd = shutil.which("zstd")
    assert zstd is not None, "apt-get install -y zstd"
    done = subprocess.run([zstd, "-dc"], input=stream, capture_output=True, check=True)
    assert done.stdout == PIECE * 6


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"job_size": MiB}, "set threads too"),
        ({"threads": 2, "job_size": 1000}, "job_size must be 0 or"),
        ({"threads": 2, "job_size": 2 << 30}, "job_size must be 0 or"),
        ({"threads": 2, "job_size": True}, "job_size must be an int"),
        ({"threads": 2, "job_size": 1.5}, "job_size must be an int"),
    ],
)
def test_bad_job_sizes_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ZstdCodec(**options)  # type: ignore[arg-type]


def _rss_growth(options: str) -> int:
    code = textwrap.dedent(
        f"""
        import os, json
        from omnistorage.compression import ZstdCodec

        def status(field):  # not ru_maxrss: Linux carries it across execve
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) * 1024
            raise RuntimeError(field)

        piece = b"".join(os.urandom(4096) * 16 for _ in range(16))
        compressor = ZstdCodec({options}).compressor()
        before = status("VmRSS")
        for _ in range(64):
            compressor.compress(piece)
        compressor.finish()
        after = status("VmHWM")
        print(json.dumps(after - before))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return int(json.loads(done.stdout))


def test_a_small_job_size_bounds_the_workers_memory() -> None:
    small = _rss_growth("threads=2, job_size=1 << 20")
    default = _rss_growth("threads=2")
    assert small < 16 * MiB, small
    assert small < default - 8 * MiB, (small, default)
