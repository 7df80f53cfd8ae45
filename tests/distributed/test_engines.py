"""Distributed sync, copy and check on each engine (a Dask LocalCluster, a local Ray
instance; worker processes) against real stores (local folders, the S3 server), with
rclone as the oracle: equal to a single-process run, a worker killed mid-chunk, a
driver killed mid-job and resumed, no credential in what the tasks pickle, and the
command with progress across workers."""

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
from omnistorage.sync import check as check_trees
from omnistorage.sync import sync as single_sync
from tests.support.cluster import (
    ROOT,
    SECRET,
    DaskHarness,
    RayHarness,
    make_tree,
    omnistorage_command,
    rclone_agrees,
    s3_spec,
    secret_env,
)
from tests.support.remote import wipe

pytestmark = pytest.mark.server

Harness = DaskHarness | RayHarness


@pytest.fixture(scope="module", params=["dask", "ray"])
def cluster(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """One cluster per engine for the module, its workers holding the secret."""
    with secret_env():
        harness = DaskHarness() if request.param == "dask" else RayHarness()
        try:
            yield harness
        finally:
            harness.close()


def test_sync_to_s3_equals_a_single_process_sync(cluster: Harness, tmp_path: Path) -> None:
    make_tree(tmp_path / "src", 120)
    dst_spec, dst = s3_spec()
    dst.write("p1/extra", b"to delete")
    ref = Store(LocalBackend(tmp_path / "ref"))
    ref.write("p1/extra", b"to delete")
    expected = single_sync(Store(LocalBackend(tmp_path / "src")), ref)
    try:
        report = sync(
            cluster.engine(),
            StoreSpec(str(tmp_path / "src")),
            dst_spec,
            StoreSpec(str(tmp_path / "state")),
        )
        assert report.ok, report.errors
        assert report.counts == expected.counts
        assert sorted(report.copied) == sorted(expected.copied)
        assert report.deleted == ["p1/extra"]
        rclone_agrees(tmp_path / "src", dst)
        chunks = len(list((tmp_path / "state" / "chunks").iterdir()))
        assert chunks > 1  # the default size (at least 50 actions) still splits 121 files
    finally:
        wipe(dst)


def test_a_worker_killed_mid_chunk_costs_only_its_chunk(cluster: Harness, tmp_path: Path) -> None:
    make_tree(tmp_path / "src", 90)
    dst_spec, dst = s3_spec()
    killed: list[bool] = []

    def kill_a_worker(done: int, total: int, result: dict[str, object]) -> None:
        if not killed:  # other chunks are running now (tpslimit keeps each ~1 s)
            killed.append(cluster.kill_a_worker())

    try:
        report = copy(
            cluster.engine(),
            StoreSpec(str(tmp_path / "src")),
            dst_spec,
            StoreSpec(str(tmp_path / "state")),
            chunk_size=8,
            tpslimit=8,
            on_chunk=kill_a_worker,
        )
        assert killed == [True], "no worker was running a chunk when the first one ended"
        assert report.ok, report.errors
        assert report.counts["copied"] == 91
        rclone_agrees(tmp_path / "src", dst)
    finally:
        cluster.recover()
        wipe(dst)


def test_a_driver_killed_mid_job_resumes_and_copies_only_what_was_left(
    cluster: Harness, tmp_path: Path
) -> None:
    make_tree(tmp_path / "src", 80)
    dst_spec, dst = s3_spec()
    dst.write("p2/extra", b"to delete")
    state = tmp_path / "state"
    args = [str(tmp_path / "src"), dst_spec.address, str(state)]
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-c", cluster.driver_script, cluster.address, *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
        cwd=str(ROOT),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # one chunk recorded: the job is mid-way
        assert first, "the driver ended before any chunk finished"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        time.sleep(2)  # chunks in flight on the workers may still finish and record
        recorded = {int(p.stem) for p in (state / "results").iterdir()}
        total = len(list((state / "chunks").iterdir()))
        assert 0 < len(recorded) < total
        assert dst.exists("p2/extra"), "a delete ran before every chunk succeeded"
        rerun: list[int] = []
        report = sync(
            cluster.engine(),
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
    cluster: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "src", 20)
    dst_spec, dst = s3_spec()
    payloads: list[bytes] = []
    cluster.record_payloads(monkeypatch, payloads)
    try:
        report = sync(
            cluster.engine(),
            StoreSpec(str(tmp_path / "src")),
            dst_spec,
            StoreSpec(str(tmp_path / "state")),
        )
        assert report.ok, report.errors
        assert payloads, "no task was submitted"
        # The workers did authenticate with the secret (from their own environment).
        assert cluster.worker_env("AWS_SECRET_ACCESS_KEY") == SECRET
        for payload in payloads:
            assert SECRET.encode() not in payload
        for state_file in (tmp_path / "state").rglob("*"):
            if state_file.is_file():
                assert SECRET.encode() not in state_file.read_bytes()
    finally:
        wipe(dst)


def test_the_sync_command_runs_on_the_cluster_with_progress_across_workers(
    cluster: Harness, tmp_path: Path
) -> None:
    make_tree(tmp_path / "src", 60)
    dst_spec, dst = s3_spec()
    dst.write("p3/extra", b"to delete")
    try:
        done = omnistorage_command(
            "sync",
            str(tmp_path / "src"),
            dst_spec.address,
            "--cluster",
            cluster.cluster_option,
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


def test_check_reports_what_a_single_process_check_does(cluster: Harness, tmp_path: Path) -> None:
    make_tree(tmp_path / "src", 40)
    dst_spec, dst = s3_spec()
    try:
        single_sync(Store(LocalBackend(tmp_path / "src")), dst)
        dst.write("p0/s0/f0000.bin", b"changed", overwrite=True)  # differs
        dst.delete("p1/s1/f0001.bin")  # missing on the destination
        dst.write("p4/extra", b"only here")  # missing on the source
        expected = check_trees(Store(LocalBackend(tmp_path / "src")), dst)
        report = distributed_check(
            cluster.engine(),
            StoreSpec(str(tmp_path / "src")),
            dst_spec,
            StoreSpec(str(tmp_path / "state")),
            chunk_size=7,
        )
        got: dict[str, Any] = report.to_dict()
        want: dict[str, Any] = expected.to_dict()
        got.pop("duration"), want.pop("duration")
        assert got == want
        assert report.differ == ["p0/s0/f0000.bin"]
        assert report.missing_on_dst == ["p1/s1/f0001.bin"]
        assert report.missing_on_src == ["p4/extra"]
        assert len(list((tmp_path / "state" / "check").iterdir())) > 1
        # The command: the same result, exit 3 (the trees differ), progress per chunk.
        done = omnistorage_command(
            "check",
            str(tmp_path / "src"),
            dst_spec.address,
            "--cluster",
            cluster.cluster_option,
            "--state",
            str(tmp_path / "state2"),
        )
        assert done.returncode == 3, done.stderr[-2000:]
        assert "* p0/s0/f0000.bin" in done.stdout
        assert "+ p1/s1/f0001.bin" in done.stdout
        assert "- p4/extra" in done.stdout
        assert any(line.startswith("chunk ") for line in done.stderr.splitlines())
    finally:
        wipe(dst)
