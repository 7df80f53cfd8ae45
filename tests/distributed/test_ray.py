"""Distributed sync on a real local Ray instance (worker processes) against real stores
(local folders, the S3 server), with rclone as the oracle: a worker killed mid-chunk,
a driver killed mid-job and resumed, and no credential in what a task pickles."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omnistorage import LocalBackend, Store
from omnistorage.distributed import StoreSpec, copy, sync
from omnistorage.distributed import check as distributed_check
from omnistorage.errors import ConfigurationError
from omnistorage.sync import check as check_trees
from omnistorage.sync import sync as single_sync
from tests.distributed.test_dask import make_tree, rclone_agrees, s3_spec
from tests.support.remote import wipe

ray = pytest.importorskip("ray")
cloudpickle = pytest.importorskip("cloudpickle")

from omnistorage.distributed.ray import RayEngine  # noqa: E402

pytestmark = pytest.mark.server

SECRET = "omni-ray-s3cr3t-" + os.urandom(6).hex()
"""The S3 secret key the Ray workers inherit from their environment (moto accepts any)."""


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[str]:
    """One local Ray instance (2 CPUs, worker processes) for the module; its address."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            yield context.address_info["gcs_address"]
        finally:
            ray.shutdown()


def _descends_from_us(pid: int) -> bool:
    """Whether ``pid`` is a process of this test's Ray instance (ray.init started its
    raylet as our child; the workers are the raylet's), not another Ray on this machine."""
    me = os.getpid()
    for _ in range(8):
        try:
            stat = (Path("/proc") / str(pid) / "stat").read_text()
        except OSError:
            return False
        pid = int(stat.rpartition(")")[2].split()[1])  # the parent's pid
        if pid == me:
            return True
        if pid <= 1:
            return False
    return False


def _running_chunk_pids() -> list[int]:
    """This instance's worker processes running a chunk now (titled ``ray::run_chunk``)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"ray::run_chunk") and _descends_from_us(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def test_the_engine_needs_a_ray_connection_and_sane_options(ray_instance: str) -> None:
    with pytest.raises(ConfigurationError, match="num_cpus"):
        RayEngine(num_cpus=0)
    with pytest.raises(ConfigurationError, match="max_retries"):
        RayEngine(max_retries=-1)
    assert RayEngine(num_cpus=0.5).workers == 4


def test_sync_to_s3_on_ray_equals_a_single_process_sync(ray_instance: str, tmp_path: Path) -> None:
    make_tree(tmp_path / "src", 120)
    dst_spec, dst = s3_spec()
    dst.write("p1/extra", b"to delete")
    ref = Store(LocalBackend(tmp_path / "ref"))
    ref.write("p1/extra", b"to delete")
    expected = single_sync(Store(LocalBackend(tmp_path / "src")), ref)
    try:
        report = sync(
            RayEngine(),
            StoreSpec(str(tmp_path / "src")),
            dst_spec,
            StoreSpec(str(tmp_path / "state")),
        )
        assert report.ok, report.errors
        assert report.counts == expected.counts
        assert sorted(report.copied) == sorted(expected.copied)
        assert report.deleted == ["p1/extra"]
        rclone_agrees(tmp_path / "src", dst)
        assert len(list((tmp_path / "state" / "chunks").iterdir())) > 1
    finally:
        wipe(dst)


def test_a_worker_killed_mid_chunk_costs_only_its_chunk(ray_instance: str, tmp_path: Path) -> None:
    make_tree(tmp_path / "src", 90)
    dst_spec, dst = s3_spec()
    killed: list[int] = []

    def kill_a_running_chunk(done: int, total: int, result: dict[str, object]) -> None:
        if killed:
            return
        for _ in range(50):  # other chunks are running now (tpslimit keeps each ~1 s)
            victims = _running_chunk_pids()
            if victims:
                os.kill(victims[0], signal.SIGKILL)
                killed.append(victims[0])
                return
            time.sleep(0.05)

    try:
        report = copy(
            RayEngine(),
            StoreSpec(str(tmp_path / "src")),
            dst_spec,
            StoreSpec(str(tmp_path / "state")),
            chunk_size=8,
            tpslimit=8,
            on_chunk=kill_a_running_chunk,
        )
        assert killed, "no chunk was running when the first one ended"
        assert report.ok, report.errors
        assert report.counts["copied"] == 91
        rclone_agrees(tmp_path / "src", dst)
    finally:
        wipe(dst)


DRIVER_SCRIPT = """
import sys
import ray
from omnistorage.distributed import StoreSpec, sync
from omnistorage.distributed.ray import RayEngine

address, src, dst, state = sys.argv[1:5]
ray.init(address=address, log_to_driver=False)
def note(done, total, result):
    print(done, total, flush=True)
sync(RayEngine(), StoreSpec(src), StoreSpec(dst), StoreSpec(state),
     chunk_size=6, tpslimit=6, on_chunk=note)
"""


def test_a_driver_killed_mid_job_resumes_and_copies_only_what_was_left(
    ray_instance: str, tmp_path: Path
) -> None:
    make_tree(tmp_path / "src", 80)
    dst_spec, dst = s3_spec()
    dst.write("p2/extra", b"to delete")
    state = tmp_path / "state"
    args = [str(tmp_path / "src"), dst_spec.address, str(state)]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER_SCRIPT, ray_instance, *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(Path(__file__).parents[2]),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # one chunk recorded: the job is mid-way
        assert first, "the driver ended before any chunk finished"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        time.sleep(2)  # chunks in flight may still finish and record
        recorded = {int(p.stem) for p in (state / "results").iterdir()}
        total = len(list((state / "chunks").iterdir()))
        assert 0 < len(recorded) < total
        assert dst.exists("p2/extra"), "a delete ran before every chunk succeeded"
        rerun: list[int] = []
        report = sync(
            RayEngine(),
            StoreSpec(args[0]),
            dst_spec,
            StoreSpec(str(state)),
            on_chunk=lambda done, total, result: rerun.append(int(result["index"])),  # type: ignore[call-overload]
        )
        assert report.ok, report.errors
        assert any("resumed job" in w for w in report.warnings)
        late = {int(p.stem) for p in (state / "results").iterdir()} - recorded
        assert set(rerun) <= set(range(total)) - recorded
        assert len(late) >= len(rerun)
        assert report.counts["copied"] == 81
        assert report.deleted == ["p2/extra"]
        rclone_agrees(tmp_path / "src", dst)
    finally:
        if proc.poll() is None:
            proc.kill()
        wipe(dst)


def test_no_secret_in_any_tasks_pickled_payload(
    ray_instance: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "src", 20)
    dst_spec, dst = s3_spec()
    payloads: list[bytes] = []
    run = RayEngine.run

    def recording_run(self: RayEngine, fn: Any, calls: Any) -> Any:
        # What Ray ships to a worker: the function and each call's arguments.
        payloads.extend(cloudpickle.dumps((fn, call)) for call in calls)
        return run(self, fn, calls)

    monkeypatch.setattr(RayEngine, "run", recording_run)
    try:
        report = sync(
            RayEngine(),
            StoreSpec(str(tmp_path / "src")),
            dst_spec,
            StoreSpec(str(tmp_path / "state")),
        )
        assert report.ok, report.errors
        assert payloads, "no task was submitted"
        # The workers did authenticate with the secret (from their own environment).
        probe = ray.remote(lambda: os.environ.get("AWS_SECRET_ACCESS_KEY"))
        assert ray.get(probe.remote()) == SECRET
        for payload in payloads:
            assert SECRET.encode() not in payload
        for state_file in (tmp_path / "state").rglob("*"):
            if state_file.is_file():
                assert SECRET.encode() not in state_file.read_bytes()
    finally:
        wipe(dst)


def _omnistorage(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": SECRET}
    return subprocess.run(
        [sys.executable, "-m", "omnistorage", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=str(Path(__file__).parents[2]),
    )


def test_the_sync_command_runs_on_ray_with_progress_across_workers(
    ray_instance: str, tmp_path: Path
) -> None:
    make_tree(tmp_path / "src", 60)
    dst_spec, dst = s3_spec()
    dst.write("p3/extra", b"to delete")
    try:
        # ray:auto joins the Ray instance running on this machine (the module's).
        done = _omnistorage(
            "sync",
            str(tmp_path / "src"),
            dst_spec.address,
            "--cluster",
            "ray:auto",
            "--state",
            str(tmp_path / "state"),
        )
        assert done.returncode == 0, done.stderr[-2000:]
        chunks = len(list((tmp_path / "state" / "chunks").iterdir()))
        progress = [line for line in done.stderr.splitlines() if line.startswith("chunk ")]
        assert len(progress) == chunks
        assert progress[-1].startswith(f"chunk {chunks}/{chunks} done")
        assert "copied 61" in done.stdout + done.stderr
        assert "deleted 1" in done.stdout + done.stderr
        rclone_agrees(tmp_path / "src", dst)
    finally:
        wipe(dst)


@pytest.mark.parametrize("address", ["ray:", "ray:somewhere", "ray://"])
def test_a_malformed_ray_address_is_a_usage_error(address: str, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    done = _omnistorage(
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


def test_check_on_ray_reports_what_a_single_process_check_does(
    ray_instance: str, tmp_path: Path
) -> None:
    make_tree(tmp_path / "src", 30)
    dst_spec, dst = s3_spec()
    try:
        single_sync(Store(LocalBackend(tmp_path / "src")), dst)
        dst.write("p2/s2/f0002.bin", b"changed", overwrite=True)
        dst.write("p3/extra", b"only here")
        expected = check_trees(Store(LocalBackend(tmp_path / "src")), dst)
        report = distributed_check(
            RayEngine(),
            StoreSpec(str(tmp_path / "src")),
            dst_spec,
            StoreSpec(str(tmp_path / "state")),
            chunk_size=6,
        )
        got, want = report.to_dict(), expected.to_dict()
        got.pop("duration"), want.pop("duration")
        assert got == want
        assert report.differ == ["p2/s2/f0002.bin"]
        assert report.missing_on_src == ["p3/extra"]
    finally:
        wipe(dst)


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
