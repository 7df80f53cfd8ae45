"""Distributed sync on a real Dask LocalCluster (worker processes) against real stores
(local folders, the S3 server), with rclone as the oracle: a worker killed mid-chunk,
a client killed mid-job and resumed, and no credential in any task's pickled payload."""

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
from tests.support.remote import _s3_bucket, wipe
from tests.support.servers import server_env
from tests.sync.conftest import rclone

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

from omnistorage.distributed.dask import DaskEngine  # noqa: E402

pytestmark = pytest.mark.server

SECRET = "omni-dist-s3cr3t-" + os.urandom(6).hex()
"""The S3 secret key the workers inherit from their environment (moto accepts any)."""


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """One LocalCluster (2 worker processes, 2 threads each) for the module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
        patch.delenv("AWS_PROFILE", raising=False)
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
        )
        with distributed.Client(cluster) as dask_client:
            yield dask_client
        cluster.close()


def s3_spec() -> tuple[StoreSpec, Store]:
    env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
    root = f"dist-{time.monotonic_ns()}"
    query = f"endpoint_url={env['OMNI_TEST_S3_ENDPOINT']}&region={env['OMNI_TEST_S3_REGION']}"
    spec = StoreSpec(f"s3://{_s3_bucket()}/{root}?{query}")
    return spec, spec.open()


def moto_env() -> dict[str, str]:
    env = server_env("OMNI_TEST_S3_ENDPOINT")
    return {
        "RCLONE_CONFIG_MOTO_TYPE": "s3",
        "RCLONE_CONFIG_MOTO_PROVIDER": "Other",
        "RCLONE_CONFIG_MOTO_ENDPOINT": env["OMNI_TEST_S3_ENDPOINT"],
        "RCLONE_CONFIG_MOTO_ACCESS_KEY_ID": "testing",
        "RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY": "testing",
        "RCLONE_CONFIG_MOTO_REGION": "us-east-1",
        "RCLONE_CONFIG_MOTO_FORCE_PATH_STYLE": "true",
    }


def rclone_agrees(src: Path, dst: Store) -> None:
    """rclone check (sizes and MD5s, both ways) finds no difference."""
    remote = "moto:" + dst.native_path("").removeprefix("s3://")
    out = rclone("check", str(src), remote, "--combined", "-", env=moto_env(), check=False)
    differences = [line for line in out.splitlines() if line and not line.startswith("=")]
    assert differences == [], differences[:10]


def make_tree(root: Path, files: int) -> None:
    for i in range(files):
        target = root / f"p{i % 5}" / f"s{i % 3}" / f"f{i:04d}.bin"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(os.urandom(64 + i % 200))
    (root / "top.txt").write_bytes(b"top")


def test_sync_to_s3_on_dask_equals_a_single_process_sync(client: Any, tmp_path: Path) -> None:
    make_tree(tmp_path / "src", 120)
    dst_spec, dst = s3_spec()
    dst.write("p1/extra", b"to delete")
    ref = Store(LocalBackend(tmp_path / "ref"))
    ref.write("p1/extra", b"to delete")
    expected = single_sync(Store(LocalBackend(tmp_path / "src")), ref)
    try:
        report = sync(
            DaskEngine(client),
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


def test_a_worker_killed_mid_chunk_costs_only_its_chunk(client: Any, tmp_path: Path) -> None:
    make_tree(tmp_path / "src", 90)
    dst_spec, dst = s3_spec()
    pids = client.run(os.getpid)
    killed: list[int] = []

    def kill_one_worker(done: int, total: int, result: dict[str, object]) -> None:
        if not killed:  # other chunks are running now (tpslimit keeps each ~1.5 s)
            victim = next(iter(pids.values()))
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    try:
        report = copy(
            DaskEngine(client),
            StoreSpec(str(tmp_path / "src")),
            dst_spec,
            StoreSpec(str(tmp_path / "state")),
            chunk_size=8,
            tpslimit=8,
            on_chunk=kill_one_worker,
        )
        assert killed
        assert report.ok, report.errors
        assert report.counts["copied"] == 91
        rclone_agrees(tmp_path / "src", dst)
    finally:
        client.wait_for_workers(2, timeout=60)
        wipe(dst)


CLIENT_SCRIPT = """
import sys
from distributed import Client
from omnistorage.distributed import StoreSpec, sync
from omnistorage.distributed.dask import DaskEngine

address, src, dst, state = sys.argv[1:5]
with Client(address) as client:
    def note(done, total, result):
        print(done, total, flush=True)
    sync(DaskEngine(client), StoreSpec(src), StoreSpec(dst), StoreSpec(state),
         chunk_size=6, tpslimit=6, on_chunk=note)
"""


def test_a_client_killed_mid_job_resumes_and_copies_only_what_was_left(
    client: Any, tmp_path: Path
) -> None:
    make_tree(tmp_path / "src", 80)
    dst_spec, dst = s3_spec()
    dst.write("p2/extra", b"to delete")
    state = tmp_path / "state"
    args = [str(tmp_path / "src"), dst_spec.address, str(state)]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-c", CLIENT_SCRIPT, client.scheduler.address, *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(Path(__file__).parents[2]),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # one chunk recorded: the job is mid-way
        assert first, "the client ended before any chunk finished"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        time.sleep(2)  # chunks in flight on the workers may still finish and record
        recorded = {int(p.stem) for p in (state / "results").iterdir()}
        total = len(list((state / "chunks").iterdir()))
        assert 0 < len(recorded) < total
        assert dst.exists("p2/extra"), "a delete ran before every chunk succeeded"
        rerun: list[int] = []
        report = sync(
            DaskEngine(client),
            StoreSpec(args[0]),
            dst_spec,
            StoreSpec(str(state)),
            on_chunk=lambda done, total, result: rerun.append(int(result["index"])),  # type: ignore[call-overload]
        )
        assert report.ok, report.errors
        assert any("resumed job" in w for w in report.warnings)
        late = {int(p.stem) for p in (state / "results").iterdir()} - recorded
        assert set(rerun) <= set(range(total)) - recorded
        assert len(rerun) <= total - len(recorded)
        assert len(late) >= len(rerun)
        assert report.counts["copied"] == 81
        assert report.deleted == ["p2/extra"]
        rclone_agrees(tmp_path / "src", dst)
    finally:
        if proc.poll() is None:
            proc.kill()
        wipe(dst)


def test_no_secret_in_any_tasks_pickled_payload(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "src", 20)
    dst_spec, dst = s3_spec()
    payloads: list[bytes] = []
    submit = client.submit

    def recording_submit(fn: Any, *args: Any, **kwargs: Any) -> Any:
        payloads.append(cloudpickle.dumps((fn, args, kwargs)))
        return submit(fn, *args, **kwargs)

    monkeypatch.setattr(client, "submit", recording_submit)
    try:
        report = sync(
            DaskEngine(client),
            StoreSpec(str(tmp_path / "src")),
            dst_spec,
            StoreSpec(str(tmp_path / "state")),
        )
        assert report.ok, report.errors
        assert payloads, "no task was submitted"
        # The workers did authenticate with the secret (from their own environment).
        assert client.run(lambda: os.environ.get("AWS_SECRET_ACCESS_KEY"))
        for payload in payloads:
            assert SECRET.encode() not in payload
        for state_file in (tmp_path / "state").rglob("*"):
            if state_file.is_file():
                assert SECRET.encode() not in state_file.read_bytes()
    finally:
        wipe(dst)


def test_the_sync_command_runs_on_the_cluster_with_progress_across_workers(
    client: Any, tmp_path: Path
) -> None:
    make_tree(tmp_path / "src", 60)
    dst_spec, dst = s3_spec()
    dst.write("p3/extra", b"to delete")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": SECRET}
    command = [
        sys.executable,
        "-m",
        "omnistorage",
        "sync",
        str(tmp_path / "src"),
        dst_spec.address,
        "--cluster",
        client.scheduler.address,
        "--state",
        str(tmp_path / "state"),
    ]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            cwd=str(Path(__file__).parents[2]),
        )
        assert done.returncode == 0, done.stderr[-2000:]
        chunks = len(list((tmp_path / "state" / "chunks").iterdir()))
        progress = [line for line in done.stderr.splitlines() if line.startswith("chunk ")]
        assert len(progress) == chunks
        assert progress[-1].startswith(f"chunk {chunks}/{chunks} done")
        assert "copied 61" in done.stdout + done.stderr
        assert "deleted 1" in done.stdout + done.stderr
        rclone_agrees(tmp_path / "src", dst)
        refused = subprocess.run(
            [*command[:4], str(tmp_path / "src"), dst_spec.address, "--cluster", "local:1"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            cwd=str(Path(__file__).parents[2]),
        )
        assert refused.returncode == 2
        assert "--state" in refused.stderr
    finally:
        wipe(dst)


def test_check_on_dask_reports_what_a_single_process_check_does(
    client: Any, tmp_path: Path
) -> None:
    make_tree(tmp_path / "src", 40)
    dst_spec, dst = s3_spec()
    try:
        single_sync(Store(LocalBackend(tmp_path / "src")), dst)
        dst.write("p0/s0/f0000.bin", b"changed", overwrite=True)  # differs
        dst.delete("p1/s1/f0001.bin")  # missing on the destination
        dst.write("p4/extra", b"only here")  # missing on the source
        expected = check_trees(Store(LocalBackend(tmp_path / "src")), dst)
        report = distributed_check(
            DaskEngine(client),
            StoreSpec(str(tmp_path / "src")),
            dst_spec,
            StoreSpec(str(tmp_path / "state")),
            chunk_size=7,
        )
        got, want = report.to_dict(), expected.to_dict()
        got.pop("duration"), want.pop("duration")
        assert got == want
        assert report.differ == ["p0/s0/f0000.bin"]
        assert report.missing_on_dst == ["p1/s1/f0001.bin"]
        assert report.missing_on_src == ["p4/extra"]
        assert len(list((tmp_path / "state" / "check").iterdir())) > 1
        # The command: the same result, exit 3 (the trees differ), progress per chunk.
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": SECRET}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "omnistorage",
                "check",
                str(tmp_path / "src"),
                dst_spec.address,
                "--cluster",
                client.scheduler.address,
                "--state",
                str(tmp_path / "state2"),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            cwd=str(Path(__file__).parents[2]),
        )
        assert done.returncode == 3, done.stderr[-2000:]
        assert "* p0/s0/f0000.bin" in done.stdout
        assert "+ p1/s1/f0001.bin" in done.stdout
        assert "- p4/extra" in done.stdout
        assert any(line.startswith("chunk ") for line in done.stderr.splitlines())
    finally:
        wipe(dst)


def test_the_command_takes_a_cluster_profile_of_the_config_file(
    client: Any, tmp_path: Path
) -> None:
    make_tree(tmp_path / "src", 12)
    config = tmp_path / "config.toml"
    config.write_text(f'[clusters.etl]\nengine = "dask"\naddress = "{client.scheduler.address}"\n')

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "omnistorage", "--config", str(config), *args],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=str(Path(__file__).parents[2]),
        )

    done = run(
        "copy",
        str(tmp_path / "src"),
        str(tmp_path / "dst"),
        "--cluster",
        "etl",
        "--state",
        str(tmp_path / "state"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert any(line.startswith("chunk ") for line in done.stderr.splitlines())
    assert len(list((tmp_path / "dst").rglob("*.bin"))) == 12
    unknown = run(
        "copy",
        str(tmp_path / "src"),
        str(tmp_path / "dst"),
        "--cluster",
        "nightly",
        "--state",
        str(tmp_path / "state"),
    )
    assert unknown.returncode == 2
    assert "no cluster profile of that name" in unknown.stderr
    assert "(known: etl)" in unknown.stderr
