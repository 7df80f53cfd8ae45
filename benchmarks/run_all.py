"""Every row of issue 25's speed table, each with its peer measured in the same run.

    eval "$(bash scripts/servers.sh env)"
    .venv/bin/python benchmarks/run_all.py [--only records,sync,upload,list,mirror,layers,memory]
                                           [--repeat 3] [--records 200000] [--files 5000]
                                           [--big 100] [--big-mib 10] [--objects 10000]
                                           [--mirror-mib 128] [--endpoint URL]

One command, one table: for each row the best of ``--repeat`` rounds of ours
and of the peer (the rounds interleaved, so a slow spell of the shared
machine falls on both), the spread (slowest / best) of each, the ratio of the
bests, the target and whether it is met. The cases are the existing
benchmark scripts' own functions (``records.py``, ``sync.py``, ``s3.py``,
``multi.py``), run smaller so the whole table takes a few minutes:

- records: ``write()``, ``write_many()`` and the rolling writer (NDJSON+zstd)
  vs the best hand loop (orjson + one zstandard compressobj, several batch
  sizes, the fastest is the peer); ratio = hand time / our time (>= target).
  Also ``write()`` with ``threads=0`` (compression on the caller's thread).
- sync: ``--files`` small files local->local, full and no-op, vs ``rclone
  sync``, on the disk and again in ``/dev/shm`` (tmpfs: the same system calls
  without the disk's writeback, which swings both tools by 100 % and more);
  ``--big`` x ``--big-mib`` MiB local->S3 full vs ``rclone sync``;
  ratio = our time / rclone's (<= target).
- list: ``list_files(recursive=True)`` of ``--objects`` keys on S3 vs the
  boto3 ListObjectsV2 paginator, and obstore's ``list`` vs the same paginator;
  ratio = paginator time / lister time (target: ours >= obstore's). Twice:
  against moto, and behind a 20 ms link that replays moto's answers
  (``_replay.py``), where no server time hides the clients' own.
- mirror: one ``--mirror-mib`` MiB stream into local + S3 + SFTP (the loopback
  servers) vs the slowest of the three alone; ratio = mirror / slowest.
- layers: ``read_bytes`` of 4 KiB local files through
  ``RetryLayer(MetricsLayer(local))`` vs bare local; ratio = layered / bare.
- memory: the peak RSS growth of a ``--keys`` memory->memory sync per key listed on
  either side (target <= 150 B; rclone holds 0.5-1 KB per object), not a ratio.

S3 rows use a private moto server started and stopped by this script (the
shared one also serves other test runs), or ``--endpoint URL``. The obstore
peer comes from the ``bench`` extra (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import records as rec  # noqa: E402 - the benchmark scripts, by path
import s3 as s3bench  # noqa: E402
import sync as syncbench  # noqa: E402

from omnistorage import LocalBackend, Store  # noqa: E402
from omnistorage.sync import sync  # noqa: E402

CASES = ("records", "sync", "upload", "list", "mirror", "layers", "memory")


@dataclass
class Result:
    case: str
    ours: list[float]
    peer_name: str
    peer: list[float]
    target: float
    higher_is_better: bool  # ratio = peer / ours (speed) rather than ours / peer (time)
    note: str = ""

    @property
    def ratio(self) -> float:
        if self.higher_is_better:
            return min(self.peer) / min(self.ours)
        return min(self.ours) / min(self.peer)

    @property
    def met(self) -> bool:
        if self.higher_is_better:
            return self.ratio >= self.target
        return self.ratio <= self.target


def spread(times: list[float]) -> str:
    return f"{min(times):.3f}s ±{(max(times) / min(times) - 1) * 100:.0f}%"


def print_table(results: list[Result]) -> None:
    header = ("row", "ours best ±spread", "peer", "peer best ±spread", "ratio", "target", "")
    rows = [header]
    for r in results:
        sign = ">=" if r.higher_is_better else "<="
        rows.append(
            (
                r.case,
                spread(r.ours),
                r.peer_name,
                spread(r.peer),
                f"{r.ratio:.2f}x",
                f"{sign} {r.target:.2f}x",
                ("met" if r.met else "MISSED") + (f" ({r.note})" if r.note else ""),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for n, row in enumerate(rows):
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("-|-".join("-" * w for w in widths))


def interleave(repeat: int, runs: dict[str, tuple[Callable[[], object], Callable[[], object]]]):
    """Seconds per round of each (set-up, run) pair, rounds interleaved, set-up untimed."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(repeat):
        names = list(runs)
        names = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in names:
            setup, run = runs[name]
            setup()
            gc.collect()
            start = time.perf_counter()
            result = run()
            times[name].append(time.perf_counter() - start)
            if not getattr(result, "ok", True):
                raise RuntimeError(f"{name} failed: {getattr(result, 'errors', result)}")
    return times


# ---------------------------------------------------------------- records


def records_case(args: argparse.Namespace, work: Path) -> Iterator[Result]:
    events = rec.make_events(args.records)
    gc.collect()
    gc.freeze()
    store = Store(LocalBackend(work / "records"))
    raw = work / "records-raw"
    raw.mkdir()
    rows: list[rec.Row] = []
    for batch in rec.HAND_BATCHES:
        run = rec.hand_write("zstd", batch)
        out = raw / f"hand-{batch}"
        rows.append(
            rec.Row(
                "write", "zstd", f"hand b{batch}", lambda f=run, p=out: f(p, events), anchor=True
            )
        )
    ours = {
        "write()": rec.ours_write(store, "w1.ndjson.zst"),
        "write() threads=0": rec.ours_write(store, "w0.ndjson.zst", threads=0),
        "write_many()": rec.ours_write_many(store, "wm.ndjson.zst"),
        "rolling write()": rec.ours_rolling(store, "zstd"),
    }
    for name, run in ours.items():
        rows.append(rec.Row("write", "zstd", name, lambda f=run: f(raw, events)))
    caller: dict[str, float] = {}  # least CPU time of the calling thread, per row
    for row in rows:
        row.run = thread_timed(row.run, row.name, caller)
    rec.measure(rows, args.repeat)
    gc.unfreeze()
    hand = min((r for r in rows if r.anchor), key=lambda r: r.wall)
    targets = {
        "write()": 1.0,
        "write() threads=0": 1.0,
        "write_many()": 1.1,
        "rolling write()": 0.95,
    }
    for row in rows:
        if not row.anchor:
            yield Result(
                f"records {row.name} vs best hand loop ({args.records:,} events)",
                row.walls,
                hand.name,
                hand.walls,
                targets[row.name],
                True,
                f"caller-thread CPU {caller[hand.name] / caller[row.name]:.2f}x the hand loop's",
            )


def thread_timed(
    run: Callable[[], object], name: str, best: dict[str, float]
) -> Callable[[], object]:
    """``run``, keeping in ``best[name]`` its least CPU time on the calling thread: the
    critical path of a writer that compresses on a worker, once a core is free for it."""

    def timed() -> object:
        start = time.thread_time()
        result = run()
        spent = time.thread_time() - start
        best[name] = min(best.get(name, spent), spent)
        return result

    return timed


# ---------------------------------------------------------------- sync


def sync_case(args: argparse.Namespace, work: Path) -> Iterator[Result]:
    """The small-file rows twice: on this machine's disk (whose writeback swings both tools
    by 100 % and more between rounds) and in ``/dev/shm`` (tmpfs: the same system calls
    without the disk, so the figures are the tools' own costs)."""
    yield from small_file_rows(args, work, "disk")
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(prefix="omni-run-all-", dir=shm) as tmp:
            yield from small_file_rows(args, Path(tmp), "tmpfs")


def small_file_rows(args: argparse.Namespace, work: Path, where: str) -> Iterator[Result]:
    tree = work / "small"
    syncbench.make_small_tree(tree, args.files)
    env = syncbench.rclone_env("http://unused")
    ours_dst, rclone_dst = work / "small-ours", work / "small-rclone"

    def wipe(path: Path) -> Callable[[], None]:
        return lambda: (shutil.rmtree(path, ignore_errors=True), os.sync())

    def ours() -> object:
        return sync(Store(LocalBackend(tree)), Store(LocalBackend(ours_dst)))

    def theirs() -> object:
        return syncbench.rclone(env, "sync", str(tree), str(rclone_dst))

    full = interleave(
        args.repeat, {"ours": (wipe(ours_dst), ours), "rclone": (wipe(rclone_dst), theirs)}
    )
    label = f"sync {args.files:,} small files local->local ({where})"
    yield Result(f"{label}, full", full["ours"], "rclone sync", full["rclone"], 1.0, False)
    nothing = lambda: None  # noqa: E731
    noop = interleave(args.repeat, {"ours": (nothing, ours), "rclone": (nothing, theirs)})
    yield Result(f"{label}, no-op", noop["ours"], "rclone sync", noop["rclone"], 0.8, False)


def s3_client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=syncbench.REGION,
        aws_access_key_id=syncbench.KEY_ID,
        aws_secret_access_key=syncbench.SECRET,
    )


def s3_backend(endpoint: str, bucket: str, **options: Any) -> Any:
    from omnistorage.backends.s3 import S3Backend

    return S3Backend(
        bucket=bucket,
        endpoint_url=endpoint,
        region=syncbench.REGION,
        access_key_id=syncbench.KEY_ID,
        secret_access_key=syncbench.SECRET,
        **options,
    )


def purge(client: Any, bucket: str, prefix: str = "") -> None:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def upload_case(args: argparse.Namespace, work: Path, endpoint: str) -> Iterator[Result]:
    tree = work / "big"
    syncbench.make_big_tree(tree, args.big, args.big_mib)
    client = s3_client(endpoint)
    bucket = f"run-all-{os.getpid()}"
    client.create_bucket(Bucket=bucket)
    backend = s3_backend(endpoint, bucket)
    env = syncbench.rclone_env(endpoint)
    try:
        full = interleave(
            args.repeat,
            {
                "ours": (
                    lambda: purge(client, bucket, "ours/"),
                    lambda: sync(Store(LocalBackend(tree)), Store(backend, "ours")),
                ),
                "rclone": (
                    lambda: purge(client, bucket, "rclone/"),
                    lambda: syncbench.rclone(env, "sync", str(tree), f"moto:{bucket}/rclone"),
                ),
            },
        )
        yield Result(
            f"sync {args.big} x {args.big_mib} MiB local->S3 (moto), full",
            full["ours"],
            "rclone sync",
            full["rclone"],
            0.9,
            False,
        )
    finally:
        purge(client, bucket)
        client.delete_bucket(Bucket=bucket)
        backend.close()
        shutil.rmtree(tree, ignore_errors=True)


def list_case(args: argparse.Namespace, endpoint: str) -> Iterator[Result]:
    """The LIST row twice: against moto on loopback (whose own CPU, about 140 ms a page on
    the same two cores, is most of the time), and behind a 20 ms link that replays moto's
    answers (``_replay.py``: no server time, so the clients' own costs show)."""
    try:
        import obstore  # noqa: F401 - only to know it is there
    except ImportError:
        print("list: obstore is not installed (pip install -e '.[bench]'): row skipped")
        return
    from _replay import replay_link

    client = s3_client(endpoint)
    bucket = f"run-all-list-{os.getpid()}"
    client.create_bucket(Bucket=bucket)
    n = args.objects
    try:
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda i: client.put_object(Bucket=bucket, Key=f"many/{i:06d}", Body=b""),
                    range(n),
                )
            )
        yield list_row(args, endpoint, bucket, f"S3 LIST {n:,} keys (moto) vs boto3 paginator")
        with replay_link(endpoint, 0.02) as link:
            yield list_row(
                args,
                link,
                bucket,
                f"S3 LIST {n:,} keys behind a 20 ms link (replayed) vs boto3 paginator",
                replayed=True,
            )
    finally:
        purge(client, bucket)
        client.delete_bucket(Bucket=bucket)


def list_row(
    args: argparse.Namespace, endpoint: str, bucket: str, label: str, *, replayed: bool = False
) -> Result:
    """``replayed``: ``endpoint`` is a replay link, whose timed rounds must all be replayed."""
    import obstore
    from _replay import stats as replay_stats
    from obstore.store import S3Store

    n = args.objects
    client = s3_client(endpoint)
    store = Store(s3_backend(endpoint, bucket))
    obs = S3Store(
        bucket,
        endpoint=endpoint,
        region=syncbench.REGION,
        access_key_id=syncbench.KEY_ID,
        secret_access_key=syncbench.SECRET,
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )

    def boto() -> None:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="many/")
        assert sum(len(p.get("Contents", [])) for p in pages) == n

    def ours() -> None:
        assert sum(1 for _ in store.list_files("many", recursive=True)) == n

    def obstore_list() -> None:
        assert sum(len(b) for b in obstore.list(obs, "many/", chunk_size=1000)) == n

    runs = {"boto3": boto, "ours": ours, "obstore": obstore_list}
    for run in runs.values():
        run()  # untimed: connections opened, and the link's recording made
    recorded = replay_stats(endpoint)[0] if replayed else 0
    nothing = lambda: None  # noqa: E731
    try:
        t = interleave(
            max(args.repeat, 5),  # short rounds, moto swings by +-20 %: more of them
            {name: (nothing, run) for name, run in runs.items()},
        )
    finally:
        store.close()
    if replayed and replay_stats(endpoint)[0] != recorded:
        raise RuntimeError("a timed request was not in the link's recording: it went to moto")
    obstore_ratio = min(t["boto3"]) / min(t["obstore"])
    return Result(
        label,
        t["ours"],
        "boto3 paginator",
        t["boto3"],
        obstore_ratio,
        True,
        f"target = obstore's {obstore_ratio:.2f}x in this run",
    )


# ---------------------------------------------------------------- mirror, layers


def mirror_case(args: argparse.Namespace) -> Iterator[Result]:
    import multi

    from omnistorage.multi import ALL, MirrorBackend
    from tests.support.remote import s3_store, sftp_store, wipe

    size = args.mirror_mib << 20
    chunk = os.urandom(1 << 20)
    with tempfile.TemporaryDirectory(prefix="omni-run-all-mirror-") as tmp:
        local = Store(LocalBackend(Path(tmp) / "local"))
        s3 = s3_store(part_size=16 << 20, max_concurrency=4)
        sftp = sftp_store()
        mirror = Store(MirrorBackend([local, s3, sftp], policy=ALL, queue_chunks=4))
        stores = {"local": local, "s3": s3, "sftp": sftp, "mirror": mirror}
        times: dict[str, list[float]] = {name: [] for name in stores}
        try:
            for i in range(args.repeat):
                for name, store in stores.items():
                    times[name].append(multi.stream(store, f"{name}-{i}.bin", size, chunk)[0])
                    store.delete(f"{name}-{i}.bin", missing_ok=True)
        finally:
            wipe(s3)
            wipe(sftp)
    slowest = max(("local", "s3", "sftp"), key=lambda name: min(times[name]))
    yield Result(
        f"mirror local+S3+SFTP, {args.mirror_mib} MiB stream",
        times["mirror"],
        f"slowest alone ({slowest})",
        times[slowest],
        1.15,
        False,
        "CPU-bound emulators share the 2 cores",
    )
    yield from throttled_mirror_case(args, size, chunk)


LINKS = {"fast": 400e6, "medium": 200e6, "slow": 100e6}
"""The throttled mirror row's three destinations: bytes per second of each link."""


def throttled_mirror_case(args: argparse.Namespace, size: int, chunk: bytes) -> Iterator[Result]:
    """The fan-out itself: three local folders, each behind a link (``LINKS``, 20 ms per
    request) that sleeps as network I/O does, so no emulator shares the cores."""
    import multi
    from _latency import ThrottledLayer

    from omnistorage.multi import ALL, MirrorBackend

    with tempfile.TemporaryDirectory(prefix="omni-run-all-links-") as tmp:
        stores = {
            name: Store(ThrottledLayer(LocalBackend(Path(tmp) / name), speed))
            for name, speed in LINKS.items()
        }
        stores["mirror"] = Store(MirrorBackend(list(stores.values()), policy=ALL, queue_chunks=4))
        times: dict[str, list[float]] = {name: [] for name in stores}
        for i in range(args.repeat):
            for name, store in stores.items():
                times[name].append(multi.stream(store, f"{name}-{i}.bin", size, chunk)[0])
                store.delete(f"{name}-{i}.bin", missing_ok=True)
    yield Result(
        f"mirror of 3 links (400/200/100 MB/s, 20 ms), {args.mirror_mib} MiB stream",
        times["mirror"],
        "slowest alone (100 MB/s)",
        times["slow"],
        1.15,
        False,
    )


def layers_case(args: argparse.Namespace, work: Path) -> Iterator[Result]:
    from omnistorage.ext import MetricsLayer, RetryLayer

    root = work / "layers"
    bare = Store(LocalBackend(root))
    layered = Store(RetryLayer(MetricsLayer(LocalBackend(root))))
    keys = [f"k{i:04d}" for i in range(2000)]
    for key in keys:
        bare.write(key, os.urandom(4096))

    def reads(store: Store) -> Callable[[], None]:
        read = store.read_bytes
        return lambda: [read(key) for key in keys] and None

    nothing = lambda: None  # noqa: E731
    t = interleave(
        args.repeat * 3, {"bare": (nothing, reads(bare)), "layered": (nothing, reads(layered))}
    )
    yield Result(
        "RetryLayer(MetricsLayer(local)) read_bytes 2,000 x 4 KiB",
        t["layered"],
        "bare local",
        t["bare"],
        1.15,
        False,
    )


def memory_case(args: argparse.Namespace) -> str:
    """The memory a sync holds per listed key: a ``--keys`` memory->memory sync in a fresh
    process (``sync.py``'s RSS case: the peak RSS growth over the stores' own memory),
    divided by the keys listed on both sides."""
    result = subprocess.run(
        [sys.executable, "-c", syncbench.RSS_SCRIPT, str(args.keys)],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(result.stdout)
    growth = float(data["growth"])
    per_key = growth / (2 * args.keys)
    verdict = "met" if per_key <= 150 and data["ok"] else "MISSED"
    return (
        f"listing memory, {args.keys:,}-key sync (both sides listed and held): peak RSS growth "
        f"{growth / 2**20:.1f} MiB = {per_key:.0f} B per listed key, "
        f"{2 * per_key:.0f} B per key of one side (target <= 150 B): {verdict}"
    )


# ---------------------------------------------------------------- driver


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", default=",".join(CASES), help=f"a subset of {','.join(CASES)}")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--big", type=int, default=100)
    parser.add_argument("--big-mib", type=int, default=10)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--mirror-mib", type=int, default=128)
    parser.add_argument("--keys", type=int, default=1_000_000, help="keys of the memory row")
    parser.add_argument("--endpoint", default=None, help="an S3 endpoint (else a private moto)")
    args = parser.parse_args()
    only = args.only.split(",")
    unknown = set(only) - set(CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}; choose from {','.join(CASES)}")
    uptime = lambda: subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()  # noqa: E731
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; before: {uptime()}")
    print(f"best of {args.repeat} (rounds interleaved); spread = slowest / best - 1\n")
    started = time.perf_counter()
    results: list[Result] = []
    lines: list[str] = []
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="omni-run-all-")))
        endpoint = ""
        if {"upload", "list"} & set(only):
            endpoint = stack.enter_context(s3bench.moto_server(args.endpoint))
        for case in CASES:
            if case not in only:
                continue
            t0 = time.perf_counter()
            if case == "records":
                found = records_case(args, work)
            elif case == "sync":
                found = sync_case(args, work)
            elif case == "upload":
                found = upload_case(args, work, endpoint)
            elif case == "list":
                found = list_case(args, endpoint)
            elif case == "mirror":
                found = mirror_case(args)
            elif case == "memory":
                lines.append(memory_case(args))
                found = iter(())
            else:
                found = layers_case(args, work)
            results.extend(found)
            print(f"[{case}: {time.perf_counter() - t0:.0f} s]", file=sys.stderr)
    if results:
        print_table(results)
    for line in lines:
        print(line)
    with suppress(Exception):
        print(f"\n{time.perf_counter() - started:.0f} s in all; after: {uptime()}")


if __name__ == "__main__":
    main()
