"""Distributed copy on Dask LocalClusters of 1, 2 and 4 workers, with a 20 ms latency layer.

    .venv/bin/python benchmarks/distributed.py [--files 10000] [--transfers 4]
                                               [--latency 0.02] [--skip-resume] [--skip-ray]

This machine has 2 cores, so CPU cannot show scaling: every store is a local folder
behind a latency layer (``benchmarks/_latency.py``: each request-like call waits
``--latency`` seconds, what a remote object store costs), so concurrency limits the
work as it does in production. Each worker is one process with one task thread;
a chunk runs with ``--transfers`` transfer threads.

Measured in one run (``uptime`` printed before and after; the machine is shared):

- a ``--files`` copy (1 KiB files in 100 folders) with 1, 2 and 4 workers:
  wall time (planning included) and the speed-up over one worker (target: 4
  workers >= 3.2x);
- the same copy on a local Ray instance of 4 CPUs (``RayEngine``, the ``ray`` extra);
- the single-process engine (``omnistorage.sync.copy``) through the same latency
  layer, with ``--transfers`` and with 4x ``--transfers`` threads;
- rclone copy of the same tree (local folders, *no* latency layer: rclone cannot
  be put behind ours; its figure is the floor of the CPU work, not a peer under
  the same latency), with 4x ``--transfers``;
- per-task overhead: the seconds a chunk task spends outside its transfers (state
  reads and writes, the attempt marker, opening stores; from the result documents)
  plus a Dask no-op task's round trip, as a share of a chunk's transfer time;
- resume: a 4-worker copy whose client and cluster are killed when half the files
  were reported copied, then resumed on a fresh cluster: the re-copies (files
  published twice) as a share of all files (target <= 1 %).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# This script's folder comes first on sys.path and its name is the Dask package's: move
# the folder to the end (workers inherit the path, and import _latency from there).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE] + [_HERE]

import _latency  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

from omnistorage import open_store  # noqa: E402
from omnistorage.distributed import StoreSpec, copy  # noqa: E402
from omnistorage.distributed.dask import DaskEngine  # noqa: E402
from omnistorage.sync import copy as single_copy  # noqa: E402


class Stop(Exception):
    """Raised from the progress callback: the client dies mid-job."""


def make_tree(root: Path, files: int) -> None:
    payload = os.urandom(1024)
    for i in range(files):
        target = root / f"t{i % 10}" / f"s{(i // 10) % 10}" / f"f{i:06d}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(payload[: 512 + i % 512])


def cluster(workers: int) -> tuple[LocalCluster, Client]:
    local = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(local)
    client.run(_latency.install)
    return local, client


def noop() -> None:
    return None


def round_trip(client: Client) -> float:
    times = []
    for _ in range(20):
        started = time.perf_counter()
        client.submit(noop, pure=False).result()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def distributed_copy(base: Path, workers: int, transfers: int) -> dict[str, Any]:
    local, client = cluster(workers)
    results: list[dict[str, Any]] = []
    try:
        trip = round_trip(client)
        started = time.perf_counter()
        report = copy(
            DaskEngine(client),
            StoreSpec(f"slow://{base}/src"),
            StoreSpec(f"slow://{base}/dst{workers}"),
            StoreSpec(f"slow://{base}/state{workers}"),
            transfers=transfers,
            on_chunk=lambda done, total, result: results.append(result),
        )
        seconds = time.perf_counter() - started
    finally:
        client.close()
        local.close()
    assert report.ok, report.errors[:3]
    overheads = [float(r["setup_seconds"]) + trip for r in results]
    runs = [float(r["run_seconds"]) for r in results]
    return {
        "seconds": seconds,
        "copied": report.counts["copied"],
        "chunks": len(results),
        "chunk_size": max(int(r["actions"]) for r in results),
        "overhead": statistics.mean(overheads),
        "chunk_run": statistics.mean(runs),
        "round_trip": trip,
    }


def ray_copy(base: Path, workers: int, transfers: int, latency: float) -> float | None:
    """The same copy as a Ray job: a local Ray instance of ``workers`` CPUs, the latency
    layer installed in each worker process by Ray's setup hook. ``None`` without Ray."""
    try:
        import ray

        from omnistorage.distributed.ray import RayEngine
    except ImportError:
        return None
    root = os.path.dirname(_HERE)
    ray.init(
        num_cpus=workers,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={
            "worker_process_setup_hook": "_latency.install",
            "env_vars": {
                "PYTHONPATH": os.pathsep.join([root, _HERE]),
                "OMNI_BENCH_LATENCY": str(latency),
            },
        },
    )
    try:
        started = time.perf_counter()
        report = copy(
            RayEngine(),
            StoreSpec(f"slow://{base}/src"),
            StoreSpec(f"slow://{base}/dstray{workers}"),
            StoreSpec(f"slow://{base}/stateray{workers}"),
            transfers=transfers,
        )
        seconds = time.perf_counter() - started
    finally:
        ray.shutdown()
    assert report.ok, report.errors[:3]
    return seconds


def resume(base: Path, files: int, transfers: int) -> dict[str, Any]:
    local, client = cluster(4)
    src, dst = StoreSpec(f"slow://{base}/src"), StoreSpec(f"slow://{base}/dstresume")
    state = StoreSpec(f"slow://{base}/stateresume")
    copied = [0]

    def kill_at_half(done: int, total: int, result: dict[str, Any]) -> None:
        copied[0] += int(result["counts"]["copied"])
        if copied[0] >= files // 2:
            raise Stop

    try:
        copy(DaskEngine(client), src, dst, state, transfers=transfers, on_chunk=kill_at_half)
    except Stop:
        pass
    finally:  # the client and every worker die with chunks in flight
        for process in local.workers.values():
            if hasattr(process, "process") and process.process is not None:
                process.process.process.kill()  # type: ignore[union-attr]
        client.close()
        local.close()
    present = sum(1 for _ in (base / "dstresume").rglob("f*"))
    local, client = cluster(4)
    try:
        report = copy(DaskEngine(client), src, dst, state, transfers=transfers)
        published = sum(client.run(_latency.publishes).values())
    finally:
        client.close()
        local.close()
    assert report.ok, report.errors[:3]
    assert sum(1 for _ in (base / "dstresume").rglob("f*")) == files
    return {
        "present_at_kill": present,
        "published_on_resume": published,
        "recopied": published - (files - present),
    }


def single(base: Path, transfers: int, name: str) -> float:
    src = open_store(f"slow://{base}/src")
    dst = open_store(f"slow://{base}/{name}")
    started = time.perf_counter()
    report = single_copy(src, dst, transfers=transfers)
    seconds = time.perf_counter() - started
    assert report.ok, report.errors[:3]
    return seconds


def rclone(base: Path, transfers: int) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
    env["RCLONE_CONFIG"] = os.devnull
    started = time.perf_counter()
    subprocess.run(
        [
            "rclone",
            "copy",
            str(base / "src"),
            str(base / "dstrclone"),
            "--transfers",
            str(transfers),
            "--checkers",
            str(transfers),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--transfers", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--skip-resume", action="store_true")
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()
    os.environ["OMNI_BENCH_LATENCY"] = str(args.latency)
    _latency.install()
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    base = Path(tempfile.mkdtemp(prefix="omni-dist-bench-"))
    try:
        make_tree(base / "src", args.files)
        print(
            f"{args.files} files, {args.latency * 1000:.0f} ms per request, "
            f"{args.transfers} transfer threads per chunk"
        )
        figures = {}
        for workers in (1, 2, 4):
            figures[workers] = found = distributed_copy(base, workers, args.transfers)
            print(
                f"dask {workers} worker(s): {found['seconds']:.1f} s, {found['chunks']} chunks "
                f"of <= {found['chunk_size']}, task overhead {found['overhead'] * 1000:.0f} ms "
                f"(round trip {found['round_trip'] * 1000:.1f} ms) = "
                f"{100 * found['overhead'] / found['chunk_run']:.2f} % of a chunk's "
                f"{found['chunk_run']:.1f} s"
            )
        one = figures[1]["seconds"]
        for workers in (2, 4):
            print(f"speed-up {workers} workers / 1: {one / figures[workers]['seconds']:.2f}x")
        if not args.skip_ray:
            ray_seconds = ray_copy(base, 4, args.transfers, args.latency)
            if ray_seconds is not None:
                print(
                    f"ray 4 workers: {ray_seconds:.1f} s = {one / ray_seconds:.2f}x dask's one "
                    f"worker ({figures[4]['seconds'] / ray_seconds:.2f}x dask's four)"
                )
        for threads, name in ((args.transfers, "dstsingle1"), (4 * args.transfers, "dstsingle4")):
            seconds = single(base, threads, name)
            print(
                f"single-process engine, {threads} transfers: {seconds:.1f} s "
                f"(dask 4 workers: {seconds / figures[4]['seconds']:.2f}x faster)"
            )
        print(
            f"rclone copy, no latency layer, {4 * args.transfers} transfers: "
            f"{rclone(base, 4 * args.transfers):.1f} s"
        )
        if not args.skip_resume:
            found = resume(base, args.files, args.transfers)
            print(
                f"resume after a kill at 50 %: {found['present_at_kill']} files present, "
                f"{found['published_on_resume']} published on resume, re-copied "
                f"{found['recopied']} = {100 * found['recopied'] / args.files:.2f} %"
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    sys.exit(main())
