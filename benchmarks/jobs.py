"""Job commit: fault-injected runs, a 10,000-shard commit on moto, committed-write throughput.

    .venv/bin/python benchmarks/jobs.py [--runs 1000] [--backend local|memory]
                                        [--shards 10000] [--workers 16] [--endpoint URL]
                                        [--records 400000] [--repeat 3] [--skip ...]

Measured:

- FAULTS: ``--runs`` random schedules (:mod:`omnistorage.testing.jobs`: tasks killed
  mid-shard or between staging and task commit, speculative and late attempts, a driver
  killed before, during or after its commit or losing replies, then resumed or aborted)
  on ``--backend``; after every driver try a reader must see no dataset or exactly one
  attempt per task with every shard whole. Prints the runs that broke it (target 0).
- COMMIT: ``--shards`` shards staged on S3 (moto) by 100 tasks, then one job commit
  with ``--workers`` publishes in flight: seconds, and S3 requests per shard counted on
  the committing client.
- THROUGHPUT: the same ``--records`` records written as 4 zstd NDJSON shards, by plain
  ``records.open_writer`` and by task attempts plus the job commit, on a local disk,
  alternating, best of ``--repeat``. Target: committed >= 0.95x plain.

Without ``--endpoint`` the COMMIT part starts its own moto server (as ``s3.py`` does).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from omnistorage import Store
from omnistorage.backends.local import LocalBackend
from omnistorage.backends.memory import MemoryBackend
from omnistorage.jobs import Job, TaskAttempt, open_dataset
from omnistorage.records import open_writer
from omnistorage.testing.jobs import random_schedule, run

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from s3 import moto_server  # the sibling benchmark's moto launcher


def faults(runs: int, backend: str, seed: int = 22) -> None:
    rng = random.Random(seed)
    broken, committed, none = 0, 0, 0
    started = time.perf_counter()
    for n in range(runs):
        schedule = random_schedule(rng)
        tmp = tempfile.mkdtemp(prefix="omni-bench-jobs-")
        store = (
            Store(MemoryBackend(), "ds") if backend == "memory" else Store(LocalBackend(tmp), "ds")
        )
        try:
            outcome = run(store, schedule, job_id=f"job-{n}")
        except AssertionError:
            broken += 1
            print(f"run {n} broke the invariant: {schedule}", file=sys.stderr)
            traceback.print_exc()
        else:
            committed += outcome.committed
            none += not outcome.committed
        finally:
            store.close()
            shutil.rmtree(tmp, ignore_errors=True)
    took = time.perf_counter() - started
    print(
        f"FAULTS      {runs} fault-injected runs on {backend}: {broken} with a partial, "
        f"duplicate or missing shard visible (target 0); {committed} ended committed, "
        f"{none} with no dataset; {took:.1f} s"
    )


def commit(endpoint: str, shards: int, workers: int) -> None:
    import boto3
    from botocore.client import BaseClient

    from omnistorage.backends.s3 import S3Backend

    bucket = f"bench-jobs-{uuid.uuid4().hex[:10]}"
    keys = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys).create_bucket(
        Bucket=bucket
    )

    def store() -> Store:
        backend = S3Backend(
            bucket=bucket,
            endpoint_url=endpoint,
            region="us-east-1",
            access_key_id="bench",
            secret_access_key="bench",
        )
        return Store(backend, "ds")

    job = Job(store(), "big")
    tasks = 100
    per_task = max(1, shards // tasks)

    def stage(task: int) -> None:
        attempt = TaskAttempt(job.store, job.id, task, "a")
        for i in range(per_task):
            with attempt.open_shard(".ndjson") as writer:
                writer.write({"task": task, "shard": i})
        attempt.commit()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:  # 8 tasks at once
        list(pool.map(stage, range(tasks)))
    staged = time.perf_counter() - started
    driver = store()
    client = driver.unwrap(BaseClient)
    counts: Counter[str] = Counter()

    def count(**kwargs: Any) -> None:
        counts[str(kwargs.get("event_name", "")).rsplit(".", 1)[-1]] += 1

    client.meta.events.register("before-send.s3.*", count)
    started = time.perf_counter()
    result = Job(driver, job.id).commit(max_workers=workers)
    took = time.perf_counter() - started
    total = len(result.shards)
    assert total == tasks * per_task, total
    assert len(open_dataset(driver).shards) == total
    calls = sum(counts.values())
    print(
        f"COMMIT      {total} staged shards on moto, {workers} publishes in flight: "
        f"{took:.1f} s ({total / took:.0f} shards/s), {calls / total:.2f} requests per "
        f"shard ({dict(counts.most_common(6))}); staging them took {staged:.1f} s"
    )


def _plain(store: Store, records: list[dict[str, Any]], shards: int) -> None:
    size = len(records) // shards
    for n in range(shards):
        with open_writer(store, f"plain/{uuid.uuid4().hex}-{n}.ndjson.zst") as writer:
            writer.write_many(records[n * size : (n + 1) * size])


def _committed(store: Store, records: list[dict[str, Any]], shards: int) -> None:
    job = Job(store.child(f"ds-{uuid.uuid4().hex}"))
    size = len(records) // shards
    for n in range(shards):
        attempt = job.task(n, "a")
        with attempt.open_shard(".ndjson.zst") as writer:
            writer.write_many(records[n * size : (n + 1) * size])
        attempt.commit()
    job.commit(tasks=shards)


def throughput(count: int, repeat: int) -> None:
    records = [
        {"id": i, "user": f"user-{i % 977}", "event": "click", "value": i * 0.5, "ok": True}
        for i in range(count)
    ]
    tmp = tempfile.mkdtemp(prefix="omni-bench-jobs-")
    store = Store(LocalBackend(tmp))
    best = {"plain": float("inf"), "committed": float("inf")}
    try:
        for _ in range(repeat):
            for name, write in (("plain", _plain), ("committed", _committed)):
                started = time.perf_counter()
                write(store, records, 4)
                best[name] = min(best[name], time.perf_counter() - started)
    finally:
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)
    plain, committed = count / best["plain"], count / best["committed"]
    print(
        f"THROUGHPUT  {count} records, 4 zstd NDJSON shards on a local disk, best of "
        f"{repeat}: plain open_writer {plain:,.0f} rec/s, committed job {committed:,.0f} "
        f"rec/s = {committed / plain:.3f}x (target >= 0.95x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--backend", choices=("local", "memory"), default="local")
    parser.add_argument("--shards", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--records", type=int, default=400_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--endpoint", default=None, help="use this S3 endpoint (no own moto)")
    parser.add_argument("--skip", nargs="*", default=(), choices=("faults", "commit", "throughput"))
    args = parser.parse_args()
    if "faults" not in args.skip:
        faults(args.runs, args.backend)
    if "throughput" not in args.skip:
        throughput(args.records, args.repeat)
    if "commit" not in args.skip:
        with moto_server(args.endpoint) as endpoint:
            commit(endpoint, args.shards, args.workers)


if __name__ == "__main__":
    main()
