"""Every network backend fails fast and temporary against a port nobody listens on.

The defaults (``omnistorage._net``: connect 3 s, silence 10 s, 2 retries within a
15 s retry budget) must turn "the server is down" into
``BackendUnavailable(temporary=True)`` within about 10 s, so callers and retry
layers can decide quickly. A server that accepts connections and then stalls is
``test_stalled_servers.py``'s.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from omnistorage import BackendUnavailable, Store
from omnistorage.driver import Backend


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _s3(port: int) -> Backend:
    from omnistorage.backends.s3 import S3Backend

    return S3Backend(
        bucket="b",
        endpoint_url=f"http://127.0.0.1:{port}",
        region="us-east-1",
        access_key_id="key-id",
        secret_access_key="secret-key",
    )


def _gcs(port: int) -> Backend:
    from omnistorage.backends.gcs import GCSBackend

    return GCSBackend(bucket="b", endpoint_url=f"http://127.0.0.1:{port}")


def _azure(port: int) -> Backend:
    from omnistorage.backends.azure import AzureBackend

    key = "a2V5" * 16
    return AzureBackend(
        container="c",
        connection_string=(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={key};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
        ),
        detect_hierarchical_namespace=False,
    )


def _sftp(port: int) -> Backend:
    from omnistorage.backends.sftp import SFTPBackend

    return SFTPBackend(host="127.0.0.1", port=port, username="u", password="pw", root="/r")


@pytest.mark.parametrize("make", [_s3, _gcs, _azure, _sftp], ids=["s3", "gcs", "azure", "sftp"])
@pytest.mark.parametrize("op", ["read", "write", "list"])
def test_a_server_that_is_down_fails_within_ten_seconds(
    make: Callable[[int], Backend], op: str
) -> None:
    store = Store(make(_closed_port()))
    calls = {
        "read": lambda: store.read_bytes("x"),
        "write": lambda: store.write("x", b"data", overwrite=True),
        "list": lambda: list(store.list_files(recursive=True)),
    }
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as info:
        calls[op]()
    assert time.monotonic() - started < 10
    assert info.value.temporary


def _http(port: int) -> Backend:
    from omnistorage.backends.http import HTTPBackend

    return HTTPBackend(base_url=f"http://127.0.0.1:{port}/files/", listing="nginx-json")


@pytest.mark.parametrize("op", ["read", "stat", "list"])
def test_a_web_server_that_is_down_fails_within_ten_seconds(op: str) -> None:
    # The http backend is read-only: its writes are refused before any I/O instead.
    store = Store(_http(_closed_port()))
    calls = {
        "read": lambda: store.read_bytes("x"),
        "stat": lambda: store.get_file_info("x"),
        "list": lambda: list(store.list_files(recursive=True)),
    }
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as info:
        calls[op]()
    assert time.monotonic() - started < 10
    assert info.value.temporary
