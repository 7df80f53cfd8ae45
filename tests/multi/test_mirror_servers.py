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
from tests.backends.test_s3 import S3_GAPS
from tests.support.remote import azure_store, gcs_store, s3_store, wipe

pytestmark = pytest.mark.server

MiB = 1 << 20


class TestMirrorLocalS3(StoreConformance):
    leftover_times_are_real = False  # S3 is moto: it dates every upload 2010-11-10
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
    leftover_times_are_real = False  # S3 is moto: it dates every upload 2010-11-10
    backend_name = "mirror-s3-gcs-azure"
    variants: ClassVar[tuple[str, ...]] = ("plain",)
    many_keys = 120
    large_size = 3 * MiB
    abandoned_write_size = 6 * MiB
    # The mirror's conditional delete is each destination's, so it shows S3's declared
    # gap (tests/backends/test_s3.py S3_GAPS): its If-Match cannot tell an identical
    # object another writer published from this write's own.
    expected_failures: ClassVar[dict[str, str]] = dict(S3_GAPS)

    @pytest.fixture
    def empty_store(self) -> Iterator[Store]:
        parts = [s3_store(part_size=5 * MiB), gcs_store(), azure_store()]
        store = Store(MirrorBackend(parts))
        yield store
        for part in parts:
            wipe(part)


def test_rolling_writer_over_local_and_s3_with_s3_failing_mid_run(tmp_path: Path) -> None:
    """Records acknowledged as published are in both, or the report says where they are."""
    from omnistorage.ext import FaultInjectionLayer
    from omnistorage.multi import MirrorReport, quorum
    from omnistorage.records import RollingRecordWriter, open_reader

    s3 = s3_store()
    local = Store(LocalBackend(tmp_path / "local"))
    layer = FaultInjectionLayer(s3.unwrap())
    flaky_s3 = Store(layer, s3.root)
    reports: list[MirrorReport] = []
    mirror = Store(MirrorBackend([local, flaky_s3], policy=quorum(1), on_report=reports.append))
    try:
        with RollingRecordWriter(
            mirror,
            "{prefix}/{stream}-{seq:06d}.ndjson.zst",
            prefix="logs",
            stream="api",
            max_records=500,
        ) as log:
            for i in range(2_000):
                if i == 1_100:
                    layer.fail_nth("write", 1, times=None)
                log.write({"i": i, "payload": "x" * 50})
        assert [r.destinations[0].state for r in reports] == ["published"] * 4
        both = [r.key for r in reports if r.ok]
        local_only = [r.key for r in reports if not r.ok]
        assert len(both) == 2
        assert len(local_only) == 2
        for report in reports:
            if not report.ok:
                assert report.destinations[1].state == "failed"
                assert "injected" in (report.destinations[1].error or "")
        for key in both:
            assert s3.read_bytes(key) == local.read_bytes(key)
        for key in local_only:
            assert not s3.is_file(key)
        seen: list[int] = []
        for report in reports:
            with open_reader(local, report.key) as reader:
                seen.extend(record["i"] for record in reader)
        assert seen == list(range(2_000))
    finally:
        wipe(s3)
