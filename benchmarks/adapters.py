"""Adapters and layers against their peers, in the same run.

    pip install -e '.[bench]'
    eval "$(bash scripts/servers.sh env)"
    .venv/bin/python benchmarks/adapters.py [--size-mib 256] [--rows 4000000] [--repeat 3]

Rows (best of ``--repeat``; ratio = peer time / our time, so > 1 means faster):

- FSSPEC READ: an object read whole from S3 (moto) the way fsspec users do,
  by name: ``fsspec.open("omni+s3://bucket/key", **options).read()`` vs
  ``fsspec.open("s3://bucket/key", **options).read()`` (s3fs), 24 MiB (the
  size of the report that found the adapter slow) and ``--size-mib``; the
  two are measured alternately, best of ``--repeat`` (target >= 1.0x).
- PARQUET SCAN: a Parquet file of ``--rows`` rows in S3 scanned with
  ``pyarrow.dataset`` through ``arrow_filesystem(store)`` vs pyarrow's native
  ``S3FileSystem`` (target >= 0.8x).
- OPEN .ndjson.gz: ``omnistorage.open(path, "rb").read()`` vs
  ``smart_open.open(path, "rb").read()`` on a local gzip file (target >= 1.0x).
- LAYERS: ``read_bytes`` of 4 KiB objects on the memory backend through
  ``RetryLayer(MetricsLayer(...))`` vs bare (target overhead <= 1.15x).
- PARQUET 1 GiB (``--big-gib``, 0 to skip): a Parquet dataset of that size
  written to S3 (moto) through ``arrow_filesystem`` and scanned back, with the
  process's RSS growth (``VmRSS`` sampled every 5 ms) during each phase.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import omnistorage
from omnistorage import MemoryBackend, Store
from omnistorage.ext import MetricsLayer, RetryLayer
from omnistorage.ext.arrow import arrow_filesystem
from tests.support.remote import s3_store, wipe

MiB = 1 << 20


def best(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def row(name: str, ours: float, peer: float, peer_name: str, target: str) -> None:
    print(
        f"{name:<16} ours {ours:8.3f}s  {peer_name} {peer:8.3f}s  "
        f"ratio {peer / ours:5.2f}x  (target {target})"
    )


def fsspec_read(size: int, repeat: int) -> None:
    import fsspec

    import omnistorage.ext.fsspec  # noqa: F401 - registers omni+s3 (the entry point does too)

    store = s3_store()
    try:
        payload = os.urandom(MiB) * (size // MiB)
        store.write("big.bin", payload)
        bucket = store.unwrap().native_path("").split("/")[2]
        endpoint = os.environ["OMNI_TEST_S3_ENDPOINT"]
        ours_options = {
            "endpoint_url": endpoint,
            "region": "us-east-1",
            "access_key_id": "testing",
            "secret_access_key": "testing",
        }
        peer_options = {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
        path = f"{bucket}/{store.root}/big.bin"

        def read(url: str, options: dict[str, object]) -> Callable[[], None]:
            def run() -> None:
                with fsspec.open(url, "rb", **options) as f:
                    assert len(f.read()) == len(payload)

            return run

        ours, peer = alternate(
            read(f"omni+s3://{path}", ours_options), read(f"s3://{path}", peer_options), repeat
        )
        row(f"fsspec {size >> 20} MiB", ours, peer, "s3fs", ">= 1.0x")
    finally:
        wipe(store)


def alternate(
    ours: Callable[[], object], peer: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Best times of ``ours`` and ``peer`` run alternately (a warm-up of each first), so
    both see the same load on a shared machine."""
    ours()
    peer()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for call, out in ((ours, times[0]), (peer, times[1])):
            started = time.perf_counter()
            call()
            out.append(time.perf_counter() - started)
    return min(times[0]), min(times[1])


def parquet_scan(rows: int, repeat: int) -> None:
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    store = s3_store()
    try:
        table = pa.table({"id": pa.array(range(rows), pa.int64()), "v": pa.array(range(rows))})
        fs = arrow_filesystem(store)
        pq.write_table(table, "scan/data.parquet", filesystem=fs)
        ours = best(lambda: ds.dataset("scan", format="parquet", filesystem=fs).to_table(), repeat)
        endpoint = os.environ["OMNI_TEST_S3_ENDPOINT"]
        native = pafs.S3FileSystem(
            access_key="testing",
            secret_key="testing",
            endpoint_override=endpoint.split("://", 1)[1],
            scheme="http",
            region="us-east-1",
        )
        bucket = store.unwrap().native_path("").split("/")[2]
        path = f"{bucket}/{store.root}/scan"
        peer = best(
            lambda: ds.dataset(path, format="parquet", filesystem=native).to_table(), repeat
        )
        row("parquet scan", ours, peer, "pyarrow S3FS", ">= 0.8x")
    finally:
        wipe(store)


def open_gzip(repeat: int) -> None:
    import smart_open

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "events.ndjson.gz")
        lines = b"".join(b'{"i": %d, "msg": "event number %d"}\n' % (i, i) for i in range(400_000))
        with gzip.open(path, "wb", compresslevel=6) as out:
            out.write(lines)
        ours = best(lambda: omnistorage.open(path, "rb").read(), repeat)
        peer = best(lambda: smart_open.open(path, "rb").read(), repeat)
        row("open .ndjson.gz", ours, peer, "smart_open", ">= 1.0x")


def layers(repeat: int) -> None:
    bare = Store(MemoryBackend())
    layered = Store(RetryLayer(MetricsLayer(MemoryBackend())))
    for store in (bare, layered):
        for i in range(2000):
            store.write(f"k{i}", b"x" * 4096)

    def reads(store: Store) -> Callable[[], None]:
        def run() -> None:
            for i in range(2000):
                store.read_bytes(f"k{i}")

        return run

    ours = best(reads(layered), repeat * 3)
    base = best(reads(bare), repeat * 3)
    print(
        f"{'layers':<16} retry+metrics {ours:8.3f}s  bare {base:8.3f}s  "
        f"overhead {ours / base:5.2f}x  (target <= 1.15x)"
    )


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _peak_growth(call: Callable[[], object]) -> tuple[float, int]:
    import threading

    before = _rss()
    peak = [before]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    try:
        call()
    finally:
        done.set()
        watcher.join()
    return time.perf_counter() - started, peak[0] - before


def parquet_big(gib: float) -> None:
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    store = s3_store(part_size=16 * MiB)
    fs = arrow_filesystem(store)
    rows_per_file = 4_000_000  # 64 MiB of two int64 columns, uncompressed
    files = max(1, int(gib * 1024 / 64))
    try:

        def write() -> None:
            for part in range(files):
                start = part * rows_per_file
                ids = pa.array(range(start, start + rows_per_file), pa.int64())
                table = pa.table({"id": ids, "twice": pa.compute.multiply(ids, 2)})
                pq.write_table(
                    table, f"big/part-{part:04d}.parquet", filesystem=fs, compression="none"
                )

        rows = [0]

        def scan() -> None:
            dataset = ds.dataset("big", format="parquet", filesystem=fs)
            for batch in dataset.to_batches(
                batch_size=1 << 16, batch_readahead=2, fragment_readahead=1
            ):
                rows[0] += batch.num_rows

        write_s, write_rss = _peak_growth(write)
        size = sum(info.size for info in store.list_files("big"))
        scan_s, scan_rss = _peak_growth(scan)
        assert rows[0] == files * rows_per_file
        print(
            f"{'parquet ' + str(size >> 20) + ' MiB':<16} write {write_s:6.1f}s "
            f"(RSS +{write_rss >> 20} MiB)  scan {scan_s:6.1f}s (RSS +{scan_rss >> 20} MiB)"
        )
    finally:
        wipe(store)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big-gib", type=float, default=1.0)
    parser.add_argument(
        "--only-fsspec",
        action="store_true",
        help="Only the FSSPEC READ rows (24 MiB and --size-mib).",
    )
    args = parser.parse_args()
    if args.only_fsspec:
        fsspec_read(24 * MiB, max(args.repeat, 5))
        fsspec_read(args.size_mib * MiB, args.repeat)
        return
    fsspec_read(24 * MiB, max(args.repeat, 5))
    fsspec_read(args.size_mib * MiB, args.repeat)
    parquet_scan(args.rows, args.repeat)
    open_gzip(args.repeat)
    layers(args.repeat)
    if args.big_gib > 0:
        parquet_big(args.big_gib)


if __name__ == "__main__":
    main()
