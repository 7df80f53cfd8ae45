"""The sync engine vs rclone (Debian's 1.60, run as a subprocess), in the same run.

    .venv/bin/python benchmarks/sync.py [--repeat 3] [--files 10000] [--big 100]
                                        [--big-mib 10] [--endpoint URL] [--skip-s3]
                                        [--skip-big-s3] [--skip-rss] [--skip-local]
                                        [--download-only] [--keys 1000000]

Trees (made once in a temporary folder): ``--files`` files of 1-64 KiB in 1,000
folders, and ``--big`` files of ``--big-mib`` MiB. Without ``--endpoint`` the
script starts its own moto server (objects over 5 MiB spooled to /dev/shm) and
stops it at the end.

Measured, each contender once per round, rounds interleaved (``--repeat``); the
best and the median are printed, with the ratios ours / peer of both (the best is
the steadier figure on a shared machine, as in the other benchmarks):

- local -> local, full sync into an empty folder: ours vs ``rclone sync``; the
  practical limit is ``cp -r``.
- local -> local, no-op re-sync: ours vs ``rclone sync``; the practical limit is
  a bare ``os.scandir`` walk (with ``stat``) of both trees.
- local -> S3 (moto), full: ours vs ``rclone sync``; no-op with default options:
  ours vs rclone's default (a HEAD per object for its mtime).
- S3 -> local, full and no-op: ours vs ``rclone sync``, both reading the same
  objects (rclone's upload, with its ``mtime`` entries), with default options.
  ``--download-only`` measures only these (the upload is rclone's, untimed), for
  both trees.
- The big tree to S3 twice: with the S3 backend's defaults (8 MiB parts, 4 in
  flight: a file of known size up to 40 MiB goes up in one PutObject, as
  rclone's 200 MiB upload cutoff sends it) and with a part size above the file
  size (one part each).
- RSS growth of a 1M-key memory -> memory sync (1 % copied, updated and deleted),
  in a fresh interpreter (``VmHWM`` after ``clear_refs``).

Targets (issue 10): full local->local <= 1.0x rclone; no-op local->local <= 1.0x;
local->S3 full <= 1.0x; local->S3 no-op <= 0.15x rclone's default; RSS < 100 MiB.
Issue 26: S3->local full <= 1.0x rclone.
rclone's own numbers include its process start (about 10 ms, printed); ours are
library calls in this process. The machine is shared: ``uptime`` is printed
before and after; compare ratios measured in the same run only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3 import moto_server  # one private moto launcher for every benchmark

from omnistorage import LocalBackend, Store
from omnistorage.backends.s3 import S3Backend
from omnistorage.sync import sync

MiB = 1 << 20
BUCKET = "sync-bench"
KEY_ID = "testing"
SECRET = "testing"
REGION = "us-east-1"

Round = tuple[Callable[[], None], Callable[[], object]]  # (untimed set-up, timed run)


# ---------------------------------------------------------------- plumbing


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def measure(repeat: int, contenders: dict[str, Round]) -> dict[str, list[float]]:
    """Seconds of each contender's run per round (set-up untimed, rounds interleaved)."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, (setup, run) in contenders.items():
            setup()
            os.sync()  # dirty pages of the set-up are not the run's to write
            started = time.perf_counter()
            result = run()
            times[name].append(time.perf_counter() - started)
            ok = getattr(result, "ok", True)
            if not ok:
                raise RuntimeError(f"{name} failed: {getattr(result, 'errors', result)}")
    return times


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str]] = []

    def add(
        self,
        case: str,
        ours: list[float],
        peer_name: str,
        peer: list[float] | None,
        target: str = "",
    ) -> None:
        cell = f"{min(ours):.3f} (median {statistics.median(ours):.3f})"
        if peer is None:
            self.rows.append((case, cell, "", "", target))
            return
        other = f"{peer_name} {min(peer):.3f} (median {statistics.median(peer):.3f})"
        best = min(ours) / min(peer)
        ratio = f"{best:.2f}x / {statistics.median(ours) / statistics.median(peer):.2f}x"
        self.rows.append((case, cell, other, ratio, target))

    def print(self) -> None:
        header = (
            "case",
            "ours s best (median)",
            "peer s best (median)",
            "ratio best / median",
            "target",
        )
        widths = [max(len(r[i]) for r in [header, *self.rows]) for i in range(5)]
        for row in [header, tuple("-" * w for w in widths), *self.rows]:
            print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def rclone_env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
    env.pop("AWS_CA_BUNDLE", None)  # rclone refuses a CA bundle with its own transport
    env.update(
        RCLONE_CONFIG=os.devnull,
        RCLONE_CONFIG_MOTO_TYPE="s3",
        RCLONE_CONFIG_MOTO_PROVIDER="Other",
        RCLONE_CONFIG_MOTO_ENDPOINT=endpoint,
        RCLONE_CONFIG_MOTO_ACCESS_KEY_ID=KEY_ID,
        RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY=SECRET,
        RCLONE_CONFIG_MOTO_REGION=REGION,
        RCLONE_CONFIG_MOTO_FORCE_PATH_STYLE="true",
    )
    return env


def rclone(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(["rclone", *args], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"rclone {' '.join(args)} failed: {result.stderr[-2000:]}")


# ---------------------------------------------------------------- trees


def make_small_tree(root: Path, files: int) -> None:
    rnd = random.Random(1)
    for i in range(files):
        folder = root / f"d{i % 100:02d}" / f"s{(i // 100) % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:06d}.bin").write_bytes(rnd.randbytes(rnd.randint(1024, 64 * 1024)))


def make_big_tree(root: Path, files: int, mib: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (root / f"big{i:03d}.bin").write_bytes(os.urandom(mib * MiB))


def scandir_walk(*roots: Path) -> int:
    count = 0
    stack = [str(r) for r in roots]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    entry.stat(follow_symlinks=False)
                    count += 1
    return count


def local(path: Path) -> Store:
    return Store(LocalBackend(path))


# ---------------------------------------------------------------- cases


def local_cases(table: Table, tree: Path, work: Path, label: str, repeat: int) -> None:
    env = rclone_env("http://unused")
    ours_dst, rclone_dst, cp_dst = work / "ours", work / "rclone", work / "cp"

    def wipe(path: Path) -> Callable[[], None]:
        return lambda: shutil.rmtree(path, ignore_errors=True)

    full = measure(
        repeat,
        {
            "ours": (wipe(ours_dst), lambda: sync(local(tree), local(ours_dst))),
            "rclone": (wipe(rclone_dst), lambda: rclone(env, "sync", str(tree), str(rclone_dst))),
            "cp": (
                wipe(cp_dst),
                lambda: subprocess.run(["cp", "-r", str(tree), str(cp_dst)], check=True),
            ),
        },
    )
    table.add(f"{label} local->local full", full["ours"], "rclone", full["rclone"], "<= 1.0x")
    table.add(f"{label} local->local full, limit", full["ours"], "cp -r", full["cp"])
    noop = measure(
        repeat,
        {
            "ours": (lambda: None, lambda: sync(local(tree), local(ours_dst))),
            "rclone": (lambda: None, lambda: rclone(env, "sync", str(tree), str(rclone_dst))),
            "walk": (lambda: None, lambda: scandir_walk(tree, ours_dst)),
        },
    )
    table.add(f"{label} local->local no-op", noop["ours"], "rclone", noop["rclone"], "<= 1.0x")
    table.add(f"{label} local->local no-op, limit", noop["ours"], "scandir", noop["walk"])
    for path in (ours_dst, rclone_dst, cp_dst):
        shutil.rmtree(path, ignore_errors=True)


def s3_cases(
    table: Table,
    tree: Path,
    work: Path,
    label: str,
    endpoint: str,
    repeat: int,
    part_mib: int | None = None,
    *,
    uploads: bool = True,
) -> None:
    env = rclone_env(endpoint)
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    with suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=BUCKET)
    backend = S3Backend(
        bucket=BUCKET,
        endpoint_url=endpoint,
        region=REGION,
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
        **({"part_size": part_mib * MiB} if part_mib else {}),
    )
    if part_mib:
        label += f" (part_size {part_mib} MiB)"
    prefixes = {"ours": f"ours-{uuid.uuid4().hex}", "rclone": f"rclone-{uuid.uuid4().hex}"}

    def purge(prefix: str) -> None:
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=BUCKET, Prefix=prefix + "/"):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", ())]
            if keys:
                client.delete_objects(Bucket=BUCKET, Delete={"Objects": keys, "Quiet": True})

    def s3(prefix: str) -> Store:
        return Store(backend, prefix)

    if uploads:
        upload_cases(table, tree, label, env, prefixes, purge, s3, repeat)
    else:  # the objects to download, uploaded once by rclone (untimed)
        rclone(env, "sync", str(tree), f"moto:{BUCKET}/{prefixes['rclone']}")
    # Downloads: both tools read the same objects (rclone's upload, its mtime entries).
    source = f"moto:{BUCKET}/{prefixes['rclone']}"
    ours_back, rclone_back = work / "back-ours", work / "back-rclone"
    down = measure(
        repeat,
        {
            "ours": (
                lambda: shutil.rmtree(ours_back, ignore_errors=True),
                lambda: sync(s3(prefixes["rclone"]), local(ours_back)),
            ),
            "rclone": (
                lambda: shutil.rmtree(rclone_back, ignore_errors=True),
                lambda: rclone(env, "sync", source, str(rclone_back)),
            ),
        },
    )
    table.add(f"{label} S3->local full", down["ours"], "rclone", down["rclone"], "<= 1.0x")
    again = measure(
        repeat,
        {
            "ours": (lambda: None, lambda: sync(s3(prefixes["rclone"]), local(ours_back))),
            "rclone": (lambda: None, lambda: rclone(env, "sync", source, str(rclone_back))),
        },
    )
    table.add(f"{label} S3->local no-op", again["ours"], "rclone", again["rclone"], "reported")
    for prefix in prefixes.values():
        purge(prefix)
    for path in (ours_back, rclone_back):
        shutil.rmtree(path, ignore_errors=True)
    backend.close()


def upload_cases(
    table: Table,
    tree: Path,
    label: str,
    env: dict[str, str],
    prefixes: dict[str, str],
    purge: Callable[[str], None],
    s3: Callable[[str], Store],
    repeat: int,
) -> None:
    full = measure(
        repeat,
        {
            "ours": (
                lambda: purge(prefixes["ours"]),
                lambda: sync(local(tree), s3(prefixes["ours"])),
            ),
            "rclone": (
                lambda: purge(prefixes["rclone"]),
                lambda: rclone(env, "sync", str(tree), f"moto:{BUCKET}/{prefixes['rclone']}"),
            ),
        },
    )
    table.add(f"{label} local->S3 full", full["ours"], "rclone", full["rclone"], "<= 1.0x")
    noop = measure(
        repeat,
        {
            "ours": (lambda: None, lambda: sync(local(tree), s3(prefixes["ours"]))),
            "rclone": (
                lambda: None,
                lambda: rclone(env, "sync", str(tree), f"moto:{BUCKET}/{prefixes['rclone']}"),
            ),
        },
    )
    table.add(
        f"{label} local->S3 no-op (defaults)", noop["ours"], "rclone", noop["rclone"], "<= 0.15x"
    )


RSS_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from datetime import UTC, datetime
    from omnistorage import MemoryBackend, Store
    from omnistorage.driver import WriteOptions
    from omnistorage.sync import sync

    n = int(sys.argv[1])
    options = WriteOptions(overwrite=True, modified=datetime(2024, 1, 1, tzinfo=UTC))
    a, b = MemoryBackend(), MemoryBackend()

    def put(backend, key, data):
        writer = backend.new_writer(key, options)
        writer.write(data)
        writer.close()

    for i in range(n):
        key = f"d{i % 1000:03d}/f{i:07d}"
        put(a, key, str(i).encode())
        if i % 100 != 1:
            put(b, key, str(i).encode() if i % 100 else b"changed")
        if i % 100 == 2:
            put(b, f"extra/{i:07d}", b"x")

    def status(name):
        for line in open("/proc/self/status"):
            if line.startswith(name):
                return int(line.split()[1]) * 1024

    base = status("VmRSS:")
    open("/proc/self/clear_refs", "w").write("5")
    started = time.monotonic()
    report = sync(Store(a), Store(b), record_paths=False)
    print(json.dumps({"seconds": time.monotonic() - started,
                      "growth": status("VmHWM:") - base, "ok": report.ok}))
    """
)


def rss_case(keys: int) -> str:
    result = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, str(keys)], capture_output=True, text=True, check=True
    )
    data = json.loads(result.stdout)
    return (
        f"{keys:,}-key memory->memory sync: RSS growth {data['growth'] / MiB:.1f} MiB "
        f"(target < 100 MiB), {data['seconds']:.1f} s, ok={data['ok']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=100)
    parser.add_argument("--big-mib", type=int, default=10)
    parser.add_argument("--endpoint")
    parser.add_argument("--skip-s3", action="store_true")
    parser.add_argument("--skip-big-s3", action="store_true")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument("--download-only", action="store_true")
    parser.add_argument("--keys", type=int, default=1_000_000)
    args = parser.parse_args()

    print(f"load before: {uptime()}")
    started = time.perf_counter()
    subprocess.run(["rclone", "version"], capture_output=True, check=True)
    print(f"rclone process start (rclone version): {time.perf_counter() - started:.3f} s")
    table = Table()
    with tempfile.TemporaryDirectory(prefix="omni-sync-bench-") as tmp:
        work = Path(tmp)
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")  # our hash cache, kept private
        small, big = work / "small", work / "big"
        make_small_tree(small, args.files)
        make_big_tree(big, args.big, args.big_mib)
        small_label = f"{args.files} x 1-64 KiB"
        big_label = f"{args.big} x {args.big_mib} MiB"
        if not args.skip_local:
            local_cases(table, small, work, small_label, args.repeat)
            local_cases(table, big, work, big_label, args.repeat)
        if not args.skip_s3:
            uploads = not args.download_only
            with moto_server(args.endpoint) as endpoint:
                s3_cases(table, small, work, small_label, endpoint, args.repeat, uploads=uploads)
                if args.download_only:
                    if not args.skip_big_s3:
                        s3_cases(table, big, work, big_label, endpoint, args.repeat, uploads=False)
                elif not args.skip_big_s3:
                    s3_cases(table, big, work, big_label, endpoint, args.repeat)
                    # Objects in one part, as rclone's 200 MiB upload cutoff makes them.
                    part = args.big_mib + 6
                    s3_cases(table, big, work, big_label, endpoint, args.repeat, part)
    table.print()
    if not args.skip_rss:
        print(rss_case(args.keys))
    print(f"load after: {uptime()}")


if __name__ == "__main__":
    main()
