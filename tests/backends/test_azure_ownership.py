"""Create-only truth under retries on Azure (Azurite): a lost reply is not a lost write.

A loopback proxy forwards Put Blob or Put Block List to Azurite, lets it
succeed and drops the reply once; azure-core retries, the retry meets our own
blob and the service answers with a conflict. The write must succeed, and a
real conflict (another writer's blob) must still raise AlreadyExists.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from omnistorage import AlreadyExists, Store
from omnistorage.backends.azure import AzureBackend
from omnistorage.errors import PreconditionFailed
from tests.backends.test_azure import (
    KiB,
    connection_string,
    cs_fields,
    drop_container,
    make_container,
    unique_root,
)
from tests.support.http_proxy import Fault, FaultProxy, ProxiedRequest

pytestmark = pytest.mark.server


@pytest.fixture
def proxied() -> Iterator[tuple[Store, FaultProxy]]:
    cs = connection_string()
    endpoint = urlsplit(cs_fields(cs)["BlobEndpoint"])
    container = make_container()
    with FaultProxy(f"{endpoint.scheme}://{endpoint.netloc}") as proxy:
        proxied_cs = cs.replace(endpoint.netloc, urlsplit(proxy.url).netloc)
        backend = AzureBackend(
            container=container,
            connection_string=proxied_cs,
            block_size=64 * KiB,
            detect_hierarchical_namespace=False,
        )
        yield Store(backend, unique_root()), proxy
        backend.close()
    drop_container(container)


def _put_blob(request: ProxiedRequest) -> bool:
    return request.method == "PUT" and "comp" not in request.query


def _put_block_list(request: ProxiedRequest) -> bool:
    return request.method == "PUT" and request.query.get("comp") == ["blocklist"]


@pytest.mark.parametrize(
    ("size", "match"),
    [(1000, _put_blob), (300 * KiB, _put_block_list)],
    ids=["put-blob", "put-block-list"],
)
def test_a_create_only_write_whose_reply_was_lost_succeeds(
    proxied: tuple[Store, FaultProxy], size: int, match: object
) -> None:
    store, proxy = proxied
    body = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    fault = proxy.add(Fault(match))  # type: ignore[arg-type]
    store.write("mine.bin", body)
    assert len(fault.hits) == 1
    assert store.read_bytes("mine.bin") == body


@pytest.mark.parametrize("size", [1000, 300 * KiB], ids=["put-blob", "put-block-list"])
def test_another_writers_blob_is_still_a_conflict(
    proxied: tuple[Store, FaultProxy], size: int
) -> None:
    store, _ = proxied
    store.write("theirs.bin", b"their bytes")
    with pytest.raises(AlreadyExists):
        store.write("theirs.bin", b"y" * size)
    assert store.read_bytes("theirs.bin") == b"their bytes"


def test_a_service_that_is_down_fails_fast_and_temporary() -> None:
    import socket
    import time

    from omnistorage import BackendUnavailable

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends
    cs = connection_string()
    endpoint = urlsplit(cs_fields(cs)["BlobEndpoint"])
    down = cs.replace(endpoint.netloc, f"127.0.0.1:{port}")
    store = Store(AzureBackend(container="c", connection_string=down))
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as info:
        store.read_bytes("x")
    assert time.monotonic() - started < 10
    assert info.value.temporary


def test_two_racing_overwrites_end_in_one_blob_and_a_typed_temporary_conflict() -> None:
    from omnistorage import WriteConflict

    container = make_container()
    try:
        store = Store(
            AzureBackend(
                container=container,
                connection_string=connection_string(),
                block_size=64 * KiB,
                detect_hierarchical_namespace=False,
            ),
            unique_root(),
        )
        assert store.features.overwrite_may_conflict  # declared: the suite accepts it
        store.write("shared.bin", b"old", overwrite=True)
        slow = store.open_atomic("shared.bin", overwrite=True)
        slow.write(b"a" * (200 * KiB))  # blocks staged, not committed
        store.write("shared.bin", b"b" * (200 * KiB), overwrite=True)  # commits first
        with pytest.raises(WriteConflict) as info:
            slow.close()  # its staged blocks were discarded by the other commit
        assert info.value.temporary
        assert store.read_bytes("shared.bin") == b"b" * (200 * KiB)
    finally:
        drop_container(container)


# ------------------------------------------------------------------ conditional deletes


def _delete(request: ProxiedRequest) -> bool:
    return request.method == "DELETE"


def test_a_conditional_delete_sends_the_etag_the_write_published(
    proxied: tuple[Store, FaultProxy],
) -> None:
    store, proxy = proxied
    mine = store.write("k.bin", b"mine")
    assert mine.version is not None
    store.write("k.bin", b"another writer's", overwrite=True)
    with pytest.raises(PreconditionFailed):
        store.delete("k.bin", if_version=mine.version)
    assert store.read_bytes("k.bin") == b"another writer's"
    assert [r.headers.get("if-match") for r in proxy.requests if _delete(r)] == [mine.version]


def test_a_conditional_delete_whose_reply_was_lost_is_done(
    proxied: tuple[Store, FaultProxy],
) -> None:
    """Deleted, then the reply dropped: the SDK retries, and If-Match on a blob that is
    gone answers 412; nothing is there, so nothing of ours is left: success."""
    store, proxy = proxied
    mine = store.write("k.bin", b"mine")
    assert mine.version is not None
    fault = proxy.add(Fault(_delete))
    store.delete("k.bin", if_version=mine.version)
    assert len(fault.hits) == 1
    assert not store.is_file("k.bin")
