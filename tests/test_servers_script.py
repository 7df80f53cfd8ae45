"""``scripts/servers.sh``: default ports below the ephemeral range, and a port that cannot
be bound is an error naming the server, the port and the variable that moves it.

These run the script itself against a private state folder; none of them starts a
real server (a port check stops the start first, or a stand-in server fails).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "servers.sh"
PORT_VARIABLES = (
    "OMNI_S3_PORT",
    "OMNI_AZURE_PORT",
    "OMNI_GCS_PORT",
    "OMNI_SFTP_PORT",
    "OMNI_PG_PORT",
    "OMNI_HTTP_PORT",
    "OMNI_HTTPS_PORT",
)


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    except OSError:
        return 32768, 60999  # Linux's default
    return int(low), int(high)


def _run(state: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PORT_VARIABLES}
    clean.update(OMNI_SERVERS_DIR=str(state), **env)
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port held the way a client socket holds its ephemeral port: bound, not listening
    (nothing answers on it, so a connection probe sees it free)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_default_ports_lie_below_the_ephemeral_range(tmp_path: Path) -> None:
    result = _run(tmp_path, "env")
    assert result.returncode == 0, result.stderr
    exported = dict(re.findall(r"^export (\w+)='(.*)'$", result.stdout, re.MULTILINE))
    ports = {
        "s3": exported["OMNI_TEST_S3_ENDPOINT"],
        "azure": exported["OMNI_TEST_AZURE_CONNECTION_STRING"],
        "gcs": exported["OMNI_TEST_GCS_ENDPOINT"],
        "sftp": "127.0.0.1:" + exported["OMNI_TEST_SFTP_PORT"],
        "pg": exported["OMNI_TEST_POSTGRES_URL"],
        "http": exported["OMNI_TEST_HTTP_URL"],
        "https": exported["OMNI_TEST_HTTPS_URL"],
    }
    address = re.compile(r"127\.0\.0\.1:(\d+)")
    numbers = {name: int(address.findall(text)[0]) for name, text in ports.items()}
    low, _ = _ephemeral_range()
    for name, port in numbers.items():
        assert 1024 < port < min(low, 32768), (name, port)
        assert not 30000 <= port <= 32767, (name, port)  # Kubernetes NodePorts
    assert len(set(numbers.values())) == len(numbers), numbers


def test_env_reports_the_ports_the_variables_choose(tmp_path: Path) -> None:
    result = _run(tmp_path, "env", OMNI_S3_PORT="27055", OMNI_SFTP_PORT="27022")
    assert "export OMNI_TEST_S3_ENDPOINT='http://127.0.0.1:27055'" in result.stdout
    assert "export OMNI_TEST_SFTP_PORT='27022'" in result.stdout


def test_a_port_held_by_a_client_socket_stops_the_start_naming_it(
    tmp_path: Path, held_port: int
) -> None:
    result = _run(tmp_path, "start", "s3", OMNI_S3_PORT=str(held_port), VENV=str(tmp_path))
    assert result.returncode != 0
    message = result.stderr
    assert f"s3 cannot bind 127.0.0.1:{held_port}" in message, message
    assert "Address already in use" in message
    assert "OMNI_S3_PORT" in message
    low, high = _ephemeral_range()
    if low <= held_port <= high:  # the OS gave the test an ephemeral port, as it gives clients
        assert f"ephemeral port range {low}-{high}" in message
    assert not (tmp_path / "logs" / "s3.log").exists()  # nothing was launched


def test_a_listening_port_stops_the_start_naming_it(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        result = _run(tmp_path, "start", "s3", OMNI_S3_PORT=str(port), VENV=str(tmp_path))
    assert result.returncode != 0
    assert f"s3: port {port} is already used by another process" in result.stderr
    assert "OMNI_S3_PORT" in result.stderr


def test_each_listener_of_a_server_is_checked(tmp_path: Path, held_port: int) -> None:
    free = _free_port()
    result = _run(
        tmp_path,
        "start",
        "http",
        OMNI_HTTP_PORT=str(free),
        OMNI_HTTPS_PORT=str(held_port),
        VENV=str(tmp_path),
    )
    assert result.returncode != 0
    assert f"http cannot bind 127.0.0.1:{held_port}" in result.stderr, result.stderr
    assert "OMNI_HTTPS_PORT" in result.stderr


def test_a_server_that_fails_to_bind_is_reported_naming_the_port(tmp_path: Path) -> None:
    """The port was free when checked but the server lost it: its log says so, and the
    script names the port and the variable instead of only "it exited"."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "moto_server").write_text("#!/bin/sh\nexit 1\n")
    (venv / "bin" / "moto_server").chmod(0o755)
    # The launcher runs as: python scripts/moto_server.py -H 127.0.0.1 -p PORT
    stand_in = venv / "bin" / "python"
    stand_in.write_text(
        "#!/bin/sh\n"
        f'case "$1" in *moto_server.py) ;; *) exec {sys.executable} "$@" ;; esac\n'
        "sleep 0.3\n"
        "for arg; do port=$arg; done\n"  # the last argument
        "echo \"OSError: [Errno 98] Address already in use: ('127.0.0.1', $port)\" >&2\n"
        "exit 1\n"
    )
    stand_in.chmod(0o755)
    port = _free_port()
    result = _run(tmp_path / "state", "start", "s3", OMNI_S3_PORT=str(port), VENV=str(venv))
    assert result.returncode != 0
    assert f"it could not bind 127.0.0.1:{port} (address already in use" in result.stderr, (
        result.stderr
    )
    assert "choose another port with OMNI_S3_PORT" in result.stderr
    assert not (tmp_path / "state" / "pids" / "s3.pid").exists()
