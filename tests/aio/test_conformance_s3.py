"""The shared conformance suite through AsyncStore over S3 (moto server), with the sync S3
driver behind SyncBackendAdapter: the S3 default of ``omnistorage.aio``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.client import BaseClient

from omnistorage import Store
from omnistorage.aio import AsyncStore, SyncBackendAdapter
from omnistorage.backends.s3 import S3Backend
from omnistorage.testing import FOREIGN_CANDIDATES, driver_of
from tests.aio._suite import AsyncConformance
from tests.backends.test_s3 import S3_GAPS
from tests.support.remote import s3_store, wipe
from tests.support.servers import server_env

pytestmark = pytest.mark.server

MiB = 1 << 20


class TestAsyncS3Conformance(AsyncConformance):
    crash_leaves_leftovers = True
    backend_name = "aio-s3"
    many_keys = 250  # with list_page_size=100: still three pages
    abandoned_write_size = 11 * MiB  # past two 5 MiB parts: a multipart upload is open
    leftover_times_are_real = False  # moto dates every multipart upload 2010-11-10
    foreign_names = tuple(n for n in FOREIGN_CANDIDATES if "\n" not in n)
    expected_failures = S3_GAPS

    def plant_foreign(self, store: object, name: str, data: bytes) -> None:
        backend = driver_of(store)  # type: ignore[arg-type]
        assert isinstance(backend, S3Backend)
        root = store.root  # type: ignore[attr-defined]
        native = f"{root}/{name}" if root else name
        client = backend.as_native(BaseClient)
        assert client is not None
        client.put_object(Bucket=backend.bucket, Key=native, Body=data)  # type: ignore[attr-defined]

    @pytest.fixture
    def empty_async_store(self) -> Iterator[AsyncStore]:
        sync = s3_store(part_size=5 * MiB, list_page_size=100)
        backend = sync.unwrap()
        assert isinstance(backend, S3Backend)
        yield AsyncStore(SyncBackendAdapter(backend), sync.root)
        env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
        leftover = S3Backend(
            bucket=backend.bucket,
            endpoint_url=env["OMNI_TEST_S3_ENDPOINT"],
            region=env["OMNI_TEST_S3_REGION"],
            access_key_id="testing",
            secret_access_key="testing",
        )
        wipe(Store(leftover, sync.root))
