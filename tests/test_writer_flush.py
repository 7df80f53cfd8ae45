"""``Writer.flush`` reaches the backend's writer through every wrapper.

A backend that stages parts or blocks in the background (S3, Azure) returns from
``write`` before they are held; ``flush`` waits for them. A wrapper that drops the
call leaves its caller believing bytes are staged that are still in flight: an
abandoned write's leftovers then appear after a cleanup that found none (seen on
Azure behind the stacked layers). The recording backend here stages only on
``flush``, so a wrapper that does not forward it leaves nothing staged.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from omnistorage import MemoryBackend, Store
from omnistorage.aio import SyncBackendAdapter
from omnistorage.driver import WriteOptions, Writer
from omnistorage.testing._wrapped import WRAPPER_VARIANTS, wrap


class _DeferredWriter(Writer):
    """Holds written bytes as "in flight" until ``flush`` stages them."""

    def __init__(self, inner: Writer) -> None:
        self._inner = inner
        self.in_flight = bytearray()
        self.staged = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.in_flight += data
        return len(data)

    def flush(self) -> None:
        self._inner.write(bytes(self.in_flight))
        self.staged += self.in_flight
        self.in_flight.clear()

    def close(self) -> None:
        self.flush()
        self._inner.close()
        self.version = self._inner.version

    def abort(self) -> None:
        self.in_flight.clear()
        self._inner.abort()


class _DeferredBackend(MemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.writers: list[_DeferredWriter] = []

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        writer = _DeferredWriter(super().new_writer(key, options))
        self.writers.append(writer)
        return writer


@pytest.mark.parametrize("variant", WRAPPER_VARIANTS)
def test_flush_through_a_wrapper_stages_what_was_written(variant: str, tmp_path: Path) -> None:
    backend = _DeferredBackend()
    store = wrap(variant, Store(backend), tmp_path / "cache")
    writer = store.unwrap().new_writer(store.resolve("a.bin").key, WriteOptions(overwrite=True))
    try:
        writer.write(b"first ")
        writer.write(b"second")
        writer.flush()
        (inner,) = backend.writers
        assert bytes(inner.staged) == b"first second"
        assert not inner.in_flight
        assert not store.exists("a.bin")  # staged, not published
        writer.write(b" third")
        writer.close()
    finally:
        writer.abort()
    assert store.read_bytes("a.bin") == b"first second third"


def test_the_store_writer_drains_to_the_backend() -> None:
    backend = _DeferredBackend()
    store = Store(backend)
    with store.open_writer("a.bin") as writer:
        writer.write(b"abc")
        writer.flush()  # the cheap stream flush: nothing is waited for
        assert backend.writers[0].staged == b""
        writer.drain()
        assert backend.writers[0].staged == b"abc"
        assert not store.exists("a.bin")
    assert store.read_bytes("a.bin") == b"abc"


def test_the_async_adapter_forwards_flush_with_its_buffer() -> None:
    backend = _DeferredBackend()

    async def run() -> None:
        adapter = SyncBackendAdapter(backend)
        writer = await adapter.new_writer("a.bin", WriteOptions(overwrite=True))
        await writer.write(b"small")  # gathered in the adapter's buffer
        await writer.flush()
        assert backend.writers[0].staged == b"small"
        await writer.close()

    asyncio.run(run())
    assert Store(backend).read_bytes("a.bin") == b"small"
