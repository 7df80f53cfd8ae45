"""Cancelling a write at any of its await points publishes nothing, on every backend.

:class:`PausingBackend` stops the write at one await point (each call the store awaits
from its driver, before the call is passed on or just after it returned); the test
cancels the task there. Once the ``CancelledError`` has come out, the abort has run:
no object, no temp file or incomplete upload left. The one exception is a cancellation
that lands after the publish itself returned: the object is then there, whole.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from omnistorage import LocalBackend
from omnistorage.aio import AsyncBackend, AsyncStore, SyncBackendAdapter
from omnistorage.driver import WriteOptions, Writer
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


class _Gate:
    """A point a driver thread stops at: ``entered`` once there, on until ``release``."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def hold(self) -> None:
        self.entered.set()
        if not self.release.wait(60):
            raise TimeoutError("the test never released the gate")


class _GatedWriter(Writer):
    def __init__(self, inner: Writer, backend: _GatedLocal) -> None:
        self._inner = inner
        self._backend = backend

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._backend.writing is not None:
            self._backend.writing.hold()
        try:
            return self._inner.write(data)
        finally:
            self._backend.calls.append("write")

    def close(self) -> None:
        self._inner.close()

    def abort(self) -> None:
        self._backend.calls.append("abort")
        self._inner.abort()
        self._backend.aborted.set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _GatedLocal(LocalBackend):
    """A local backend whose threads stop at a gate in ``new_writer`` or ``write``."""

    def __init__(
        self, root: str, *, opening: _Gate | None = None, writing: _Gate | None = None
    ) -> None:
        super().__init__(root)
        self.opening = opening
        self.writing = writing
        self.aborted = threading.Event()
        self.calls: list[str] = []
        """``write`` when a write call ended, ``abort`` when an abort began."""

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        if self.opening is not None:
            self.opening.hold()
        return _GatedWriter(super().new_writer(key, options), self)


async def _wait(event: threading.Event, what: str) -> None:
    """Wait for a thread's ``event`` without blocking the loop (a slow machine may take long)."""
    assert await asyncio.to_thread(event.wait, 60), what


async def test_cancelling_while_a_thread_writes_aborts_once_the_thread_is_done(
    tmp_path: object,
) -> None:
    writing = _Gate()
    backend = _GatedLocal(f"{tmp_path}/root", writing=writing)
    store = AsyncStore(SyncBackendAdapter(backend))

    async def slow_write() -> None:
        async with store.open_atomic("slow.bin") as f:
            await f.write(WHOLE)  # over the adapter's buffer: a thread writes it

    task = asyncio.create_task(slow_write())
    await _wait(writing.entered, "no thread entered the sync write")
    task.cancel()  # while the thread is inside the sync write
    # Held a moment longer only so that an abort that did not wait for the running
    # write would begin first and show in ``calls``; a correct abort waits anyway.
    await asyncio.sleep(0.2)
    writing.release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert backend.aborted.is_set(), "the cancelled write ended before its abort"
    first_abort = backend.calls.index("abort")
    assert "write" in backend.calls[:first_abort], "aborted while the thread still wrote"
    assert "write" not in backend.calls[first_abort:], "aborted while the thread still wrote"
    assert not await store.is_file("slow.bin")
    report = await store.cleanup(older_than=timedelta(0), dry_run=True)
    assert report.removed == ()
    await store.close()


async def test_cancelling_while_a_thread_opens_the_writer_leaves_no_temp_file(
    tmp_path: object,
) -> None:
    opening = _Gate()
    backend = _GatedLocal(f"{tmp_path}/root", opening=opening)
    store = AsyncStore(SyncBackendAdapter(backend))
    task = asyncio.create_task(with_open_atomic(store, "opening.bin"))
    await _wait(opening.entered, "no thread entered new_writer")
    task.cancel()  # while the thread is inside new_writer
    with pytest.raises(asyncio.CancelledError):
        await task
    opening.release.set()  # the thread finishes opening, then aborts what it opened
    await _wait(backend.aborted, "the writer opened after the cancel was never aborted")
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
