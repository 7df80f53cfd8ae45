"""What the distributed tests share: trees, an S3 destination with rclone as the oracle,
and one harness per engine (a Dask LocalCluster, a local Ray instance) that starts the
cluster with a secret in its workers' environment and knows how to kill a worker, run
a driver in another process and record what the tasks pickle."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omnistorage import Store
from omnistorage.distributed import Engine, StoreSpec
from tests.support.remote import _s3_bucket
from tests.support.servers import server_env
from tests.sync.conftest import rclone
from tests.sync.test_rclone_oracle import moto_env

__all__ = [
    "ROOT",
    "SECRET",
    "DaskHarness",
    "RayHarness",
    "make_tree",
    "omnistorage_command",
    "rclone_agrees",
    "s3_spec",
    "secret_env",
]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "omni-cluster-s3cr3t-" + os.urandom(6).hex()
"""The S3 secret key the workers inherit from their environment (moto accepts any)."""


@contextlib.contextmanager
def secret_env() -> Iterator[None]:
    """This process's environment, which the workers inherit, holds the secret."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        yield


def s3_spec() -> tuple[StoreSpec, Store]:
    env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
    root = f"dist-{time.monotonic_ns()}"
    query = f"endpoint_url={env['OMNI_TEST_S3_ENDPOINT']}&region={env['OMNI_TEST_S3_REGION']}"
    spec = StoreSpec(f"s3://{_s3_bucket()}/{root}?{query}")
    return spec, spec.open()


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


def omnistorage_command(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m omnistorage ARGS`` with the workers' credentials in its environment."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": SECRET}
    return subprocess.run(
        [sys.executable, "-m", "omnistorage", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=str(ROOT),
    )


class DaskHarness:
    """A LocalCluster of 2 worker processes with 2 threads each."""

    name = "dask"
    driver_script = """
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

    def __init__(self) -> None:
        distributed = pytest.importorskip("distributed")
        self._cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
        )
        self.client = distributed.Client(self._cluster)
        self.address = self.client.scheduler.address
        """Where a driver in another process (and the command's --cluster) connects."""
        self.cluster_option = self.address
        self._pids = list(self.client.run(os.getpid).values())

    def engine(self) -> Engine:
        from omnistorage.distributed.dask import DaskEngine

        return DaskEngine(self.client)

    def kill_a_worker(self) -> bool:
        os.kill(self._pids[0], signal.SIGKILL)  # its chunks run again on the other one
        return True

    def recover(self) -> None:
        self.client.wait_for_workers(2, timeout=60)
        self._pids = list(self.client.run(os.getpid).values())

    def worker_env(self, name: str) -> str | None:
        values = self.client.run(lambda: os.environ.get(name))
        return next(iter(values.values()))

    def record_payloads(self, monkeypatch: pytest.MonkeyPatch, payloads: list[bytes]) -> None:
        import cloudpickle

        submit = self.client.submit

        def recording_submit(fn: Any, *args: Any, **kwargs: Any) -> Any:
            payloads.append(cloudpickle.dumps((fn, args, kwargs)))
            return submit(fn, *args, **kwargs)

        monkeypatch.setattr(self.client, "submit", recording_submit)

    def close(self) -> None:
        self.client.close()
        self._cluster.close()


class RayHarness:
    """A local Ray instance of 2 CPUs (worker processes)."""

    name = "ray"
    driver_script = """
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
    cluster_option = "ray:auto"  # the command joins the instance running on this machine

    def __init__(self) -> None:
        self._ray = pytest.importorskip("ray")
        context = self._ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        self.address = context.address_info["gcs_address"]

    def engine(self) -> Engine:
        from omnistorage.distributed.ray import RayEngine

        return RayEngine()

    def kill_a_worker(self) -> bool:
        """Kill a worker process of this instance running a chunk (Ray runs it again)."""
        for _ in range(50):
            victims = _running_chunk_pids()
            if victims:
                os.kill(victims[0], signal.SIGKILL)
                return True
            time.sleep(0.05)
        return False

    def recover(self) -> None:
        return None

    def worker_env(self, name: str) -> str | None:
        probe = self._ray.remote(lambda: os.environ.get(name))
        value: str | None = self._ray.get(probe.remote())
        return value

    def record_payloads(self, monkeypatch: pytest.MonkeyPatch, payloads: list[bytes]) -> None:
        import cloudpickle

        from omnistorage.distributed.ray import RayEngine

        run = RayEngine.run

        def recording_run(engine: Any, fn: Any, calls: Any) -> Any:
            # What Ray ships to a worker: the function and each call's arguments.
            payloads.extend(cloudpickle.dumps((fn, call)) for call in calls)
            return run(engine, fn, calls)

        monkeypatch.setattr(RayEngine, "run", recording_run)

    def close(self) -> None:
        self._ray.shutdown()


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
