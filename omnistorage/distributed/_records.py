"""Record datasets on an engine: one task attempt per partition, one job commit.

The engine adapters (:mod:`omnistorage.distributed.dask`,
:mod:`omnistorage.distributed.ray_data`) run :func:`write_partition` and
:func:`read_shard` on their workers; this module holds what they share and needs
neither engine. The protocol is :mod:`omnistorage.jobs` (``docs/datasets.md``):

- the client creates the :class:`~omnistorage.jobs.Job` (a job id, nothing written);
- each partition is one :class:`~omnistorage.jobs.TaskAttempt` on a worker, its records
  written as one staged shard through the record pipeline (any format and codec of
  :func:`omnistorage.records.open_writer`, sealed), then its task commit; an attempt run
  again (a worker died, a speculative copy) is another attempt of the same task;
- the client commits the job with the number of partitions: exactly one attempt per
  partition is published and the manifest written last, or, when a partition failed,
  the job is aborted and nothing is visible;
- reading a committed dataset gives one partition per shard, each checked against the
  manifest (size, record count, seal).

Stores travel as :class:`~omnistorage.distributed.StoreSpec` configuration: workers open
them with the credentials of their own environment or profile.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from omnistorage.distributed._spec import StoreSpec
from omnistorage.distributed._worker import open_spec
from omnistorage.jobs import Dataset, Job, JobResult, ShardEntry, TaskAttempt, open_dataset

__all__ = [
    "abort_job",
    "commit_job",
    "dataset_shards",
    "plain_records",
    "read_shard",
    "start_job",
    "write_partition",
]


def start_job(store: StoreSpec, job_id: str | None = None) -> str:
    """A new job writing a dataset at ``store`` (its id; nothing is written yet)."""
    return Job(open_spec(store), job_id).id


def write_partition(
    store: StoreSpec,
    job_id: str,
    task: int,
    records: Iterable[Any],
    suffix: str = ".ndjson.zst",
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``records`` as task ``task``'s shard and commit the attempt (on a worker).

    Returns ``{"task", "attempt", "records", "bytes"}``. Raises what writing raised,
    after discarding what this attempt staged."""
    attempt = TaskAttempt(open_spec(store), job_id, task)
    try:
        writer = attempt.open_shard(suffix, **dict(options or {}))
        with writer:
            writer.write_many(records)
        commit = attempt.commit()
    except BaseException:
        attempt.abort()
        raise
    return {
        "task": task,
        "attempt": commit.attempt,
        "records": sum(entry.records for entry, _ in commit.shards),
        "bytes": sum(entry.size for entry, _ in commit.shards),
    }


def commit_job(store: StoreSpec, job_id: str, tasks: int) -> JobResult:
    """Commit the job: one attempt of each of the ``tasks`` partitions, then the manifest."""
    return Job(open_spec(store), job_id).commit(tasks=tasks)


def abort_job(store: StoreSpec, job_id: str) -> int:
    """Abort the job after a failed partition: discard what every attempt staged."""
    return Job(open_spec(store), job_id).abort()


def dataset_shards(store: StoreSpec) -> list[dict[str, Any]]:
    """The shards of the dataset's latest committed version, as plain data (one
    partition each)."""
    dataset = open_dataset(open_spec(store))
    return [_shard_doc(dataset.version, shard) for shard in dataset.shards]


def _shard_doc(version: int, shard: ShardEntry) -> dict[str, Any]:
    return {
        "version": version,
        "path": shard.path,
        "size": shard.size,
        "records": shard.records,
        "sha256": shard.sha256,
        "sealed": shard.sealed,
        "job": shard.job,
        "task": shard.task,
    }


def read_shard(store: StoreSpec, shard: Mapping[str, Any], **options: Any) -> list[Any]:
    """The records of one shard (on a worker), checked as :meth:`Dataset.read_shard
    <omnistorage.jobs.Dataset.read_shard>` checks them against the manifest entry the
    client read (:func:`dataset_shards`): its size first, its record count at the end, its
    seal where it is sealed."""
    entry = ShardEntry(
        shard["path"],
        shard["size"],
        shard["records"],
        shard["sha256"],
        shard["sealed"],
        shard["job"],
        shard["task"],
    )
    dataset = Dataset(open_spec(store), int(shard["version"]), (entry.job,), (entry,))
    return list(dataset.read_shard(entry, **options))


def plain_records(rows: Iterable[Mapping[str, Any]]) -> Iterable[dict[str, Any]]:
    """Table rows as JSON-ready records: a missing value (NaN, NaT, ``None``) becomes
    ``None`` (written as ``null``), numpy scalars Python numbers, and a datetime (pandas'
    ``Timestamp`` included) its ISO 8601 text."""
    for row in rows:
        yield {str(key): _plain(value) for key, value in row.items()}


def _plain(value: Any) -> Any:
    if value is None:
        return None
    item = getattr(value, "item", None)  # numpy scalars
    if item is not None and callable(item) and type(value).__module__ == "numpy":
        value = item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if type(value).__name__ in ("NaTType", "NAType"):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
