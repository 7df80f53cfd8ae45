"""Record writing throughput: omnistorage.records vs minimal loops and peers, in one run.

    python benchmarks/records.py [--records 1000000] [--repeat 3] [--codecs zstd,gzip,snappy]

Workload: N synthetic log events (timestamp, level, service, message, user
id, latency) written as NDJSON to a local folder. The events are generated
once, *before* any timing, and every contender writes the same list; each
contender is warmed up on 20 batches, then run ``--repeat`` times,
interleaved, and its best (shortest wall-clock) run is reported. Peak RSS
growth is the largest, over the runs, of the process's peak RSS during a
run (``VmHWM``, reset before each run through ``/proc/self/clear_refs``)
minus its RSS before the run. The least process CPU time of a run is
printed too: for single-threaded contenders it is less disturbed by other
load than wall time.

Contenders (zstd level 3 unless said):

- ``minimal``: the hand-written practical limit: batches of 1000 events,
  ``b"\\n".join(map(orjson.dumps, batch)) + b"\\n"``, written to
  ``zstandard.ZstdCompressor(level=3).stream_writer`` over a file opened
  with a 1 MiB buffer. Ratios are against it (gzip/snappy rows: against the
  minimal loop with the same codec library).
- ``ours write_many``: ``records.open_writer(store, key)`` then
  ``write_many(batch)`` per batch of 1000.
- ``ours write``: ``write(event)`` per event.
- ``ours parallel=True``: compression off the calling thread: for zstd on a
  libzstd worker thread (1 MiB jobs), for gzip and snappy on a Python
  worker thread that also writes.
- ``ours threads=2``: two libzstd worker threads (codec option ``threads=2``).
- ``ours rolling write``: ``RollingRecordWriter.write(event)`` per event
  (thread-safe, encodes each record at once), 64 MB objects.
- ``smart_open``: ``smart_open.open(path, "wb")``. Its ``.zst`` support
  needs ``backports.zstd`` on Python < 3.14; when that is missing the
  stream is compressed explicitly with ``zstandard`` level 3 over
  ``smart_open.open(..., compression="disable")`` (the table says which).
- ``fsspec``: ``fsspec.open(path, "wb", compression="zstd")``. Without
  ``backports.zstd``, fsspec's built-in zstd uses python-zstandard at a
  fixed level 10, so a second row compresses explicitly at level 3 over
  ``fsspec.open(path, "wb")``.

Targets (issue): ours >= 1.0x the minimal loop single-threaded, the parallel
mode >= 1.6x on 2 cores, RSS growth < 32 MiB for any stream length. Other
work on the machine makes the numbers noisy: the load average is printed.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import zstandard

from omnistorage import LocalBackend, Store
from omnistorage.records import RollingRecordWriter, open_writer

BATCH = 1000

LEVELS = ["DEBUG", "INFO", "INFO", "INFO", "INFO", "WARN", "ERROR"]
SERVICES = ["api", "auth", "billing", "search", "checkout", "worker"]
MESSAGES = [
    "request served",
    "cache miss",
    "user logged in",
    "payment accepted",
    "slow query on orders",
    "retrying upstream call",
    "session expired",
]


def make_events(n: int) -> list[dict[str, Any]]:
    rnd = random.Random(42)
    start = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    return [
        {
            "ts": start + i * 0.0007,
            "level": rnd.choice(LEVELS),
            "service": rnd.choice(SERVICES),
            "message": rnd.choice(MESSAGES),
            "user_id": rnd.randrange(1, 5_000_000),
            "latency_ms": round(rnd.expovariate(1 / 35.0), 3),
        }
        for i in range(n)
    ]


def batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [events[i : i + BATCH] for i in range(0, len(events), BATCH)]


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


@dataclass
class Result:
    name: str
    codec: str
    seconds: float = float("inf")
    cpu: float = float("inf")
    rss_growth: int = 0
    out_bytes: int = 0
    note: str = ""
    rounds: list[float] = field(default_factory=list)


# ---------------------------------------------------------------- contenders
# Each returns a function that writes every batch to ``path`` (or ``key`` in
# ``store``) and returns the size of what it wrote.


def minimal_zstd(path: Path, groups: list[list[dict[str, Any]]]) -> int:
    dumps = orjson.dumps
    with open(path, "wb", buffering=1 << 20) as f:
        writer = zstandard.ZstdCompressor(level=3).stream_writer(f, closefd=False)
        for batch in groups:
            writer.write(b"\n".join(map(dumps, batch)) + b"\n")
        writer.flush(zstandard.FLUSH_FRAME)
    return path.stat().st_size


def minimal_compressobj(
    new: Callable[[], Any],
) -> Callable[[Path, list[list[dict[str, Any]]]], int]:
    def run(path: Path, groups: list[list[dict[str, Any]]]) -> int:
        dumps = orjson.dumps
        compressor = new()
        with open(path, "wb", buffering=1 << 20) as f:
            for batch in groups:
                f.write(compressor.compress(b"\n".join(map(dumps, batch)) + b"\n"))
            f.write(compressor.flush())
        return path.stat().st_size

    return run


def minimal_snappy(path: Path, groups: list[list[dict[str, Any]]]) -> int:
    import snappy  # python-snappy 0.7: the framing format on cramjam

    dumps = orjson.dumps
    compressor = snappy.StreamCompressor()
    pending: list[bytes] = []
    size = 0
    with open(path, "wb", buffering=1 << 20) as f:
        for batch in groups:
            data = b"\n".join(map(dumps, batch)) + b"\n"
            pending.append(data)
            size += len(data)
            if size >= 1 << 16:  # StreamCompressor does no buffering: feed 64 KiB+ pieces
                f.write(compressor.add_chunk(b"".join(pending)))
                pending, size = [], 0
        if pending:
            f.write(compressor.add_chunk(b"".join(pending)))
    return path.stat().st_size


def ours(
    store: Store, key: str, *, per_record: bool = False, **options: Any
) -> Callable[[Path, list[list[dict[str, Any]]]], int]:
    def run(path: Path, groups: list[list[dict[str, Any]]]) -> int:
        with open_writer(store, key, overwrite=True, **options) as writer:
            if per_record:
                write = writer.write
                for batch in groups:
                    for event in batch:
                        write(event)
            else:
                for batch in groups:
                    writer.write_many(batch)
        return int(writer.bytes_out)

    return run


def ours_rolling(store: Store) -> Callable[[Path, list[list[dict[str, Any]]]], int]:
    def run(path: Path, groups: list[list[dict[str, Any]]]) -> int:
        with RollingRecordWriter(store, "b/roll/{seq:06d}.ndjson.zst", max_bytes=64 << 20) as out:
            write = out.write
            for batch in groups:
                for event in batch:
                    write(event)
        return out.stats().bytes_out

    return run


def smart_open_zstd(path: Path, groups: list[list[dict[str, Any]]]) -> int:
    import smart_open

    dumps = orjson.dumps
    with smart_open.open(str(path), "wb", compression="disable") as raw:
        writer = zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False)
        for batch in groups:
            writer.write(b"\n".join(map(dumps, batch)) + b"\n")
        writer.flush(zstandard.FLUSH_FRAME)
    return path.stat().st_size


def smart_open_native(path: Path, groups: list[list[dict[str, Any]]]) -> int:
    import smart_open

    dumps = orjson.dumps
    with smart_open.open(str(path), "wb") as f:
        for batch in groups:
            f.write(b"\n".join(map(dumps, batch)) + b"\n")
    return path.stat().st_size


def fsspec_native(path: Path, groups: list[list[dict[str, Any]]]) -> int:
    import fsspec

    dumps = orjson.dumps
    with fsspec.open(str(path), "wb", compression="zstd") as f:
        for batch in groups:
            f.write(b"\n".join(map(dumps, batch)) + b"\n")
    return path.stat().st_size


def fsspec_zstd3(path: Path, groups: list[list[dict[str, Any]]]) -> int:
    import fsspec

    dumps = orjson.dumps
    with fsspec.open(str(path), "wb") as raw:
        writer = zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False)
        for batch in groups:
            writer.write(b"\n".join(map(dumps, batch)) + b"\n")
        writer.flush(zstandard.FLUSH_FRAME)
    return path.stat().st_size


def has_backports_zstd() -> bool:
    if sys.version_info >= (3, 14):
        return True
    try:
        return importlib.util.find_spec("backports.zstd") is not None
    except ImportError:  # no "backports" package at all
        return False


# ---------------------------------------------------------------- driver


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--codecs", default="zstd,gzip,snappy")
    args = parser.parse_args()
    codecs = set(args.codecs.split(","))

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} (other work makes numbers noisy)"
    )
    events = make_events(args.records)
    groups = batches(events)
    encoded = sum(len(orjson.dumps(e)) + 1 for e in events)
    print(
        f"{len(events):,} events pre-generated ({encoded / 1e6:.1f} MB as NDJSON), "
        f"batches of {BATCH}, best of {args.repeat}\n"
    )

    base = Path(tempfile.mkdtemp(prefix="omni-records-bench-"))
    store = Store(LocalBackend(base / "store"))
    raw_dir = base / "raw"
    raw_dir.mkdir()
    contenders: list[tuple[Result, Callable[[Path, list[list[dict[str, Any]]]], int], str]] = []

    def add(name: str, codec: str, run: Callable[..., int], note: str = "") -> None:
        contenders.append((Result(name, codec, note=note), run, codec))

    if "zstd" in codecs:
        add("minimal loop", "zstd", minimal_zstd, "orjson + zstandard stream_writer")
        add("ours write_many", "zstd", ours(store, "b/ours.ndjson.zst"))
        add("ours write", "zstd", ours(store, "b/ours1.ndjson.zst", per_record=True))
        add("ours parallel=True", "zstd", ours(store, "b/par.ndjson.zst", parallel=True))
        add("ours rolling write", "zstd", ours_rolling(store), "RollingRecordWriter, 64 MB objects")
        add(
            "ours threads=2", "zstd", ours(store, "b/mt.ndjson.zst", threads=2), "2 libzstd workers"
        )
        if has_backports_zstd():
            add("smart_open", "zstd", smart_open_native, "native .zst")
        else:
            add("smart_open", "zstd", smart_open_zstd, "explicit zstd-3: no backports.zstd")
        add("fsspec zstd", "zstd", fsspec_native, "fsspec's own zstd (level 10 without backports)")
        add("fsspec + zstd-3", "zstd", fsspec_zstd3, "explicit zstd-3")
    if "gzip" in codecs:
        from isal import isal_zlib

        add(
            "minimal loop",
            "gzip/isal",
            minimal_compressobj(lambda: isal_zlib.compressobj(2, isal_zlib.DEFLATED, 31)),
            "isal_zlib level 2",
        )
        add("ours write_many", "gzip/isal", ours(store, "b/ours.ndjson.gz"), "level 6 = isal 2")
        add("ours parallel=True", "gzip/isal", ours(store, "b/par.ndjson.gz", parallel=True))
        add(
            "minimal loop",
            "gzip/zlib",
            minimal_compressobj(lambda: zlib.compressobj(6, zlib.DEFLATED, 31)),
            "zlib level 6",
        )
        add("ours write_many", "gzip/zlib", ours(store, "b/z.ndjson.gz", implementation="zlib"))
        add(
            "ours parallel=True",
            "gzip/zlib",
            ours(store, "b/zp.ndjson.gz", implementation="zlib", parallel=True),
        )
    if "snappy" in codecs:
        add("minimal loop", "snappy", minimal_snappy, "python-snappy StreamCompressor")
        add("ours write_many", "snappy", ours(store, "b/ours.ndjson.sz"))
        add("ours parallel=True", "snappy", ours(store, "b/par.ndjson.sz", parallel=True))

    can_reset = reset_peak_rss()
    try:
        for index, (_result, run, _codec) in enumerate(contenders):  # warm-up: imports, caches
            run(raw_dir / f"warm{index}.out", groups[:20])
        for _ in range(args.repeat):
            for index, (result, run, _codec) in enumerate(contenders):
                path = raw_dir / f"c{index}.out"
                gc.collect()
                before = _status("VmRSS:")
                reset_peak_rss()
                cpu = time.process_time()
                start = time.perf_counter()
                result.out_bytes = run(path, groups)
                elapsed = time.perf_counter() - start
                cpu = time.process_time() - cpu
                peak = _status("VmHWM:")
                result.rounds.append(elapsed)
                result.seconds = min(result.seconds, elapsed)
                result.cpu = min(result.cpu, cpu)
                if can_reset:
                    result.rss_growth = max(result.rss_growth, peak - before)
                path.unlink(missing_ok=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    minimal = {r.codec: r for r, _, _ in contenders if r.name == "minimal loop"}
    header = (
        f"{'codec':<10} {'contender':<20} {'records/s':>11} {'MB/s in':>8} {'MB/s out':>9} "
        f"{'ratio':>6} {'paired':>6} {'CPU s':>6} {'RSS +MiB':>9}  note"
    )
    print(header)
    print("-" * len(header))
    for result, _, codec in contenders:
        rate = len(events) / result.seconds
        base_result = minimal[codec]
        ratio = base_result.seconds / result.seconds
        paired = statistics.median(
            b / r for b, r in zip(base_result.rounds, result.rounds, strict=True)
        )
        rss = f"{result.rss_growth / 2**20:9.1f}" if can_reset else "      n/a"
        print(
            f"{codec:<10} {result.name:<20} {rate:11,.0f} {encoded / result.seconds / 1e6:8.1f} "
            f"{result.out_bytes / result.seconds / 1e6:9.1f} {ratio:6.2f} {paired:6.2f} "
            f"{result.cpu:6.2f} {rss}  {result.note}"
        )
    print(
        "\nratio: the minimal loop's best wall time over the contender's (higher is faster). "
        "paired: the median, over the\nrounds, of the same ratio within one round (less "
        "sensitive to one lucky or unlucky run). CPU s: the least\nprocess CPU time of a "
        "run (all threads); for single-threaded contenders it is less disturbed by other "
        "load\nthan wall time."
    )
    print(f"\nload average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
