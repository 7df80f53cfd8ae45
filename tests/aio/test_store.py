"""What AsyncStore adds to the suite's checks: async streams and content, the lazy opening
of streams (checks at once, I/O later), the thread pool of SyncBackendAdapter (bounded, no
event loop of its own), AsyncMemoryBackend without threads, open_store, and secrets."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.aio import (
    AsyncMemoryBackend,
    AsyncStore,
    SyncBackendAdapter,
    open_store,
)
from omnistorage.backends.s3 import S3Backend
from omnistorage.capabilities import Capability
from omnistorage.errors import (
    AlreadyExists,
    CapabilityNotSupported,
    ChangedDuringRead,
    ConfigurationError,
    InvalidPath,
    NotFound,
    StorageError,
    StreamClosed,
)
from omnistorage.ext import FaultInjectionLayer
from omnistorage.models import HashType
from omnistorage.testing.basic import BasicOnly

pytestmark = pytest.mark.asyncio

MiB = 1 << 20


async def test_async_for_streams_an_object_in_chunks(store: AsyncStore) -> None:
    data = bytes(range(256)) * (3 * 4096 + 17)  # a little over 3 MiB
    await store.write("big.bin", data)
    chunks = [chunk async for chunk in store.read("big.bin")]
    assert len(chunks) > 1
    assert b"".join(chunks) == data


async def test_a_read_stream_can_be_awaited_read_and_closed(store: AsyncStore) -> None:
    await store.write("s.txt", b"0123456789")
    stream = await store.read("s.txt")
    assert await stream.read(4) == b"0123"
    assert await stream.read() == b"456789"
    assert await stream.read() == b""
    await stream.close()
    with pytest.raises(StreamClosed):
        await stream.read()


async def test_reading_a_missing_file_raises_not_found_at_open(store: AsyncStore) -> None:
    stream = store.read("missing.txt")  # no I/O yet
    with pytest.raises(NotFound):
        async with stream:
            await stream.read()


async def test_content_may_be_an_async_iterable_or_an_async_file(store: AsyncStore) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(40):
            yield bytes([i]) * 70_000

    result = await store.write("aiter.bin", chunks(), hashes=[HashType.SHA256])
    expected = b"".join(bytes([i]) * 70_000 for i in range(40))
    assert result.size == len(expected)
    assert await store.read_bytes("aiter.bin") == expected
    copy = await store.write("afile.bin", await store.read("aiter.bin"))
    assert copy.size == len(expected)
    assert await store.read_bytes("afile.bin") == expected
    assert (await store.write("sync.bin", io.BytesIO(b"x" * 5))).size == 5


async def test_content_chunks_that_are_not_bytes_are_refused_and_publish_nothing(
    store: AsyncStore,
) -> None:
    async def bad() -> AsyncIterator[object]:
        yield b"ok"
        yield "text"

    with pytest.raises(TypeError, match="must be bytes"):
        await store.write("bad.bin", bad())  # type: ignore[arg-type]
    assert not await store.exists("bad.bin")


async def test_write_returns_the_hashes_it_computed(store: AsyncStore) -> None:
    import hashlib

    result = await store.write("h.bin", b"hash me", hashes=["md5", "sha256"])
    assert result.hashes[HashType.MD5] == hashlib.md5(b"hash me").hexdigest()
    assert result.hashes[HashType.SHA256] == hashlib.sha256(b"hash me").hexdigest()


async def test_keys_and_capabilities_are_checked_before_the_stream_opens(
    store: AsyncStore,
) -> None:
    with pytest.raises(InvalidPath):
        store.read("../x")
    with pytest.raises(InvalidPath):
        store.open_atomic("a//b")
    with pytest.raises(InvalidPath):
        store.read_seekable("/etc/passwd")
    with pytest.raises(InvalidPath):
        store.list_files("../up")
    if not store.supports(Capability.MKDIR):
        with pytest.raises(CapabilityNotSupported):
            await store.make_folder("f")


async def test_a_seekable_reader_stays_on_the_version_it_opened(store: AsyncStore) -> None:
    old = bytes(range(256)) * 8192  # 2 MiB
    await store.write("v.bin", old)
    async with store.read_seekable("v.bin") as reader:
        assert reader.size == len(old)
        first = await reader.read(1000)
        await store.write("v.bin", bytes(len(old)), overwrite=True)
        reader.seek(-1000, io.SEEK_END)
        try:
            last = await reader.read()
        except ChangedDuringRead:
            return
    assert (first, last) == (old[:1000], old[-1000:])


async def test_a_seekable_reader_must_be_opened_before_it_seeks(store: AsyncStore) -> None:
    await store.write("o.bin", b"abc")
    reader = store.read_seekable("o.bin")
    with pytest.raises(StreamClosed, match="not open yet"):
        reader.seek(1)
    reader = await reader
    reader.seek(1)
    assert await reader.read() == b"bc"
    await reader.close()


async def test_create_only_writes_race_to_one_winner(store: AsyncStore) -> None:
    async def attempt(i: int) -> int:
        try:
            await store.write("race.txt", f"writer {i}".encode())
        except AlreadyExists:
            return -1
        return i

    results = await asyncio.gather(*(attempt(i) for i in range(16)))
    winners = [r for r in results if r >= 0]
    assert len(winners) == 1
    assert await store.read_bytes("race.txt") == f"writer {winners[0]}".encode()


async def test_many_concurrent_writes_and_reads_on_one_loop(store: AsyncStore) -> None:
    await asyncio.gather(*(store.write(f"many/{i}", str(i).encode() * 100) for i in range(200)))
    values = await asyncio.gather(*(store.read_bytes(f"many/{i}") for i in range(200)))
    assert values == [str(i).encode() * 100 for i in range(200)]
    listing = store.list_files("many")
    assert sorted([info.path async for info in listing]) == sorted(f"many/{i}" for i in range(200))
    assert listing.invalid_count == 0


async def test_a_sync_backend_must_go_through_the_adapter() -> None:
    with pytest.raises(ConfigurationError, match="SyncBackendAdapter"):
        AsyncStore(MemoryBackend())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_workers"):
        SyncBackendAdapter(MemoryBackend(), max_workers=0)


async def test_the_adapter_runs_at_most_max_workers_calls_at_once(tmp_path: Path) -> None:
    faults = FaultInjectionLayer(LocalBackend(tmp_path))
    faults.add_latency("exists", 0.05).times = None
    adapter = SyncBackendAdapter(faults, max_workers=3)
    store = AsyncStore(adapter)
    before = {t.ident for t in threading.enumerate()}
    started = time.monotonic()
    await asyncio.gather(*(store.is_file(f"k{i}") for i in range(12)))
    elapsed = time.monotonic() - started
    assert elapsed >= 4 * 0.05 * 0.9  # 12 calls, 3 at a time: 4 rounds
    new = [t for t in threading.enumerate() if t.ident not in before]
    assert 1 <= len(new) <= 3
    assert all(t.name.startswith("omnistorage-aio-") for t in new)
    await store.close()


async def test_the_adapter_starts_no_event_loop_of_its_own(tmp_path: Path) -> None:
    store = AsyncStore(SyncBackendAdapter(LocalBackend(tmp_path)))
    loops_seen: list[object] = []

    class Probe(LocalBackend):
        def exists(self, key: str) -> bool:
            try:
                loops_seen.append(asyncio.get_running_loop())
            except RuntimeError:
                loops_seen.append(None)
            return super().exists(key)

    probe = AsyncStore(SyncBackendAdapter(Probe(tmp_path)))
    await probe.is_file("x")
    assert loops_seen == [None]  # the driver runs on a plain thread, no loop there
    await store.close()
    await probe.close()


async def test_the_memory_backend_needs_no_thread() -> None:
    # No thread started meanwhile (threads left by earlier tests may end: not counted).
    before = set(threading.enumerate())
    store = AsyncStore(AsyncMemoryBackend())
    await asyncio.gather(*(store.write(f"m/{i}", b"x") for i in range(100)))
    assert len([info async for info in store.list_files("m")]) == 100
    assert set(threading.enumerate()) - before == set()


async def test_named_memory_spaces_are_shared_with_sync_stores() -> None:
    sync = Store(MemoryBackend(name="aio-shared-space"))
    store = open_store("memory://aio-shared-space")
    assert isinstance(store.unwrap(), AsyncMemoryBackend)
    await store.write("k", b"v")
    assert sync.read_bytes("k") == b"v"


async def test_open_store_runs_other_backends_on_the_adapter(tmp_path: Path) -> None:
    store = open_store(str(tmp_path), max_workers=2)
    assert isinstance(store.unwrap(), SyncBackendAdapter)
    assert isinstance(store.unwrap(LocalBackend), LocalBackend)
    await store.write("a.txt", b"hi")
    assert (tmp_path / "a.txt").read_bytes() == b"hi"
    await store.close()


async def test_the_basic_interface_falls_back_like_the_sync_store(tmp_path: Path) -> None:
    inner = LocalBackend(tmp_path)
    store = AsyncStore(SyncBackendAdapter(BasicOnly(inner)))
    await store.write("a/b.txt", b"data")
    await store.move("a/b.txt", "c/d.txt")
    assert await store.read_bytes("c/d.txt") == b"data"
    assert (await store.get_file_info("c/d.txt")).size == 4
    assert await store.is_folder("c")
    # Every driver answers resolution_steps now; the basic one names its native path.
    assert store.resolve("c/d.txt").steps == (inner.native_path("c/d.txt"),)
    await store.close()


@pytest.mark.server
async def test_errors_through_the_adapter_keep_secrets_out() -> None:
    secret = "aio-secret-Qz81-never-shown"
    backend = S3Backend(
        bucket="nope",
        endpoint_url="http://127.0.0.1:9",  # nothing listens: fails fast
        region="us-east-1",
        access_key_id="aio-key-id-Zx",
        secret_access_key=secret,
        max_attempts=1,
        connect_timeout=0.5,
    )
    store = AsyncStore(SyncBackendAdapter(backend))
    with pytest.raises(StorageError) as info:
        await store.write("k", b"v", overwrite=True)
    assert info.value.temporary
    for text in (str(info.value), repr(info.value), repr(store), repr(store.unwrap())):
        assert secret not in text
        assert "aio-key-id-Zx" not in text
    await store.close()


@pytest.mark.parametrize(
    ("make", "driver", "where"),
    [
        (lambda b: AsyncStore(b), lambda: MemoryBackend(), "SyncBackendAdapter"),
        (lambda b: Store(b), lambda: SyncBackendAdapter(MemoryBackend()), "AsyncStore"),
        (lambda b: Store(b), lambda: object(), "AsyncStore"),
        (lambda b: AsyncStore(b, "root"), lambda: "memory://", "SyncBackendAdapter"),
    ],
    ids=["sync-driver-in-async-store", "async-driver-in-sync-store", "not-a-driver", "a-url"],
)
def test_each_store_refuses_a_driver_of_the_other_kind_naming_both(
    make: Any, driver: Any, where: str
) -> None:
    given = driver()
    with pytest.raises(ConfigurationError, match=where) as caught:
        make(given)
    assert type(given).__name__ in str(caught.value)
    assert "needs a driver of type" in str(caught.value)
