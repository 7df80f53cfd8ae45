"""The drivers' one-call reads and writes (read_object, write_object): the defaults keep
the writer's rules, and a failing write reports its own error, never the abort's."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from omnistorage import LocalBackend, Store
from omnistorage.aio import AsyncStore, SyncBackendAdapter
from omnistorage.driver import WriteOptions, Writer
from omnistorage.errors import AlreadyExists, StorageError
from omnistorage.ext import Layer
from omnistorage.models import HashType


class _PublishFails(Layer):
    """Writers whose close fails, and whose abort fails too."""

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        inner = self.inner.new_writer(key, options)

        class _Failing(Writer):
            def write(self, data: bytes | bytearray | memoryview) -> int:
                return inner.write(data)

            def close(self) -> None:
                inner.abort()
                raise OSError(5, "publish refused")

            def abort(self) -> None:
                raise RuntimeError("abort failed too")

        return _Failing()


def test_write_object_reports_the_publish_error_and_publishes_nothing(tmp_path: Path) -> None:
    store = Store(_PublishFails(LocalBackend(tmp_path)))
    with pytest.raises(StorageError) as info:
        store.write("a.txt", b"data")
    assert "publish refused" in str(info.value.__cause__)
    assert not store.is_file("a.txt")
    assert list(tmp_path.iterdir()) == []


def test_the_default_one_call_paths_keep_create_only_and_hashes(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    version = backend.write_object("k", b"one", WriteOptions(overwrite=False))
    assert backend.read_object("k") == b"one"
    with pytest.raises(FileExistsError):
        backend.write_object("k", b"two", WriteOptions(overwrite=False))
    assert backend.read_object("k") == b"one"
    assert version is None or isinstance(version, str)
    store = Store(backend)
    with pytest.raises(AlreadyExists):
        store.write("k", b"three")

    result = store.write("h", bytearray(b"abc"), hashes=[HashType.MD5])
    assert result.size == 3
    assert result.hashes[HashType.MD5] == "900150983cd24fb0d6963f7d28e17f72"


def test_the_async_store_reports_the_publish_error_too(tmp_path: Path) -> None:
    async def run() -> None:
        store = AsyncStore(SyncBackendAdapter(_PublishFails(LocalBackend(tmp_path))))
        with pytest.raises(StorageError) as info:
            await store.write("a.txt", b"data")
        assert "publish refused" in str(info.value.__cause__)
        assert not await store.is_file("a.txt")
        await store.close()

    asyncio.run(run())
