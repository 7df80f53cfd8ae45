"""A RollingRecordWriter restarted after a writer died mid-object on S3 (moto)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from omnistorage import Store, WriteOptions
from omnistorage.records import RollingRecordWriter
from tests.backends.test_s3 import MiB, empty_bucket, new_bucket, s3_store
from tests.records.test_records_rolling import TEMPLATE, fixed_clock, name

pytestmark = pytest.mark.server


@pytest.fixture
def store() -> Iterator[Store]:
    bucket = new_bucket()
    yield s3_store(bucket, part_size=5 * MiB)
    empty_bucket(bucket)


def test_a_restart_does_not_reuse_the_number_of_an_object_killed_mid_upload(
    store: Store,
) -> None:
    with RollingRecordWriter(
        store, TEMPLATE, prefix="logs", max_records=1, clock=fixed_clock
    ) as first:
        first.write_many({"i": i} for i in range(3))  # seq 0..2 published
    # seq 3 was being uploaded when the process died: a multipart upload, no object.
    killed = store.unwrap().new_writer(store.resolve(name(3)).key, WriteOptions(overwrite=False))
    killed.write(b"x" * (11 * MiB))
    try:
        assert not store.exists(name(3))
        with RollingRecordWriter(
            store, TEMPLATE, prefix="logs", max_records=1, clock=fixed_clock
        ) as second:
            second.write({"after": "restart"})
        assert store.is_file(name(4))
        assert not store.exists(name(3))
    finally:
        killed.abort()
