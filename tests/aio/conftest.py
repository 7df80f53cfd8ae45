"""Async stores over the real backends for the aio tests: memory (natively async), local
files and S3 (moto server) through SyncBackendAdapter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from omnistorage import LocalBackend, Store
from omnistorage.aio import AsyncBackend, AsyncMemoryBackend, AsyncStore, SyncBackendAdapter
from omnistorage.backends.s3 import S3Backend
from tests.support.remote import s3_store, wipe
from tests.support.servers import server_env


def _s3_cleaner(bucket: str, root: str) -> Callable[[], None]:
    def clean() -> None:
        env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
        backend = S3Backend(
            bucket=bucket,
            endpoint_url=env["OMNI_TEST_S3_ENDPOINT"],
            region=env["OMNI_TEST_S3_REGION"],
            access_key_id="testing",
            secret_access_key="testing",
        )
        store = Store(backend, root)
        store.cleanup(older_than=timedelta(0))
        wipe(store)

    return clean


@pytest.fixture(params=["memory", "local", pytest.param("s3", marks=pytest.mark.server)])
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[AsyncBackend, str]]:
    """A fresh async driver and the root to use in it."""
    if request.param == "memory":
        yield AsyncMemoryBackend(), ""
    elif request.param == "local":
        yield SyncBackendAdapter(LocalBackend(tmp_path / "root")), ""
    else:
        sync = s3_store(part_size=5 << 20)
        backend = sync.unwrap()
        assert isinstance(backend, S3Backend)
        yield SyncBackendAdapter(backend), sync.root
        _s3_cleaner(backend.bucket, sync.root)()


@pytest_asyncio.fixture
async def store(driver: tuple[AsyncBackend, str]) -> AsyncIterator[AsyncStore]:
    backend, root = driver
    async with AsyncStore(backend, root) as opened:
        yield opened
