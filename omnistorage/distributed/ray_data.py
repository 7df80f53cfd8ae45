"""Record datasets on Ray Data (the ``ray`` extra), with the job commit.

>>> import ray                                                   # doctest: +SKIP
>>> spec = StoreSpec("s3://bucket/events?region=eu-west-1")     # doctest: +SKIP
>>> write_dataset(ray.data.from_items(rows), spec)               # doctest: +SKIP
>>> read_dataset(spec).count()                                   # doctest: +SKIP

:class:`RecordDatasink` maps Ray Data's write hooks onto :mod:`omnistorage.jobs`: the job
is named when the sink is made, each write task is one task attempt (its blocks' rows
written as one staged shard, then its task commit), ``on_write_complete`` commits the
job (one attempt per write task, the manifest last) and ``on_write_failed`` aborts it,
so a failed write leaves nothing visible. :class:`RecordDatasource` reads the latest
committed dataset with one read task per shard, each checked against the manifest.
Stores travel as :class:`~omnistorage.distributed.StoreSpec` configuration.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

try:
    import pyarrow
    from ray.data import Datasink, Datasource, ReadTask
    from ray.data.block import BlockAccessor, BlockMetadata
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    from omnistorage.errors import DependencyMissing

    raise DependencyMissing(
        "omnistorage.distributed.ray_data needs Ray Data: pip install 'omnistorage[ray]'"
    ) from exc

from omnistorage.distributed import _records as core
from omnistorage.distributed._spec import StoreSpec
from omnistorage.jobs import JobResult

__all__ = ["RecordDatasink", "RecordDatasource", "read_dataset", "write_dataset"]


class RecordDatasink(Datasink[dict[str, Any]]):
    """Writes a Ray Dataset's rows as a committed record dataset at ``store``.

    ``suffix`` names the shards' format and codec (``.ndjson.zst``, ``.csv.gz`` …);
    ``options`` are :func:`omnistorage.records.open_writer`'s. Each row is written as a
    JSON object (missing values as ``null``). After the write, :attr:`result` is the
    job's :class:`~omnistorage.jobs.JobResult` (on the driver)."""

    def __init__(
        self,
        store: StoreSpec,
        *,
        suffix: str = ".ndjson.zst",
        job_id: str | None = None,
        **options: Any,
    ) -> None:
        self.store, self.suffix, self.options = store, suffix, options
        # Named now, not in on_write_start: the sink travels to the write tasks.
        self.job_id = core.start_job(store, job_id)
        self.result: JobResult | None = None

    def get_name(self) -> str:
        return "OmnistorageRecords"

    def write(self, blocks: Iterable[Any], ctx: Any) -> dict[str, Any]:
        """One write task: its blocks' rows as task ``ctx.task_idx``'s attempt."""

        def rows() -> Iterable[dict[str, Any]]:
            for block in blocks:
                yield from core.plain_records(
                    BlockAccessor.for_block(block).iter_rows(public_row_format=True)
                )

        return core.write_partition(
            self.store, self.job_id, int(ctx.task_idx), rows(), self.suffix, self.options
        )

    def on_write_complete(self, write_result: Any) -> None:
        tasks = sorted(int(r["task"]) for r in write_result.write_returns)
        if tasks != list(range(len(tasks))):
            core.abort_job(self.store, self.job_id)
            raise RuntimeError(f"write tasks {tasks} are not 0..{len(tasks) - 1}")
        self.result = core.commit_job(self.store, self.job_id, len(tasks))

    def on_write_failed(self, error: Exception) -> None:
        core.abort_job(self.store, self.job_id)


class RecordDatasource(Datasource):
    """The latest committed record dataset at ``store``: one read task per shard, each
    checked against the manifest (size, record count, seal). Records that are JSON
    objects become rows; other records (bytes of a length-prefixed format, CSV rows
    without a header) become rows of one column, ``item``. ``options`` go to
    :func:`omnistorage.records.open_reader`."""

    def __init__(self, store: StoreSpec, **options: Any) -> None:
        self.store, self.options = store, options
        self.shards = core.dataset_shards(store)

    def get_name(self) -> str:
        return "OmnistorageRecords"

    def estimate_inmemory_data_size(self) -> int | None:
        return sum(int(shard["size"]) for shard in self.shards)

    def get_read_tasks(
        self,
        parallelism: int,
        per_task_row_limit: int | None = None,
        data_context: Any = None,
    ) -> list[ReadTask]:
        store, options = self.store, self.options
        tasks = []
        for shard in self.shards:

            def read(shard: dict[str, Any] = shard) -> list[Any]:
                records = core.read_shard(store, shard, **options)
                rows = [r if isinstance(r, dict) else {"item": r} for r in records]
                return [pyarrow.Table.from_pylist(rows)]

            metadata = BlockMetadata(
                num_rows=int(shard["records"]),
                size_bytes=int(shard["size"]),
                exec_stats=None,
                input_files=(str(shard["path"]),),
            )
            tasks.append(ReadTask(read, metadata, per_task_row_limit=per_task_row_limit))
        return tasks


def write_dataset(dataset: Any, store: StoreSpec, **options: Any) -> JobResult:
    """Write a Ray Dataset through :class:`RecordDatasink` and return the job's result."""
    sink = RecordDatasink(store, **options)
    dataset.write_datasink(sink)
    assert sink.result is not None  # on_write_complete ran on this driver
    return sink.result


def read_dataset(store: StoreSpec, **options: Any) -> Any:
    """The latest committed dataset at ``store`` as a Ray Dataset (one block per shard)."""
    import ray.data

    return ray.data.read_datasource(RecordDatasource(store, **options))
