"""Records throughput: omnistorage.records against the fastest hand-written loops.

    python benchmarks/records.py [--records 500000] [--repeat 3] [--codecs zstd,gzip,snappy]
                                 [--no-s3] [--endpoint URL --region REGION]

Workload: N synthetic log events (timestamp, level, service, message, user
id, latency), about 120 bytes each as NDJSON, generated once before any
timing and frozen out of the garbage collector's way (``gc.freeze``).
Every contender is warmed up once, then run ``--repeat`` times, the rounds
interleaved; a contender's best (shortest) run is reported, in wall-clock
and in process CPU time (CPU time is less disturbed by other load on a
shared machine; for S3 reads wall time is what counts, the server being
another process).

WRITE (to a local folder), per codec:

- ``hand loop bN``: the anchor: ``b"\\n".join(map(orjson.dumps, batch)) +
  b"\\n"`` per batch of N records, one compress object (zstandard level 3
  with the content checksum, as ours writes; ISA-L gzip level 2 = our level
  6; python-snappy's framing compressor fed 64 KiB+ pieces), plain
  ``f.write`` of each output. Several batch sizes are measured; the fastest
  is the anchor ("best hand"). Small batches win: orjson holds about 4 KiB
  of memory per output while it is alive, so a join of 512+ records walks
  2+ MiB (out of the CPU caches, and past malloc's trim threshold, which
  costs fresh page faults per batch).
- ``ours write``: ``records.open_writer(store, key)`` then ``write(event)``
  per event; ``ours write_many``: ``write_many(batch)`` per 1000 events;
  ``ours rolling write``: ``RollingRecordWriter.write(event)`` (64 MiB
  objects, thread-safe).
- ``peer smart_open`` / ``peer fsspec`` (zstd and gzip): ``smart_open.open``
  / ``fsspec.open(compression="infer")`` of ``*.ndjson.zst|gz`` in ``"wb"``,
  fed the hand loop's batches of 1000 joined lines.

READ, per codec, from the local folder and from S3 (moto; settings from
``bash scripts/servers.sh env``):

- ``hand loop rN``: the anchor: read the file (or the S3 GET body) in N
  byte chunks (several sizes; the fastest is the anchor), decompress
  (zstandard ``decompressobj`` per frame, ISA-L ``decompressobj(31)``,
  python-snappy ``StreamDecompressor``), split on ``\\n``,
  ``list(map(orjson.loads, lines))``.
- ``ours read_batch``: ``records.open_reader(store, key).read_batch()``
  until empty; ``ours iterate``: the reader's iterator drained by
  ``collections.deque(reader, maxlen=0)``: like the hand loop's
  ``list(map(orjson.loads, lines))``, no per-record Python code of the
  caller's is timed (a caller's loop body costs the same either way).
- ``peer smart_open`` / ``peer fsspec`` (local, zstd and gzip): the hand
  loop's file opened ``"rb"`` by the peer, ``orjson.loads`` per line.

Targets (issue 8): write >= 0.95x, write_many >= 1.0x, rolling write
>= 0.9x, RecordReader over NDJSON+zstd >= 0.95x, local and S3.
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from uuid import uuid4

import orjson
import zstandard

from omnistorage import LocalBackend, Store
from omnistorage.records import RollingRecordWriter, open_reader, open_writer

BATCH = 1000
HAND_BATCHES = (64, 128, 256, 512, 2048)
HAND_READ_SIZES = (32 << 10, 64 << 10, 128 << 10, 1 << 20)
SUFFIX = {"zstd": "zst", "gzip": "gz", "snappy": "sz"}
PEERS = ("smart_open", "fsspec")  # their .zst/.gz need backports.zstd (a dependency)

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

Events = list[dict[str, Any]]


def make_events(n: int) -> Events:
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


# ---------------------------------------------------------------- hand loops


def hand_compressor(
    codec: str,
) -> Callable[[], tuple[Callable[[bytes], bytes], Callable[[], bytes]]]:
    """A factory of (compress, finish) for the hand loops."""
    if codec == "zstd":

        def new() -> tuple[Callable[[bytes], bytes], Callable[[], bytes]]:
            c = zstandard.ZstdCompressor(level=3, write_checksum=True).compressobj()
            return c.compress, c.flush

    elif codec == "gzip":
        from isal import isal_zlib

        def new() -> tuple[Callable[[bytes], bytes], Callable[[], bytes]]:
            c = isal_zlib.compressobj(2, isal_zlib.DEFLATED, 31)
            return c.compress, c.flush

    else:
        import snappy  # python-snappy: the framing format

        def new() -> tuple[Callable[[bytes], bytes], Callable[[], bytes]]:
            c = snappy.StreamCompressor()
            pending: list[bytes] = []
            size = 0

            def compress(data: bytes) -> bytes:  # it does no buffering: feed 64 KiB+
                nonlocal pending, size
                pending.append(data)
                size += len(data)
                if size < 1 << 16:
                    return b""
                out = c.add_chunk(b"".join(pending))
                pending, size = [], 0
                return bytes(out)

            def finish() -> bytes:
                return bytes(c.add_chunk(b"".join(pending))) if pending else b""

            return compress, finish

    return new


def hand_write(codec: str, batch: int) -> Callable[[Path, Events], int]:
    new = hand_compressor(codec)

    def run(path: Path, events: Events) -> int:
        dumps = orjson.dumps
        compress, finish = new()
        with open(path, "wb") as f:
            write = f.write
            for i in range(0, len(events), batch):
                write(compress(b"\n".join(map(dumps, events[i : i + batch])) + b"\n"))
            write(finish())
        return path.stat().st_size

    return run


def hand_chunks_decompressed(codec: str, raw: BinaryIO, size: int) -> Iterator[bytes]:
    """Decompressed pieces of ``raw`` (a file or an S3 body) read ``size`` bytes at a time."""
    read = raw.read
    if codec == "zstd":
        dctx = zstandard.ZstdDecompressor()
        d = dctx.decompressobj()
        while chunk := read(size):
            while chunk:
                out = d.decompress(chunk)
                if out:
                    yield out
                if not d.eof:
                    break
                chunk = d.unused_data  # the next frame (a seal is a skippable frame)
                d = dctx.decompressobj()
    elif codec == "gzip":
        from isal import isal_zlib

        g = isal_zlib.decompressobj(31)
        while chunk := read(size):
            while chunk:
                out = g.decompress(chunk)
                if out:
                    yield out
                if not g.eof:
                    break
                chunk = g.unused_data  # the next member
                g = isal_zlib.decompressobj(31)
    else:
        import snappy

        s = snappy.StreamDecompressor()
        while chunk := read(size):
            out = s.decompress(chunk)
            if out:
                yield bytes(out)


def hand_read_loop(codec: str, raw: BinaryIO, size: int) -> int:
    loads = orjson.loads
    count = 0
    rest = b""
    for piece in hand_chunks_decompressed(codec, raw, size):
        lines = (rest + piece).split(b"\n")
        rest = lines.pop()
        count += len(list(map(loads, lines)))
    if rest:
        loads(rest)
        count += 1
    return count


def hand_reader(
    codec: str, size: int, path: Path, s3: tuple[Store, Any, str] | None
) -> Callable[[], int]:
    """The hand read loop over the local file ``path``, or its S3 copy (``hand.ndjson.*``)."""
    if s3 is None:

        def local() -> int:
            with open(path, "rb") as f:
                return hand_read_loop(codec, f, size)

        return local
    _, client, bucket = s3
    key = f"hand.ndjson.{SUFFIX[codec]}"

    def remote() -> int:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            return hand_read_loop(codec, body, size)
        finally:
            body.close()

    return remote


# ---------------------------------------------------------------- ours


def ours_write(store: Store, key: str, **options: Any) -> Callable[[Path, Events], int]:
    def run(path: Path, events: Events) -> int:
        with open_writer(store, key, overwrite=True, **options) as writer:
            write = writer.write
            for event in events:
                write(event)
        return int(writer.bytes_out)

    return run


def ours_write_many(store: Store, key: str, **options: Any) -> Callable[[Path, Events], int]:
    def run(path: Path, events: Events) -> int:
        with open_writer(store, key, overwrite=True, **options) as writer:
            for i in range(0, len(events), BATCH):
                writer.write_many(events[i : i + BATCH])
        return int(writer.bytes_out)

    return run


def ours_rolling(store: Store, codec: str) -> Callable[[Path, Events], int]:
    folder = f"roll-{codec}"
    template = folder + "/{seq:06d}.ndjson." + SUFFIX[codec]

    def run(path: Path, events: Events) -> int:
        for info in store.list_files(folder, recursive=True):
            store.delete(info.path)
        with RollingRecordWriter(store, template, max_bytes=64 << 20) as out:
            write = out.write
            for event in events:
                write(event)
        return out.stats().bytes_out

    return run


def ours_read_batch(store: Store, key: str) -> int:
    count = 0
    with open_reader(store, key) as reader:
        while batch := reader.read_batch():
            count += len(batch)
    return count


def ours_iterate(store: Store, key: str) -> int:
    with open_reader(store, key) as reader:
        collections.deque(reader, maxlen=0)
        return reader.records


# ---------------------------------------------------------------- peers


def peer_open(lib: str, path: Path, mode: str) -> Any:
    """``path`` opened by a peer library, compression inferred from the suffix."""
    if lib == "smart_open":
        import smart_open

        return smart_open.open(str(path), mode)
    import fsspec

    return fsspec.open(str(path), mode, compression="infer").open()


def peer_write(lib: str, suffix: str) -> Callable[[Path, Events], int]:
    """A peer's writer fed what the hand loop feeds: orjson lines joined per batch."""

    def run(path: Path, events: Events) -> int:
        target = path.with_name(f"{path.name}-{lib}.ndjson.{suffix}")
        dumps = orjson.dumps
        with peer_open(lib, target, "wb") as f:
            for i in range(0, len(events), BATCH):
                f.write(b"\n".join(map(dumps, events[i : i + BATCH])) + b"\n")
        return target.stat().st_size

    return run


def peer_read(lib: str, path: Path) -> Callable[[], int]:
    """A peer's reader, line by line through orjson (how their users read NDJSON)."""

    def run() -> int:
        loads = orjson.loads
        with peer_open(lib, path, "rb") as f:
            return sum(1 for _ in map(loads, f))

    return run


# ---------------------------------------------------------------- timing


@dataclass
class Row:
    section: str
    codec: str
    name: str
    run: Callable[[], object]
    wall: float = float("inf")
    cpu: float = float("inf")
    anchor: bool = False
    target: float | None = None
    walls: list[float] = field(default_factory=list)


def measure(rows: list[Row], repeat: int, *, warm_up: bool = True) -> None:
    for row in rows if warm_up else ():  # warm-up: imports, caches, first allocations
        row.run()
    for round_ in range(repeat):
        order = rows[round_ % len(rows) :] + rows[: round_ % len(rows)]
        for row in order:
            gc.collect()
            cpu = time.process_time()
            start = time.perf_counter()
            row.run()
            wall = time.perf_counter() - start
            cpu = time.process_time() - cpu
            row.walls.append(wall)
            row.wall = min(row.wall, wall)
            row.cpu = min(row.cpu, cpu)


def report(rows: list[Row], records: int, cpu_ratio: bool = True) -> None:
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.section, row.codec), []).append(row)
    header = (
        f"{'section':<11} {'codec':<7} {'contender':<20} {'records/s':>11} {'wall s':>7} "
        f"{'CPU s':>6} {'x wall':>7} {'x CPU':>6}  target"
    )
    print(header)
    print("-" * len(header))
    for (section, codec), members in groups.items():
        anchors = [r for r in members if r.anchor]
        best_wall = min(r.wall for r in anchors)
        best_cpu = min(r.cpu for r in anchors)
        for row in members:
            x_wall = best_wall / row.wall
            x_cpu = best_cpu / row.cpu
            target = ""
            if row.target is not None:
                met = x_wall >= row.target or (cpu_ratio and x_cpu >= row.target)
                target = f">= {row.target:.2f}x {'met' if met else 'MISSED'}"
            print(
                f"{section:<11} {codec:<7} {row.name:<20} {records / row.wall:11,.0f} "
                f"{row.wall:7.3f} {row.cpu:6.3f} {x_wall:7.2f} {x_cpu:6.2f}  {target}"
            )
    print(
        "\nx wall / x CPU: the best hand loop's best time over the contender's (higher is "
        "faster);\n'met' when either reaches the target (CPU time is steadier on a loaded machine)."
    )


# ---------------------------------------------------------------- breakdown


def null_test_name() -> str:
    """Which test for NaN/Infinity (``null`` in orjson's output) the NDJSON encoders use."""
    from omnistorage.formats._null_check import NULL_TEST, RE_NULL_TEST

    return "re" if NULL_TEST is RE_NULL_TEST else "stringzilla"


class _Probe:
    """A stand-in for a writer, to time the pieces of a per-record ``write``."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray()

    def nothing(self, record: Any) -> None:
        pass

    def encode(self, record: Any) -> None:
        buf = self.buf
        buf += orjson.dumps(record, None, orjson.OPT_APPEND_NEWLINE)
        if len(buf) >= 1 << 16:
            self.buf = bytearray()


def breakdown(events: Events, repeat: int) -> None:
    """What each piece of the write paths costs, in ns per record (least CPU time)."""
    import threading

    from omnistorage.formats._null_check import NULL_TEST, RE_NULL_TEST

    dumps = orjson.dumps
    # Copies, so that the lines lie packed (orjson's own outputs are 4 KiB apart).
    lines = [bytes(bytearray(dumps(e))) for e in events]
    joined = [b"\n".join(lines[i : i + 512]) + b"\n" for i in range(0, len(lines), 512)]
    probe = _Probe()
    lock = threading.Lock()

    def hand_encode() -> None:
        for i in range(0, len(events), 128):
            b"\n".join(map(dumps, events[i : i + 128])) + b"\n"

    def batch_null_re() -> None:
        test, arg = RE_NULL_TEST
        for block in joined:
            test(block, arg)

    def line_null_re() -> None:
        test, arg = RE_NULL_TEST
        for line in lines:
            test(line, arg)

    def batch_null_in_use() -> None:
        test, arg = NULL_TEST
        for block in joined:
            test(block, arg)

    def line_null_in_use() -> None:
        test, arg = NULL_TEST
        for line in lines:
            test(line, arg)

    def method_call() -> None:
        call = probe.nothing
        for event in events:
            call(event)

    def method_encode_into_buffer() -> None:
        call = probe.encode
        for event in events:
            call(event)

    def lock_acquire_release() -> None:
        acquire, release = lock.acquire, lock.release
        for _ in events:
            acquire()
            release()

    def zstd_compress() -> None:
        compress = zstandard.ZstdCompressor(level=3, write_checksum=True).compressobj()
        for block in joined:
            compress.compress(block)
        compress.flush()

    pieces = [
        hand_encode,
        batch_null_re,
        line_null_re,
        batch_null_in_use,
        line_null_in_use,
        method_call,
        method_encode_into_buffer,
        lock_acquire_release,
        zstd_compress,
    ]
    print(
        "what the pieces cost (ns per record, least CPU time; null test in use: "
        f"{null_test_name()}):"
    )
    for piece in pieces:
        best = float("inf")
        for _ in range(max(3, repeat)):
            start = time.process_time()
            piece()
            best = min(best, time.process_time() - start)
        print(f"  {piece.__name__:<28} {best / len(events) * 1e9:7.0f}")
    print()


# ---------------------------------------------------------------- S3


def s3_store(endpoint: str, region: str) -> tuple[Store, Any, str]:
    import boto3
    from botocore.config import Config

    from omnistorage.backends.s3 import S3Backend

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="bench",  # moto takes any credentials
        aws_secret_access_key="bench",
        config=Config(s3={"addressing_style": "path"}),
    )
    bucket = f"omni-bench-{uuid4().hex[:16]}"
    client.create_bucket(Bucket=bucket)
    return Store(S3Backend(bucket=bucket, client=client)), client, bucket


def drop_bucket(client: Any, bucket: str) -> None:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


# ---------------------------------------------------------------- driver


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--codecs", default="zstd,gzip,snappy")
    parser.add_argument("--no-s3", action="store_true", help="skip the S3 read rows")
    parser.add_argument("--no-write", action="store_true", help="skip the write rows")
    parser.add_argument("--no-read", action="store_true", help="skip the read rows")
    parser.add_argument(
        "--breakdown", action="store_true", help="first time the pieces of the write paths"
    )
    parser.add_argument("--endpoint", default=os.environ.get("OMNI_TEST_S3_ENDPOINT"))
    parser.add_argument("--region", default=os.environ.get("OMNI_TEST_S3_REGION", "us-east-1"))
    args = parser.parse_args()
    codecs = [c for c in ("zstd", "gzip", "snappy") if c in args.codecs.split(",")]

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} (other work makes numbers noisy); "
        f"NaN test: {null_test_name()}"
    )
    events = make_events(args.records)
    gc.collect()
    gc.freeze()  # the events are old objects: keep them out of every collection
    size = sum(len(orjson.dumps(e)) + 1 for e in events)
    print(f"{len(events):,} events ({size / 1e6:.1f} MB as NDJSON), best of {args.repeat}\n")

    if args.breakdown:
        breakdown(events, args.repeat)
    base = Path(tempfile.mkdtemp(prefix="omni-records-bench-"))
    store = Store(LocalBackend(base / "store"))
    raw = base / "raw"
    raw.mkdir()
    s3: tuple[Store, Any, str] | None = None
    try:
        if not args.no_write:
            rows: list[Row] = []
            for codec in codecs:
                suffix = SUFFIX[codec]
                for batch in HAND_BATCHES:
                    run = hand_write(codec, batch)
                    out = raw / f"hand-{codec}-{batch}"
                    rows.append(
                        Row(
                            "write",
                            codec,
                            f"hand loop b{batch}",
                            lambda f=run, p=out: f(p, events),
                            anchor=True,
                        )
                    )
                w1 = ours_write(store, f"w1.ndjson.{suffix}")
                wm = ours_write_many(store, f"wm.ndjson.{suffix}")
                rl = ours_rolling(store, codec)
                rows.append(
                    Row("write", codec, "ours write", lambda f=w1: f(raw, events), target=0.95)
                )
                rows.append(
                    Row("write", codec, "ours write_many", lambda f=wm: f(raw, events), target=1.0)
                )
                rows.append(
                    Row(
                        "write",
                        codec,
                        "ours rolling write",
                        lambda f=rl: f(raw, events),
                        target=0.9,
                    )
                )
                for lib in PEERS if codec != "snappy" else ():
                    run = peer_write(lib, suffix)
                    rows.append(
                        Row("write", codec, f"peer {lib}", lambda f=run: f(raw / "peer", events))
                    )
                if codec == "zstd":  # what refusing NaN costs: the opt-in skips the check
                    w1n = ours_write(store, f"w1n.ndjson.{suffix}", nan_as_null=True)
                    wmn = ours_write_many(store, f"wmn.ndjson.{suffix}", nan_as_null=True)
                    rows.append(
                        Row("write", codec, "write nan_as_null", lambda f=w1n: f(raw, events))
                    )
                    rows.append(
                        Row("write", codec, "write_many nan_as_n", lambda f=wmn: f(raw, events))
                    )
            measure(rows, args.repeat)
            report(rows, len(events))
            print()

        if args.no_read:
            return
        # READ: one object per codec, written by each side, read back.
        places: list[tuple[str, Store]] = [("read local", store)]
        if not args.no_s3:
            if args.endpoint:
                s3 = s3_store(args.endpoint, args.region)
                places.append(("read S3", s3[0]))
            else:
                print('S3 rows skipped: no --endpoint (eval "$(bash scripts/servers.sh env)")\n')
        rows = []
        for codec in codecs:
            suffix = SUFFIX[codec]
            hand_file = raw / f"read-hand.{suffix}"
            hand_write(codec, 1024)(hand_file, events)
            for section, where in places:
                key = f"read.ndjson.{suffix}"
                ours_write_many(where, key)(raw, events)
                if where is not store:
                    assert s3 is not None
                    s3[1].upload_file(str(hand_file), s3[2], f"hand.ndjson.{suffix}")
                for read_size in HAND_READ_SIZES:
                    rows.append(
                        Row(
                            section,
                            codec,
                            f"hand loop r{read_size >> 10}k",
                            hand_reader(
                                codec, read_size, hand_file, None if where is store else s3
                            ),
                            anchor=True,
                        )
                    )
                target = 0.95 if codec == "zstd" else None
                rows.append(
                    Row(
                        section,
                        codec,
                        "ours read_batch",
                        lambda s=where, k=key: ours_read_batch(s, k),
                        target=target,
                    )
                )
                rows.append(
                    Row(section, codec, "ours iterate", lambda s=where, k=key: ours_iterate(s, k))
                )
                if where is store and codec != "snappy":  # peers read the hand loop's file
                    for lib in PEERS:
                        rows.append(Row(section, codec, f"peer {lib}", peer_read(lib, hand_file)))
        for row in rows:  # every contender must read every record
            count = row.run()
            if count != len(events):
                raise SystemExit(f"{row.section} {row.codec} {row.name}: {count} records")
        measure(rows, args.repeat, warm_up=False)  # the check above warmed them up
        report(rows, len(events))
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if s3 is not None:
            drop_bucket(s3[1], s3[2])
    print(f"\nload average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
