"""Stream application events to storage as rolling NDJSON+zstd objects, then read them back.

    python examples/stream_logs.py [FOLDER]

An "application" of three services emits synthetic log events (timestamp,
level, service, message, user id, latency) from three threads into one
RollingRecordWriter over a local store (default: a fresh temporary folder,
kept afterwards; the last line says where).
Objects rotate on size, record count and age; an idle pause shows the age
timer publishing the last events without waiting for a new one. Everything
is then read back with open_reader and checked. Runs on embedded defaults,
in a few seconds.
"""

from __future__ import annotations

import random
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from typing import Any

import omnistorage
from omnistorage.records import PublishInfo, RollingRecordWriter, open_reader

TEMPLATE = "{prefix}/{date:%Y/%m/%d}/{stream}-{seq:06d}.ndjson.zst"
SERVICES = ("api", "billing", "search")
LEVELS = ("DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR")
MESSAGES = {
    "api": ("request served", "bad request", "rate limited"),
    "billing": ("invoice created", "payment accepted", "card declined"),
    "search": ("query served", "index refreshed", "slow query"),
}
EVENTS_PER_SERVICE = 40_000


def event(service: str, rnd: random.Random) -> dict[str, Any]:
    return {
        "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
        "level": rnd.choice(LEVELS),
        "service": service,
        "message": rnd.choice(MESSAGES[service]),
        "user_id": rnd.randrange(1, 100_000),
        "latency_ms": round(rnd.expovariate(1 / 30), 2),
    }


def run_service(out: RollingRecordWriter, service: str, seed: int) -> None:
    rnd = random.Random(seed)
    for i in range(EVENTS_PER_SERVICE):
        out.write(event(service, rnd))
        if i % 10_000 == 9_999:
            time.sleep(0.01)  # bursts, as real traffic comes


def main(folder: str) -> None:
    store = omnistorage.open_store(folder)
    print(f"store: {store.native_path()}")
    published: list[PublishInfo] = []
    started = time.perf_counter()

    with RollingRecordWriter(
        store,
        TEMPLATE,
        prefix="logs",
        stream="app",
        max_bytes=4 << 20,  # encoded NDJSON bytes per object
        max_records=25_000,
        max_age=0.5,  # seconds; checked on a timer thread
        on_publish=published.append,
    ) as out:
        threads = [
            threading.Thread(target=run_service, args=(out, name, seed))
            for seed, name in enumerate(SERVICES)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        before_idle = len(published)
        time.sleep(0.8)  # idle: the timer publishes the open object on its own
        print(f"idle pause: the age timer published {len(published) - before_idle} object(s)")
        out.write(event("api", random.Random(99)))  # one last event, published by close()
    stats = out.stats()
    write_seconds = time.perf_counter() - started

    reasons: dict[str, int] = {}
    for info in published:
        reasons[info.reason] = reasons.get(info.reason, 0) + 1
    print(f"wrote {stats.records:,} events into {stats.objects} objects in {write_seconds:.2f}s")
    print(f"rotations by reason: {reasons}")
    print(
        f"encoded {stats.bytes_in / 1e6:.1f} MB -> stored {stats.bytes_out / 1e6:.2f} MB "
        f"(zstd, {stats.bytes_in / max(stats.bytes_out, 1):.1f}x)"
    )

    started = time.perf_counter()
    # The objects of this run (a folder reused from an earlier run holds more:
    # the writer skipped over their names instead of overwriting them).
    keys = [info.path for info in published]
    read_back = 0
    per_service: dict[str, int] = {}
    sample: Any = None
    for key in keys:
        with open_reader(store, key) as reader:
            for record in reader:
                read_back += 1
                per_service[record["service"]] = per_service.get(record["service"], 0) + 1
                if sample is None:
                    sample = record
    read_seconds = time.perf_counter() - started

    print(f"read back {read_back:,} events from {len(keys)} objects in {read_seconds:.2f}s")
    print(f"events per service: {dict(sorted(per_service.items()))}")
    print(f"first object: {keys[0]}")
    print(f"sample event: {sample}")
    if read_back != stats.records or len(keys) != stats.objects:
        raise SystemExit(f"mismatch: wrote {stats.records} in {stats.objects}, read {read_back}")
    print("all events accounted for")


if __name__ == "__main__":
    # The objects are kept so you can look at them (zstd -dc FILE | head).
    folder = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="omnistorage-logs-")
    main(folder)
    print(f"the objects are in {folder} (look with: zstd -dc FILE | head; delete it when done)")
