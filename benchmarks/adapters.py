"""Adapters and layers against their peers, in the same run.

    pip install -e '.[bench]'
    eval "$(bash scripts/servers.sh env)"
    .venv/bin/python benchmarks/adapters.py [--size-mib 256] [--rows 4000000] [--repeat 3]

Rows (best of ``--repeat``; ratio = peer time / our time, so > 1 means faster):

- FSSPEC READ: a ``--size-mib`` object read whole from S3 (moto) through
  ``OmniFileSystem.open(...).read()`` vs s3fs (target >= 1.0x).
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
from omnistorage.ext.fsspec import OmniFileSystem
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
    import s3fs

    store = s3_store()
    try:
        payload = os.urandom(MiB) * (size // MiB)
        store.write("big.bin", payload)
        fs = OmniFileSystem(store)
        ours = best(lambda: fs.open("big.bin", "rb").read(), repeat)
        backend = store.unwrap()
        bucket = backend.native_path("").split("/")[2]
        peer_fs = s3fs.S3FileSystem(
            key="testing",
            secret="testing",
            client_kwargs={"endpoint_url": os.environ["OMNI_TEST_S3_ENDPOINT"]},
        )
        path = f"{bucket}/{store.root}/big.bin"
        peer = best(lambda: peer_fs.open(path, "rb").read(), repeat)
        row("fsspec read", ours, peer, "s3fs", ">= 1.0x")
    finally:
        wipe(store)


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
    args = parser.parse_args()
    fsspec_read(args.size_mib * MiB, args.repeat)
    parquet_scan(args.rows, args.repeat)
    open_gzip(args.repeat)
    layers(args.repeat)
    if args.big_gib > 0:
        parquet_big(args.big_gib)


if __name__ == "__main__":
    main()
