"""Create-only truth under retries on S3: a lost reply is not a lost write.

A loopback proxy forwards a create-only request to moto, lets it succeed,
and drops the reply once. botocore retries; the retry meets our own object
and S3 answers 412. The write must report success (the object is ours), and
a real conflict (another writer's object) must still raise AlreadyExists.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from uuid import uuid4

import pytest

from omnistorage import AlreadyExists, Store
from omnistorage.backends.s3 import S3Backend
from omnistorage.errors import PreconditionFailed
from tests.backends.test_s3 import KEY_ID, SECRET, MiB, empty_bucket, new_bucket, settings
from tests.support.http_proxy import Fault, FaultProxy, ProxiedRequest

pytestmark = pytest.mark.server


@pytest.fixture
def proxied() -> Iterator[tuple[Store, FaultProxy]]:
    endpoint, region = settings()
    bucket = new_bucket()
    with FaultProxy(endpoint) as proxy:
        backend = S3Backend(
            bucket=bucket,
            endpoint_url=proxy.url,
            region=region,
            access_key_id=KEY_ID,
            secret_access_key=SECRET,
            part_size=5 * MiB,
        )
        yield Store(backend, f"t-{uuid4().hex}"), proxy
        backend.close()
    empty_bucket(bucket)


def _single_put(request: ProxiedRequest) -> bool:
    return request.method == "PUT" and "uploadId" not in request.query


def _complete(request: ProxiedRequest) -> bool:
    return request.method == "POST" and "uploadId" in request.query


@pytest.mark.parametrize(
    ("size", "match", "stream"),
    [(1000, _single_put, False), (11 * MiB, _single_put, False), (11 * MiB, _complete, True)],
    ids=["put-object", "put-object-of-known-size-over-a-part", "complete-multipart-upload"],
)
def test_a_create_only_write_whose_reply_was_lost_succeeds(
    proxied: tuple[Store, FaultProxy], size: int, match: object, stream: bool
) -> None:
    store, proxy = proxied
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    fault = proxy.add(Fault(match))  # type: ignore[arg-type]
    store.write("mine.bin", io.BytesIO(body) if stream else body)  # a stream: size unknown
    assert len(fault.hits) == 1  # the reply really was dropped once
    assert store.read_bytes("mine.bin") == body


@pytest.mark.parametrize(
    ("size", "stream"),
    [(1000, False), (11 * MiB, False), (11 * MiB, True)],
    ids=["put-object", "put-object-of-known-size-over-a-part", "multipart"],
)
def test_another_writers_object_is_still_a_conflict(
    proxied: tuple[Store, FaultProxy], size: int, stream: bool
) -> None:
    store, proxy = proxied
    store.write("theirs.bin", b"their bytes")
    body = b"y" * size
    before = len(proxy.requests)
    with pytest.raises(AlreadyExists):
        store.write("theirs.bin", io.BytesIO(body) if stream else body)
    assert store.read_bytes("theirs.bin") == b"their bytes"
    uploads = [r for r in proxy.requests[before:] if "uploads" in r.query]
    assert not uploads  # create-only fails before any part is sent, on both paths


# ------------------------------------------------------------------ conditional deletes


def _delete(request: ProxiedRequest) -> bool:
    return request.method == "DELETE" and "uploadId" not in request.query


def test_a_conditional_delete_sends_the_etag_the_write_published(
    proxied: tuple[Store, FaultProxy],
) -> None:
    store, proxy = proxied
    mine = store.write("k.bin", b"mine")
    theirs = store.write("other.bin", b"theirs")
    assert mine.version is not None
    assert theirs.version is not None
    store.write("k.bin", b"another writer's", overwrite=True)
    with pytest.raises(PreconditionFailed):
        store.delete("k.bin", if_version=mine.version)
    assert store.read_bytes("k.bin") == b"another writer's"
    store.delete("other.bin", if_version=theirs.version)
    assert not store.is_file("other.bin")
    sent = [r.headers.get("if-match") for r in proxy.requests if _delete(r)]
    assert sent == [f'"{mine.version}"', f'"{theirs.version}"']


def test_a_conditional_delete_whose_reply_was_lost_is_done(
    proxied: tuple[Store, FaultProxy],
) -> None:
    """Deleted, then the reply dropped: botocore retries, the retry finds nothing (404),
    and nothing of ours is left: success, not a failure of its own success."""
    store, proxy = proxied
    mine = store.write("k.bin", b"mine")
    assert mine.version is not None
    fault = proxy.add(Fault(_delete))
    store.delete("k.bin", if_version=mine.version)
    assert len(fault.hits) == 1
    assert not store.is_file("k.bin")
