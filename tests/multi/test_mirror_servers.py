"""Mirrors over the real loopback servers run the conformance suite: local+S3 and
S3+GCS+Azure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from omnistorage import LocalBackend, Store
from omnistorage.multi import MirrorBackend
from omnistorage.testing import StoreConformance
from tests.support.remote import azure_store, gcs_store, s3_store, wipe

pytestmark = pytest.mark.server

MiB = 1 << 20


class TestMirrorLocalS3(StoreConformance):
    backend_name = "mirror-local-s3"
    many_keys = 300
    # The abandoned writer must send more than one S3 part to leave a multipart upload.
    abandoned_write_size = 6 * MiB

    @pytest.fixture
    def empty_store(self, tmp_path: Path) -> Iterator[Store]:
        s3 = s3_store(part_size=5 * MiB)
        store = Store(MirrorBackend([Store(LocalBackend(tmp_path)), s3]))
        yield store
        wipe(s3)


class TestMirrorS3GCSAzure(StoreConformance):
    backend_name = "mirror-s3-gcs-azure"
    variants: ClassVar[tuple[str, ...]] = ("plain",)
    many_keys = 120
    large_size = 3 * MiB
    abandoned_write_size = 6 * MiB

    @pytest.fixture
    def empty_store(self) -> Iterator[Store]:
        parts = [s3_store(part_size=5 * MiB), gcs_store(), azure_store()]
        store = Store(MirrorBackend(parts))
        yield store
        for part in parts:
            wipe(part)
