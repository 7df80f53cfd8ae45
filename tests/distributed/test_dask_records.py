"""Record datasets on a real Dask LocalCluster (worker processes) against the S3 server:
a bag or a dataframe written with the job commit reads back whole, one partition per
shard; a failing partition leaves no dataset; no credential in what the tasks pickle."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from omnistorage import LocalBackend, Store
from omnistorage.distributed import StoreSpec
from omnistorage.distributed._records import commit_job, start_job, write_partition
from omnistorage.errors import DataError
from omnistorage.jobs import DatasetNotFound, open_dataset
from tests.support.cluster import SECRET
from tests.support.remote import _s3_bucket, wipe
from tests.support.servers import server_env

distributed = pytest.importorskip("distributed")
dask_bag = pytest.importorskip("dask.bag")
dask_dataframe = pytest.importorskip("dask.dataframe")
pandas = pytest.importorskip("pandas")
cloudpickle = pytest.importorskip("cloudpickle")

from omnistorage.distributed.dask import (  # noqa: E402
    read_bag,
    read_dataframe,
    write_bag,
    write_dataframe,
)

pytestmark = pytest.mark.server


@pytest.fixture
def s3() -> Iterator[tuple[StoreSpec, Store]]:
    env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
    query = f"endpoint_url={env['OMNI_TEST_S3_ENDPOINT']}&region={env['OMNI_TEST_S3_REGION']}"
    spec = StoreSpec(f"s3://{_s3_bucket()}/dset-{time.monotonic_ns()}?{query}")
    store = spec.open()
    yield spec, store
    wipe(store)


def events(n: int) -> list[dict[str, Any]]:
    return [{"id": i, "user": f"u{i % 7}", "value": i * 0.5, "tags": [i % 3]} for i in range(n)]


def test_a_bag_written_with_the_job_commit_reads_back_one_partition_per_shard(
    client: Any, s3: tuple[StoreSpec, Store]
) -> None:
    spec, store = s3
    records = events(500)
    result = write_bag(dask_bag.from_sequence(records, npartitions=5), spec)
    assert len(result.shards) == 5
    dataset = open_dataset(store)
    assert dataset.records_count == 500
    assert sorted(s.task for s in dataset.shards) == [0, 1, 2, 3, 4]
    bag = read_bag(spec)
    assert bag.npartitions == 5
    assert sorted(bag.compute(), key=lambda r: r["id"]) == records
    # Another format and codec, through the same options as open_writer.
    csv_spec = StoreSpec(spec.address.replace("/dset-", "/dset-csv-"))
    try:
        write_bag(
            dask_bag.from_sequence([{"a": str(i)} for i in range(30)], npartitions=3),
            csv_spec,
            suffix=".csv.gz",
        )
        assert sorted(r["a"] for r in read_bag(csv_spec).compute()) == sorted(
            str(i) for i in range(30)
        )
    finally:
        wipe(csv_spec.open())


def test_a_dataframe_round_trips_with_missing_values_as_null(
    client: Any, s3: tuple[StoreSpec, Store]
) -> None:
    spec, _ = s3
    frame = pandas.DataFrame(
        {"id": range(40), "score": [math.nan if i % 9 == 0 else i / 4 for i in range(40)]}
    )
    write_dataframe(dask_dataframe.from_pandas(frame, npartitions=4), spec)
    meta = pandas.DataFrame(
        {"id": pandas.Series(dtype="int64"), "score": pandas.Series(dtype="float64")}
    )
    back = read_dataframe(spec, meta=meta)
    assert back.npartitions == 4
    got = back.compute().sort_values("id").reset_index(drop=True)
    pandas.testing.assert_frame_equal(got, frame, check_dtype=False)


def test_a_failing_partition_leaves_no_dataset_and_nothing_staged(
    client: Any, s3: tuple[StoreSpec, Store]
) -> None:
    spec, store = s3
    records: list[Any] = events(40)
    records[33] = {"id": 33, "value": math.nan}  # NDJSON refuses NaN: partition 3 fails
    with pytest.raises(DataError):
        write_bag(dask_bag.from_sequence(records, npartitions=4), spec)
    with pytest.raises(DatasetNotFound):
        open_dataset(store)
    visible = [info.path for info in store.list_files(recursive=True)]
    assert all(path.startswith("_jobs/") for path in visible), visible
    # Nothing staged is left behind either (S3: no incomplete multipart upload).
    assert list(store.cleanup(older_than=timedelta(0), dry_run=True).removed) == []


def test_no_secret_in_what_the_tasks_pickle(
    client: Any, s3: tuple[StoreSpec, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dask.base

    spec, _ = s3
    payloads: list[bytes] = []
    compute = dask.base.compute

    def recording_compute(*args: Any, **kwargs: Any) -> Any:
        payloads.append(cloudpickle.dumps([dict(a.__dask_graph__()) for a in args]))
        return compute(*args, **kwargs)

    monkeypatch.setattr(dask.base, "compute", recording_compute)
    write_bag(dask_bag.from_sequence(events(20), npartitions=2), spec)
    bag = read_bag(spec)
    payloads.append(cloudpickle.dumps(dict(bag.__dask_graph__())))
    assert len(bag.compute()) == 20
    assert len(payloads) >= 2  # the write, the read graph (and the read's compute)
    assert client.run(lambda: os.environ.get("AWS_SECRET_ACCESS_KEY"))
    for payload in payloads:
        assert SECRET.encode() not in payload


def test_a_partition_attempted_twice_is_published_once(tmp_path: Path) -> None:
    spec = StoreSpec(str(tmp_path / "data"))
    job = start_job(spec)
    first = write_partition(spec, job, 0, events(10))
    again = write_partition(spec, job, 0, events(10))  # a retried task: another attempt
    write_partition(spec, job, 1, events(5))
    assert first["attempt"] != again["attempt"]
    result = commit_job(spec, job, 2)
    assert sorted(s.task for s in result.shards) == [0, 1]
    dataset = open_dataset(Store(LocalBackend(tmp_path / "data")))
    assert dataset.records_count == 15
    shard_files = list((tmp_path / "data").rglob("*.ndjson.zst"))
    assert len(shard_files) == 2  # the losing attempt's shard was discarded


def test_table_rows_become_json_ready_records() -> None:
    import numpy

    from omnistorage.distributed._records import plain_records

    row = {
        "n": numpy.int64(3),
        "x": numpy.float32(0.5),
        "nan": math.nan,
        "np_nan": numpy.float64("nan"),
        "at": pandas.Timestamp("2024-01-02T03:04:05Z"),
        "nat": pandas.NaT,
        "na": pandas.NA,
        "none": None,
        "text": "é",
        1: "key made text",
    }
    (record,) = plain_records([row])
    assert record == {
        "n": 3,
        "x": 0.5,
        "nan": None,
        "np_nan": None,
        "at": "2024-01-02T03:04:05+00:00",
        "nat": None,
        "na": None,
        "none": None,
        "text": "é",
        "1": "key made text",
    }
    assert type(record["n"]) is int
