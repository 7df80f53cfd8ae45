"""The Dask distributed adapter (the ``dask`` extra): :class:`DaskEngine` for sync, copy
and check, and record datasets: :func:`write_bag`/:func:`write_dataframe` with the job
commit, :func:`read_bag`/:func:`read_dataframe` with one partition per shard.

>>> from distributed import Client, LocalCluster          # doctest: +SKIP
>>> engine = DaskEngine(Client(LocalCluster(n_workers=2)))  # doctest: +SKIP

Each call is one task (``pure=False``: a retried job runs it again). When a worker
dies mid-task the scheduler runs the task again on another worker (Dask's
``distributed.scheduler.allowed-failures`` bounds how often); the chunk it was running
is then copied again, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

try:
    from distributed import Client, as_completed
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    from omnistorage.errors import DependencyMissing

    raise DependencyMissing(
        "omnistorage.distributed.dask needs Dask distributed: pip install 'omnistorage[dask]'"
    ) from exc

from omnistorage.distributed import _records as core
from omnistorage.distributed._spec import StoreSpec
from omnistorage.jobs import JobResult

__all__ = ["DaskEngine", "read_bag", "read_dataframe", "write_bag", "write_dataframe"]


class DaskEngine:
    """Runs the core's calls as tasks of ``client`` (a :class:`distributed.Client`)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    @property
    def workers(self) -> int:
        """Worker threads of the cluster now (at least 1)."""
        info = self.client.scheduler_info()
        threads = sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values())
        return max(1, threads)

    def run(
        self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        futures = [self.client.submit(fn, *call, pure=False) for call in calls]
        position = {future.key: n for n, future in enumerate(futures)}
        try:
            for future in as_completed(futures):  # type: ignore[no-untyped-call]
                try:
                    outcome = future.result()
                except Exception as exc:  # noqa: BLE001 - handed to the core, which records it
                    outcome = exc
                yield position[future.key], outcome
        finally:
            self.client.cancel([f for f in futures if not f.done()])  # type: ignore[no-untyped-call]


# ---------------------------------------------------------------- record datasets


def write_bag(
    bag: Any,
    store: StoreSpec,
    *,
    suffix: str = ".ndjson.zst",
    job_id: str | None = None,
    **options: Any,
) -> JobResult:
    """Write a ``dask.bag`` of records as a dataset at ``store``, with the job commit.

    Each partition is one task attempt on a worker, written as one shard through the
    record pipeline (``suffix`` names the format and codec; ``options`` are
    :func:`omnistorage.records.open_writer`'s). When every partition is written the
    job is committed (one attempt per partition, the manifest last); when one fails the
    job is aborted and the error raised, and nothing is visible. Runs on the current
    Dask scheduler (the active :class:`distributed.Client`)."""
    return _write(bag.to_delayed(), store, suffix, job_id, options, rows=False)


def write_dataframe(
    frame: Any,
    store: StoreSpec,
    *,
    suffix: str = ".ndjson.zst",
    job_id: str | None = None,
    **options: Any,
) -> JobResult:
    """Write a ``dask.dataframe`` as a dataset at ``store``, one record (a JSON object of
    the row's columns) per row, as :func:`write_bag` writes records. A missing value
    (NaN, NaT, ``None``) is written as ``null``, numpy numbers as JSON numbers, datetimes
    as ISO 8601 text."""
    return _write(frame.to_delayed(), store, suffix, job_id, options, rows=True)


def read_bag(store: StoreSpec, **options: Any) -> Any:
    """The latest committed dataset at ``store`` as a ``dask.bag``: one partition per
    shard, each read on a worker and checked against the manifest (size, record count,
    seal). ``options`` go to :func:`omnistorage.records.open_reader`."""
    import dask.bag
    from dask.delayed import delayed

    parts = [
        delayed(core.read_shard)(store, shard, **options) for shard in core.dataset_shards(store)
    ]
    return dask.bag.from_delayed(parts)  # type: ignore[no-untyped-call]


def read_dataframe(store: StoreSpec, *, meta: Any = None, **options: Any) -> Any:
    """The latest committed dataset at ``store`` as a ``dask.dataframe``, one partition per
    shard, each record (a JSON object) a row. ``meta`` (an empty pandas DataFrame with
    the columns and dtypes) saves Dask from reading a partition to learn them."""
    import dask.dataframe
    import pandas  # type: ignore[import-untyped]
    from dask.delayed import delayed

    def frame(shard: dict[str, Any]) -> Any:
        return pandas.DataFrame.from_records(core.read_shard(store, shard, **options))

    parts = [delayed(frame)(shard) for shard in core.dataset_shards(store)]
    return dask.dataframe.from_delayed(parts, meta=meta, verify_meta=False)


def _write(
    parts: list[Any],
    store: StoreSpec,
    suffix: str,
    job_id: str | None,
    options: dict[str, Any],
    *,
    rows: bool,
) -> JobResult:
    from dask.base import compute
    from dask.delayed import delayed

    job = core.start_job(store, job_id)
    source = [delayed(_frame_records)(part) for part in parts] if rows else parts
    tasks = [
        delayed(core.write_partition, pure=False)(store, job, n, records, suffix, options)
        for n, records in enumerate(source)
    ]
    try:
        compute(*tasks)  # type: ignore[no-untyped-call]
    except BaseException:
        core.abort_job(store, job)
        raise
    return core.commit_job(store, job, len(tasks))


def _frame_records(frame: Any) -> list[dict[str, Any]]:
    return list(core.plain_records(frame.to_dict("records")))
