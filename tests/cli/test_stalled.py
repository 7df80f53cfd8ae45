"""The command against a server that accepts connections and never answers: it fails
within the retry budget with a typed message, not after minutes with a traceback."""

from __future__ import annotations

import socket
import time

import pytest

from omnistorage._net import DEFAULT_READ_TIMEOUT
from tests.cli.conftest import ProcessRunner
from tests.support.stall import StallingServer


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ls(run: ProcessRunner, endpoint: str) -> tuple[float, str]:
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "key-id",
        "AWS_SECRET_ACCESS_KEY": "secret-key",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    started = time.monotonic()
    result = run("ls", "s3://events", env=env, expect=1)
    return time.monotonic() - started, result.stderr.decode()


@pytest.mark.parametrize("mode", ["silent", "headers"])
def test_ls_of_a_stalled_s3_endpoint_fails_within_the_budget(run: ProcessRunner, mode: str) -> None:
    # The same command against a closed port measures what starting the process costs
    # on this machine now. The budget (15 s) lets the stall add one silent read timeout
    # (10 s) to it; a command that retried the silent server past the budget would add
    # at least two (20 s), which is the bound: what lies between is room for a loaded
    # machine, not a measure of speed.
    baseline, _ = _ls(run, f"http://127.0.0.1:{_closed_port()}")
    with StallingServer(mode) as server:
        elapsed, stderr = _ls(run, server.url)
    assert elapsed - baseline < 2 * DEFAULT_READ_TIMEOUT, (elapsed, baseline)
    assert "backend unavailable" in stderr
    assert "ReadTimeoutError" in stderr
    assert "Traceback" not in stderr
    assert "secret-key" not in stderr
