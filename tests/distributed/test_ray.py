"""Ray-only parts (the distributed sync, copy and check shared with Dask are in
test_engines.py): the engine's options, malformed Ray addresses on the command line, and
record datasets through Ray Data's Datasink/Datasource with the job commit, against the
S3 server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omnistorage.errors import ConfigurationError
from tests.support.cluster import (
    SECRET,
    omnistorage_command,
    s3_spec,
)
from tests.support.remote import wipe

ray = pytest.importorskip("ray")
cloudpickle = pytest.importorskip("cloudpickle")

from omnistorage.distributed.ray import RayEngine  # noqa: E402

pytestmark = pytest.mark.server


def test_the_engine_needs_a_ray_connection_and_sane_options(ray_instance: str) -> None:
    with pytest.raises(ConfigurationError, match="num_cpus"):
        RayEngine(num_cpus=0)
    with pytest.raises(ConfigurationError, match="max_retries"):
        RayEngine(max_retries=-1)
    assert RayEngine(num_cpus=0.5).workers == 4


@pytest.mark.parametrize("address", ["ray:", "ray:somewhere", "ray://"])
def test_a_malformed_ray_address_is_a_usage_error(address: str, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    done = omnistorage_command(
        "copy",
        str(tmp_path / "src"),
        str(tmp_path / "dst"),
        "--cluster",
        address,
        "--state",
        str(tmp_path / "state"),
        timeout=60,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "ray://HOST:PORT, ray:auto or ray:local" in done.stderr
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------- record datasets


def _events(n: int) -> list[dict[str, Any]]:
    return [{"id": i, "user": f"u{i % 7}", "value": i * 0.5} for i in range(n)]


def test_a_ray_dataset_written_with_the_job_commit_reads_back_one_block_per_shard(
    ray_instance: str,
) -> None:
    from omnistorage.distributed.ray_data import RecordDatasource, read_dataset, write_dataset
    from omnistorage.jobs import open_dataset

    spec, store = s3_spec()
    try:
        rows = _events(300)
        result = write_dataset(ray.data.from_items(rows, override_num_blocks=4), spec)
        dataset = open_dataset(store)
        assert dataset.records_count == 300
        assert len(result.shards) == len(dataset.shards) >= 1
        assert sorted(s.task for s in dataset.shards) == list(range(len(dataset.shards)))
        source = RecordDatasource(spec)
        assert len(source.get_read_tasks(8)) == len(dataset.shards)  # one per shard
        back = read_dataset(spec).take_all()
        assert sorted(back, key=lambda r: r["id"]) == rows
        # No credential travels with the sink or the source.
        assert SECRET.encode() not in cloudpickle.dumps(source)
    finally:
        wipe(store)


def test_a_failed_ray_write_leaves_no_dataset(ray_instance: str) -> None:
    import math
    from datetime import timedelta

    from omnistorage.distributed.ray_data import RecordDatasink
    from omnistorage.jobs import DatasetNotFound, open_dataset

    spec, store = s3_spec()
    try:
        rows: list[dict[str, Any]] = _events(60)
        rows[55] = {"id": 55, "user": "u", "value": math.inf}  # NDJSON refuses Infinity
        sink = RecordDatasink(spec)
        assert SECRET.encode() not in cloudpickle.dumps(sink)
        with pytest.raises(Exception, match=r"(?i)infinity|nan"):
            ray.data.from_items(rows, override_num_blocks=3).write_datasink(sink)
        with pytest.raises(DatasetNotFound):
            open_dataset(store)
        visible = [info.path for info in store.list_files(recursive=True)]
        assert all(path.startswith("_jobs/") for path in visible), visible
        assert list(store.cleanup(older_than=timedelta(0), dry_run=True).removed) == []
    finally:
        wipe(store)
