"""An asyncio service streams events into an async rolling writer, then reads them back.

    python examples/async_events.py [FOLDER]

Three handler tasks of one "service" (api, billing, search) emit synthetic events
concurrently into one AsyncRollingRecordWriter over a local folder (default: a fresh
temporary folder, kept afterwards; the last line says where). Objects rotate on record
count and on age, the age timer running on the event loop: a quiet spell shows it
publishing the last events without waiting for a new one. The service then shuts down
by cancelling its handlers, as a server does on SIGTERM: every event a handler had
written is still published. Everything is read back concurrently with the async
reader and checked. Runs on embedded defaults, in a few seconds.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from omnistorage.aio import open_store
from omnistorage.aio.records import AsyncRollingRecordWriter, PublishInfo, open_reader

TEMPLATE = "{prefix}/{date:%Y/%m/%d}/{stream}-{seq:06d}.ndjson.zst"
SERVICES = ("api", "billing", "search")
EVENTS_BEFORE_SHUTDOWN = 20_000  # per handler, at least


def event(service: str, n: int, rnd: random.Random) -> dict[str, Any]:
    return {
        "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
        "service": service,
        "n": n,
        "user_id": rnd.randrange(1, 100_000),
        "latency_ms": round(rnd.expovariate(1 / 30), 2),
    }


async def handler(
    out: AsyncRollingRecordWriter, service: str, written: Counter[str], quiet: asyncio.Event
) -> None:
    """Emits events until cancelled; ``written`` counts the acknowledged ones."""
    rnd = random.Random(service)
    n = 0
    while True:
        await out.write(event(service, n, rnd))
        n += 1
        written[service] = n
        if n % 500 == 0:
            await asyncio.sleep(0)  # other requests get their turn
        if n == 5_000:
            await quiet.wait()  # a quiet spell: the age timer publishes meanwhile


async def main(folder: str) -> None:
    store = open_store(folder)
    print(f"store: {store.native_path()}")
    published: list[PublishInfo] = []
    written: Counter[str] = Counter()
    quiet = asyncio.Event()
    async with AsyncRollingRecordWriter(
        store,
        TEMPLATE,
        prefix="events",
        stream="service",
        max_records=12_000,
        max_age=0.5,
        on_publish=published.append,
    ) as out:
        tasks = [asyncio.create_task(handler(out, s, written, quiet)) for s in SERVICES]
        while sum(written.values()) < 3 * 5_000:
            await asyncio.sleep(0.01)
        await asyncio.sleep(1.0)  # nobody writes: the timer publishes the open object
        by_age = [info for info in published if info.reason == "max_age"]
        print(f"quiet spell: the age timer published {len(by_age)} object(s) on the loop")
        quiet.set()
        while min(written[s] for s in SERVICES) < EVENTS_BEFORE_SHUTDOWN:
            await asyncio.sleep(0.01)
        for task in tasks:  # shutdown: handlers are cancelled mid-stream
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    stats = out.stats()
    print(
        f"wrote {stats.records:,} events into {stats.objects} objects "
        f"({stats.bytes_in:,} bytes encoded, {stats.bytes_out:,} bytes stored); "
        f"reasons: {dict(Counter(info.reason for info in published))}"
    )

    async def read(path: str) -> list[dict[str, Any]]:
        async with open_reader(store, path) as reader:
            return [record async for record in reader]

    paths = sorted([info.path async for info in store.list_files("events", recursive=True)])
    objects = await asyncio.gather(*(read(path) for path in paths))
    seen: dict[str, list[int]] = {s: [] for s in SERVICES}
    for records in objects:
        for record in records:
            seen[record["service"]].append(record["n"])
    for service in SERVICES:
        numbers = seen[service]
        # Every acknowledged event is there, in order, once (a write cancelled while its
        # chunk went out may have been taken too: then it is there as well).
        assert numbers == list(range(len(numbers))), f"{service}: events out of order or lost"
        assert len(numbers) in (written[service], written[service] + 1), service
    assert sum(len(records) for records in objects) == stats.published_records
    print(f"read back {stats.published_records:,} events from {len(paths)} objects: all there")
    await store.close()
    print(f"objects are in {folder}/events")


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="omni-async-events-")
    asyncio.run(main(target))
