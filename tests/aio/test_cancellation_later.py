"""A cancelled write publishes nothing, ever: not right after the cancellation, and not
seconds later either, when the thread that was running the sync driver's call has ended.

The sync driver (local files, S3 on moto) sits behind a fault layer that makes one step
of each write slow, so the cancellation lands while a thread is inside that step: opening
the writer, writing the bytes, or publishing. Cancelled before the publish began, the
write must be absent when the ``CancelledError`` comes out and still absent 2.5 s later,
with no temp file or upload left. Cancelled while the publish runs (it cannot be
stopped), the ``CancelledError`` comes out only once it ended: the object is there,
whole, at once, and stays as it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from omnistorage import LocalBackend
from omnistorage.aio import AsyncStore, SyncBackendAdapter
from omnistorage.backends.s3 import S3Backend
from omnistorage.driver import Backend
from omnistorage.ext import Fault, FaultInjectionLayer
from tests.aio.conftest import _s3_cleaner
from tests.support.remote import s3_store

pytestmark = pytest.mark.asyncio

SLOW = 0.6
LATER = 2.5
SMALL = b"s" * 1000  # one thread hop: write_object, or the writer's buffered close
BIG = b"b" * (300 * 1024)  # past the adapter's buffer: the writer hands it over at once

Write = Callable[[AsyncStore, str], Awaitable[object]]


async def write_small_bytes(store: AsyncStore, key: str) -> None:
    await store.write(key, SMALL)


async def open_atomic_small(store: AsyncStore, key: str) -> None:
    async with store.open_atomic(key) as f:
        await f.write(SMALL)


async def open_atomic_big(store: AsyncStore, key: str) -> None:
    async with store.open_atomic(key) as f:
        await f.write(BIG)


async def overwrite_small(store: AsyncStore, key: str) -> None:
    await store.write(key, SMALL, overwrite=True)


WRITES: dict[str, tuple[Write, bytes]] = {
    "write-small": (write_small_bytes, SMALL),
    "open_atomic-small": (open_atomic_small, SMALL),
    "open_atomic-big": (open_atomic_big, BIG),
    "overwrite-small": (overwrite_small, SMALL),
}
STEPS = ("open_write", "write", "publish")


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.server)])
def sync_driver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Backend, str]]:
    if request.param == "local":
        yield LocalBackend(tmp_path / "root"), ""
    else:
        sync = s3_store(part_size=5 << 20)
        backend = sync.unwrap()
        assert isinstance(backend, S3Backend)
        yield backend, sync.root
        _s3_cleaner(backend.bucket, sync.root)()


def _slow_step(faults: FaultInjectionLayer, step: str, key: str) -> None:
    faults.add(
        Fault(step, "latency", nth=1, times=None, seconds=SLOW, key=lambda k: k.endswith(key))
    )


async def test_a_write_cancelled_while_a_thread_works_on_it_never_publishes_later(
    sync_driver: tuple[Backend, str],
) -> None:
    inner, root = sync_driver
    faults = FaultInjectionLayer(inner)
    store = AsyncStore(SyncBackendAdapter(faults), root)
    cases: list[tuple[str, str, bytes]] = []
    for name, (_, data) in WRITES.items():
        for step in STEPS:
            key = f"later/{name}-{step}.bin"
            if name.startswith("overwrite"):
                await store.write(key, b"old")
            _slow_step(faults, step, key)
            cases.append((key, step, data))
    tasks = {
        key: asyncio.create_task(WRITES[key.split("/")[1].rsplit("-", 1)[0]][0](store, key))
        for key, _, _ in cases
    }
    await asyncio.sleep(SLOW / 3)  # every task's thread is inside its slow step now
    for task in tasks.values():
        task.cancel()
    right_after: dict[str, bytes | None] = {}
    for key, task in tasks.items():
        with pytest.raises(asyncio.CancelledError):
            await task
        right_after[key] = await store.read_bytes(key) if await store.is_file(key) else None
    await asyncio.sleep(LATER)
    for key, step, data in cases:
        old = b"old" if "overwrite" in key else None
        expected = data if step == "publish" else old
        assert right_after[key] == expected, (key, "right after the cancellation")
        now = await store.read_bytes(key) if await store.is_file(key) else None
        assert now == expected, (key, f"{LATER} s after the cancellation")
    report = await store.cleanup("later", older_than=timedelta(0), dry_run=True)
    assert report.removed == (), "a cancelled write left temp files or uploads"
    await store.close()


async def test_a_write_queued_behind_a_busy_pool_and_cancelled_never_runs(
    tmp_path: Path,
) -> None:
    faults = FaultInjectionLayer(LocalBackend(tmp_path / "root"))
    faults.add_latency("exists", SLOW)
    store = AsyncStore(SyncBackendAdapter(faults, max_workers=1))
    busy = asyncio.create_task(store.is_file("busy"))  # holds the only thread
    await asyncio.sleep(0.05)
    queued = asyncio.create_task(store.write("queued.bin", SMALL))
    await asyncio.sleep(0.05)
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert await busy is False
    await asyncio.sleep(LATER / 2)
    assert not await store.is_file("queued.bin")
    await store.close()
