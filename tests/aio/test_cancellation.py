"""Cancelling a write at any of its await points publishes nothing, on every backend.

:class:`PausingBackend` stops the write at one await point (each call the store awaits
from its driver, before the call is passed on or just after it returned); the test
cancels the task there. Once the ``CancelledError`` has come out, the abort has run:
no object, no temp file or incomplete upload left. The one exception is a cancellation
that lands after the publish itself returned: the object is then there, whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest

from omnistorage import LocalBackend
from omnistorage.aio import AsyncBackend, AsyncStore, SyncBackendAdapter
from omnistorage.ext import FaultInjectionLayer
from tests.aio._pausing import PausingBackend, When

pytestmark = pytest.mark.asyncio

CHUNK = b"\x5a" * (300 * 1024)
WHOLE = CHUNK * 3
PUBLISHING = {"close", "write_object"}


async def _chunks() -> AsyncIterator[bytes]:
    for _ in range(3):
        yield CHUNK


async def with_open_atomic(store: AsyncStore, key: str) -> None:
    async with store.open_atomic(key) as f:
        for _ in range(3):
            await f.write(CHUNK)


async def with_write_of_bytes(store: AsyncStore, key: str) -> None:
    await store.write(key, WHOLE)


async def with_write_of_an_async_iterable(store: AsyncStore, key: str) -> None:
    await store.write(key, _chunks())


async def with_write_over_an_existing_object(store: AsyncStore, key: str) -> None:
    await store.write(key, _chunks(), overwrite=True)


WRITES: dict[str, Callable[[AsyncStore, str], Awaitable[None]]] = {
    "open_atomic": with_open_atomic,
    "write-bytes": with_write_of_bytes,
    "write-async-iterable": with_write_of_an_async_iterable,
    "overwrite": with_write_over_an_existing_object,
}


async def count_points(driver: AsyncBackend, root: str, write: str) -> list[str]:
    layer = PausingBackend(driver)
    store = AsyncStore(layer, root)
    if write == "overwrite":
        await store.write("probe.bin", b"old", overwrite=True)
        layer.points.clear()
    await WRITES[write](store, "probe.bin")
    points = list(layer.points)
    await store.delete("probe.bin")
    return points


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("write", sorted(WRITES))
async def test_cancelling_a_write_at_any_await_point_publishes_nothing(
    driver: tuple[AsyncBackend, str], write: str, when: When
) -> None:
    inner, root = driver
    plain = AsyncStore(inner, root)
    points = await count_points(inner, root, write)
    assert points, "the write awaited nothing"
    for stop_at, point in enumerate(points, start=1):
        key = f"cancel/{write}-{when}-{stop_at}.bin"
        if write == "overwrite":
            await plain.write(key, b"old")
        layer = PausingBackend(inner, stop_at=stop_at, when=when)
        task = asyncio.create_task(WRITES[write](AsyncStore(layer, root), key))
        await asyncio.wait_for(layer.paused.wait(), 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        published = when == "after" and point in PUBLISHING
        expected = WHOLE if published else (b"old" if write == "overwrite" else None)
        if expected is None:
            assert not await plain.is_file(key), (point, stop_at)
        else:
            assert await plain.read_bytes(key) == expected, (point, stop_at)
    report = await plain.cleanup("cancel", older_than=timedelta(0), dry_run=True)
    assert report.removed == (), "a cancelled write left temp files or uploads"


async def test_cancelling_while_a_thread_writes_aborts_once_the_thread_is_done(
    tmp_path: object,
) -> None:
    faults = FaultInjectionLayer(LocalBackend(f"{tmp_path}/root"))
    faults.add_latency("write", 0.5)
    store = AsyncStore(SyncBackendAdapter(faults))

    async def slow_write() -> None:
        async with store.open_atomic("slow.bin") as f:
            await f.write(WHOLE)  # over the adapter's buffer: a thread writes it

    task = asyncio.create_task(slow_write())
    await asyncio.sleep(0.1)  # the thread is inside the sync write now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not await store.is_file("slow.bin")
    report = await store.cleanup(older_than=timedelta(0), dry_run=True)
    assert report.removed == ()
    await store.close()


async def test_cancelling_while_a_thread_opens_the_writer_leaves_no_temp_file(
    tmp_path: object,
) -> None:
    faults = FaultInjectionLayer(LocalBackend(f"{tmp_path}/root"))
    faults.add_latency("open_write", 0.3)
    store = AsyncStore(SyncBackendAdapter(faults))
    task = asyncio.create_task(with_open_atomic(store, "opening.bin"))
    await asyncio.sleep(0.1)  # a thread is inside new_writer
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.5)  # the thread finishes opening, then aborts what it opened
    assert not await store.is_file("opening.bin")
    report = await store.cleanup(older_than=timedelta(0), dry_run=True)
    assert report.removed == ()
    await store.close()


async def test_a_timeout_inside_open_atomic_publishes_nothing(
    driver: tuple[AsyncBackend, str],
) -> None:
    inner, root = driver
    store = AsyncStore(inner, root)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            async with store.open_atomic("timed.bin") as f:
                await f.write(CHUNK)
                await asyncio.sleep(10)
    assert not await store.is_file("timed.bin")
