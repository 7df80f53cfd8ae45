"""Finding the test servers that ``scripts/servers.sh`` starts.

In CI (``CI`` or ``OMNI_REQUIRE_SERVERS`` set) a missing server is a test
failure, never a skip.

A server that stops answering fails every later test that needs it at once,
naming the server and its log, instead of letting each test wait out its own
timeouts and retries (one wedged emulator once cost a CI run its whole time
budget). Liveness is probed with a short request, at most every few seconds.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

# How long a probe waits for an answer: longer than the GCS launcher's stall
# timeout (scripts/gcs_emulator.py), so a server that is busy dropping a stalled
# client is not taken for dead.
PROBE_TIMEOUT = 30.0
# An answer is trusted for this long before the next probe.
PROBE_INTERVAL = 5.0

_lock = threading.Lock()
_alive_at: dict[str, float] = {}
_dead: dict[str, str] = {}


def servers_required() -> bool:
    return bool(os.environ.get("OMNI_REQUIRE_SERVERS") or os.environ.get("CI"))


def server_env(*names: str) -> dict[str, str]:
    """The values of ``names``; fail (CI) or skip (elsewhere) when any is unset, and fail
    at once when the server they name has stopped answering."""
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        message = (
            f"test server settings {', '.join(missing)} are not set: run "
            "'bash scripts/servers.sh start' and 'eval \"$(bash scripts/servers.sh env)\"'"
        )
        if servers_required():
            pytest.fail(message)
        pytest.skip(message)
    values = {name: os.environ[name] for name in names}
    for name, value in values.items():
        _check_alive(name, value)
    return values


def _check_alive(name: str, value: str) -> None:
    target = _probe_target(name, value)
    if target is None:
        return
    kind, address = target
    with _lock:
        if address in _dead:
            pytest.fail(_dead[address])
        if time.monotonic() - _alive_at.get(address, -PROBE_INTERVAL) < PROBE_INTERVAL:
            return
        problem = _probe(kind, address)
        if problem is None:
            _alive_at[address] = time.monotonic()
            return
        _dead[address] = (
            f"the test server behind {name} ({address}) stopped answering: {problem}. "
            "Its log is in .servers/logs/; 'bash scripts/servers.sh status' shows it."
        )
        pytest.fail(_dead[address])


def _probe_target(name: str, value: str) -> tuple[str, str] | None:
    if name in ("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_GCS_ENDPOINT", "OMNI_TEST_HTTP_URL"):
        return "http", value.rstrip("/") + "/"
    if name == "OMNI_TEST_AZURE_CONNECTION_STRING":
        fields = dict(part.split("=", 1) for part in value.split(";") if "=" in part)
        endpoint = fields.get("BlobEndpoint")
        return ("http", endpoint.rstrip("/") + "/") if endpoint else None
    if name == "OMNI_TEST_POSTGRES_URL":
        parts = urlsplit(value)
        return ("tcp", f"{parts.hostname}:{parts.port or 5432}") if parts.hostname else None
    if name == "OMNI_TEST_SFTP_PORT":
        return "ssh", f"{os.environ.get('OMNI_TEST_SFTP_HOST', '127.0.0.1')}:{value}"
    return None


def _probe(kind: str, address: str) -> str | None:
    """None when the server answered; otherwise what went wrong."""
    try:
        if kind == "http":
            # No proxy from the environment: the servers are on loopback.
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            try:
                with opener.open(address, timeout=PROBE_TIMEOUT) as response:
                    response.read(1)
            except urllib.error.HTTPError:
                pass  # any status is an answer
            return None
        host, _, port = address.rpartition(":")
        with socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT) as sock:
            if kind == "ssh":
                sock.settimeout(PROBE_TIMEOUT)
                if not sock.recv(4).startswith(b"SSH"):
                    return "no SSH banner"
        return None
    except (OSError, ValueError) as error:
        return f"{type(error).__name__}: {error}"
