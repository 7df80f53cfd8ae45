"""The S3 backend against moto server: the conformance suite, the model test, and
failure tests (cut connections, aborted writes, racing create-only writers).

Needs the moto server that ``scripts/servers.sh`` starts (``OMNI_TEST_S3_ENDPOINT``).
"""

from __future__ import annotations

import functools
import gc
import io
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from uuid import uuid4

import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config

from omnistorage import Store
from omnistorage.backends.s3 import S3Backend
from omnistorage.errors import AlreadyExists, BackendUnavailable, StorageError
from omnistorage.registry import open_store
from omnistorage.testing import (
    FOREIGN_CANDIDATES,
    SLOW_SERVER_WRAPPER_VARIANTS,
    StoreConformance,
    driver_of,
    make_state_machine,
    race_create_only,
)
from tests.support.proxy import CuttingProxy
from tests.support.servers import server_env

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.server

MiB = 1 << 20
KEY_ID = "omni-test-key-id"
SECRET = "omni-test-secret-Zq81"


def settings() -> tuple[str, str]:
    env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
    return env["OMNI_TEST_S3_ENDPOINT"], env["OMNI_TEST_S3_REGION"]


@functools.cache
def shared_client() -> S3Client:
    """One client for the tests' plumbing (creating buckets, checking uploads)."""
    endpoint, region = settings()
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=Config(max_pool_connections=64, s3={"addressing_style": "path"}),
    )


def new_bucket() -> str:
    name = f"omni-{uuid4().hex[:20]}"
    shared_client().create_bucket(Bucket=name)
    return name


def empty_bucket(bucket: str) -> None:
    client = shared_client()
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys: Any = [{"Key": entry["Key"]} for entry in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    client.delete_bucket(Bucket=bucket)


def incomplete_uploads(bucket: str, prefix: str = "") -> list[str]:
    uploads = shared_client().list_multipart_uploads(Bucket=bucket, Prefix=prefix)
    return [upload["Key"] for upload in uploads.get("Uploads", [])]


def object_keys(bucket: str, prefix: str = "") -> list[str]:
    listing = shared_client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [entry["Key"] for entry in listing.get("Contents", [])]


def s3_store(bucket: str, **options: Any) -> Store:
    """A store over a new backend (sharing the test client) under a unique root."""
    options.setdefault("client", shared_client())
    return Store(S3Backend(bucket=bucket, **options), f"t-{uuid4().hex}")


def owned_s3_store(bucket: str, **options: Any) -> Store:
    """A store over a backend that builds its own client (as users' do), under a unique
    root: its listing pages are parsed by ``backends/s3/_page.py`` and asked for ahead,
    where a shared client's go through botocore's parser one by one."""
    endpoint, region = settings()
    backend = S3Backend(
        bucket=bucket,
        endpoint_url=endpoint,
        region=region,
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
        **options,
    )
    return Store(backend, f"t-{uuid4().hex}")


@pytest.fixture(scope="module")
def bucket() -> Iterator[str]:
    name = new_bucket()
    yield name
    empty_bucket(name)


# ---------------------------------------------------------------- the shared suite

S3_GAPS = {
    "test_a_conditional_delete_spares_an_identical_overwrite": (
        "S3's ETag names the content, not the write: If-Match cannot tell an identical "
        "object another writer published from ours (only a versioned bucket's version "
        "id could)"
    ),
}


class TestS3Conformance(StoreConformance):
    crash_leaves_leftovers = True
    backend_name = "s3"
    variants = (*StoreConformance.variants, *SLOW_SERVER_WRAPPER_VARIANTS)
    many_keys = 250  # with list_page_size=100: still three pages
    abandoned_write_size = 11 * MiB  # past two 5 MiB parts: a multipart upload is open
    large_size = 11 * MiB  # past the single-PUT cutoff of a known size (2 x 5 MiB)

    leftover_times_are_real = False  # moto dates every multipart upload 2010-11-10
    expected_failures = S3_GAPS
    # What aws CLI or an SDK can name an object (moto refuses a newline in a key).
    foreign_names = tuple(n for n in FOREIGN_CANDIDATES if "\n" not in n)

    def plant_foreign(self, store: Store, name: str, data: bytes) -> None:
        backend = driver_of(store)
        assert isinstance(backend, S3Backend)
        native = f"{store.root}/{name}" if store.root else name
        shared_client().put_object(Bucket=backend._bucket, Key=native, Body=data)

    @pytest.fixture(scope="class")
    @classmethod
    def class_bucket(cls) -> Iterator[str]:
        name = new_bucket()
        yield name
        empty_bucket(name)

    @pytest.fixture
    def empty_store(self, class_bucket: str) -> Store:
        # 5 MiB parts, one in flight: a known size up to 10 MiB is one PutObject, the
        # suite's 11 MiB object goes through a multipart upload.
        return s3_store(class_bucket, part_size=5 * MiB, max_concurrency=1, list_page_size=100)

    def second_handle(self, store: Store) -> Store:
        endpoint, region = settings()
        # Its own client, and the endpoint spelled another way (upper case, a slash).
        parts = urlsplit(endpoint)
        spelled = f"{parts.scheme}://{parts.netloc.upper()}/"
        backend = S3Backend(
            bucket=driver_of(store).bucket,
            endpoint_url=spelled,
            region=region,
            access_key_id=KEY_ID,
            secret_access_key=SECRET,
        )
        return Store(backend, store.root)


class TestS3ParallelReadConformance(StoreConformance):
    """The suite's reads again, through the parallel ranged reader (tiny blocks), on a
    client of the backend's own (listings parsed by ``_page.py``, pages asked ahead)."""

    backend_name = "s3-parallel"
    variants = ("plain",)
    expected_failures = S3_GAPS
    many_keys = 120

    @pytest.fixture(scope="class")
    @classmethod
    def class_bucket(cls) -> Iterator[str]:
        name = new_bucket()
        yield name
        empty_bucket(name)

    @pytest.fixture
    def empty_store(self, class_bucket: str) -> Store:
        return owned_s3_store(
            class_bucket,
            read_concurrency=3,
            read_block_size=64 * 1024,
            list_page_size=50,
        )


@functools.cache
def model_bucket() -> str:
    return new_bucket()


@pytest.fixture(scope="module", autouse=True)
def _drop_model_bucket() -> Iterator[None]:
    yield
    if model_bucket.cache_info().currsize:
        empty_bucket(model_bucket())


TestS3Model = make_state_machine(
    lambda: owned_s3_store(model_bucket(), list_page_size=3), max_examples=15
).TestCase


# ---------------------------------------------------------------- URLs and secrets


def test_open_store_from_a_url_keeps_credentials_out_of_reprs_and_errors(bucket: str) -> None:
    endpoint, region = settings()
    url = (
        f"s3://{bucket}/url/root?endpoint_url={endpoint}&region={region}"
        f"&access_key_id={KEY_ID}&secret_access_key={SECRET}&part_size={5 * MiB}"
        "&addressing_style=path"
    )
    store = open_store(url)
    try:
        store.write("hello.txt", b"hi")
        assert store.read_bytes("hello.txt") == b"hi"
        assert object_keys(bucket, "url/root/") == ["url/root/hello.txt"]
        assert store.native_path("hello.txt") == f"s3://{bucket}/url/root/hello.txt"
        client: Any = store.unwrap(BaseClient)
        assert client.list_buckets() is not None
        backend = store.unwrap()
        for text in (repr(store), repr(backend), repr(store.features)):
            assert SECRET not in text
            assert KEY_ID not in text
        with pytest.raises(StorageError) as info:
            store.read_bytes("missing")
        assert SECRET not in str(info.value)
    finally:
        store.close()


def test_secrets_are_scrubbed_from_error_messages(bucket: str) -> None:
    from botocore.stub import Stubber

    endpoint, region = settings()
    store = open_store(
        f"s3://{bucket}/scrub",
        endpoint_url=endpoint,
        region=region,
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
    )
    client = store.unwrap(BaseClient)
    with Stubber(client) as stub:
        stub.add_client_error(
            "head_object",
            service_error_code="SignatureDoesNotMatch",
            service_message=f"key {KEY_ID} secret {SECRET} did not match",
            http_status_code=403,
        )
        with pytest.raises(PermissionError) as info:
            store.get_file_info("x")
    assert SECRET not in str(info.value)
    assert KEY_ID not in str(info.value)
    store.close()


def test_url_and_option_errors() -> None:
    from omnistorage.errors import ConfigurationError

    endpoint, _ = settings()
    with pytest.raises(ConfigurationError) as info:
        open_store(f"s3://{KEY_ID}:{SECRET}@bucket/p?endpoint_url={endpoint}")
    assert SECRET not in str(info.value)
    with pytest.raises(ConfigurationError):
        open_store(f"s3:///p?endpoint_url={endpoint}")
    with pytest.raises(ConfigurationError, match="unknown option"):
        open_store(f"s3://b/p?endpoint_url={endpoint}&colour=blue")
    with pytest.raises(ConfigurationError, match="part_size"):
        open_store(f"s3://b/p?endpoint_url={endpoint}&part_size=1024")
    with pytest.raises(ConfigurationError, match="'client' excludes 'endpoint_url'"):
        S3Backend(bucket="b", client=shared_client(), endpoint_url=endpoint)


# ---------------------------------------------------------------- failures


def test_connection_cut_mid_upload_publishes_nothing_and_leaves_no_upload(bucket: str) -> None:
    endpoint, region = settings()
    target = urlsplit(endpoint)
    with CuttingProxy(target.hostname or "127.0.0.1", target.port or 80) as proxy:
        store = Store(
            S3Backend(
                bucket=bucket,
                endpoint_url=f"http://127.0.0.1:{proxy.port}",
                region=region,
                access_key_id=KEY_ID,
                secret_access_key=SECRET,
                part_size=5 * MiB,
                max_concurrency=2,
                max_attempts=1,  # no botocore retries: the cut must fail the upload
            ),
            f"t-{uuid4().hex}",
        )
        # A transient outage: connections are cut once ~7 MB went up, and the network
        # comes back right after the first cut (so the abort can get through).
        proxy.cut_after(upstream_bytes=7_000_000)
        stop = threading.Event()

        def restore_network() -> None:
            while not stop.is_set() and proxy.cuts == 0:
                stop.wait(0.002)
            proxy.cut_after(None)

        restorer = threading.Thread(target=restore_network)
        restorer.start()
        try:
            with pytest.raises(BackendUnavailable) as info:
                store.write("cut.bin", b"\x5a" * (16 * MiB))
        finally:
            stop.set()
            restorer.join()
        assert info.value.temporary
        assert proxy.cuts > 0
        root = store.root + "/"
        assert object_keys(bucket, root) == []
        assert incomplete_uploads(bucket, root) == []
        store.close()


def test_drain_waits_until_every_part_sent_is_uploaded(bucket: str) -> None:
    store = s3_store(bucket, part_size=5 * MiB, max_concurrency=4)
    root = store.root + "/"
    with store.open_writer("drained.bin") as writer:
        writer.write(b"d" * (16 * MiB))  # three full parts handed to the pool, 1 MiB buffered
        writer.drain()
        (upload,) = shared_client().list_multipart_uploads(Bucket=bucket, Prefix=root)["Uploads"]
        parts = shared_client().list_parts(
            Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )["Parts"]
        assert [p["Size"] for p in parts] == [5 * MiB] * 3  # all staged, none published
        assert object_keys(bucket, root) == []
    assert store.read_bytes("drained.bin") == b"d" * (16 * MiB)
    assert incomplete_uploads(bucket, root) == []


def test_exception_inside_open_atomic_leaves_no_multipart_upload(bucket: str) -> None:
    store = s3_store(bucket, part_size=5 * MiB)
    root = store.root + "/"
    with pytest.raises(RuntimeError), store.open_atomic("boom.bin") as writer:
        writer.write(b"x" * (12 * MiB))  # two parts sent: a multipart upload exists
        assert incomplete_uploads(bucket, root) == [root + "boom.bin"]
        raise RuntimeError("fail inside the block")
    assert incomplete_uploads(bucket, root) == []
    assert object_keys(bucket, root) == []


def test_abort_and_dropped_writers_leave_no_multipart_upload(bucket: str) -> None:
    store = s3_store(bucket, part_size=5 * MiB)
    root = store.root + "/"
    writer = store.open_atomic("aborted.bin")
    writer.write(b"y" * (11 * MiB))
    writer.abort()
    dropped = store.open_atomic("dropped.bin")
    dropped.write(b"z" * (11 * MiB))
    with pytest.warns(ResourceWarning):
        del dropped  # the last reference: the writer aborts (and warns), never publishes
    gc.collect()
    assert incomplete_uploads(bucket, root) == []
    assert object_keys(bucket, root) == []


# moto alone checks If-None-Match and then stores the object with nothing held between
# (racing completes could both win); scripts/moto_server.py applies changing requests one
# at a time, as S3 decides each condition atomically, so both sizes are held to it here.
@pytest.mark.parametrize(
    "size",
    [
        pytest.param(1000, id="single-put"),
        pytest.param(6 * MiB, id="put-of-known-size-over-a-part"),
        pytest.param(11 * MiB, id="multipart"),
    ],
)
def test_sixteen_racing_create_only_writers_have_one_winner(bucket: str, size: int) -> None:
    store = s3_store(bucket, part_size=5 * MiB, max_concurrency=1)  # one PUT up to 10 MiB

    def payload(i: int) -> bytes:
        return bytes([i]) * size

    race_create_only(store, "race.bin", payload, writers=16).assert_one_winner(
        store, "race.bin", payload
    )
    assert incomplete_uploads(bucket, store.root + "/") == []


def test_create_only_complete_is_conditional(bucket: str) -> None:
    """A multipart create-only write that passed the fail-fast HEAD still loses at the
    conditional CompleteMultipartUpload when another writer published first."""
    store = s3_store(bucket, part_size=5 * MiB)
    writer = store.open_atomic("late.bin")
    writer.write(b"a" * (6 * MiB))  # the multipart upload starts (HEAD found nothing)
    store.write("late.bin", b"first")
    with pytest.raises(AlreadyExists):
        writer.close()
    assert store.read_bytes("late.bin") == b"first"
    assert incomplete_uploads(bucket, store.root + "/") == []


def test_create_only_requests_carry_if_none_match(bucket: str) -> None:
    store = owned_s3_store(bucket, part_size=5 * MiB)
    sent: list[tuple[str, bytes | None]] = []

    def record(request: Any, event_name: str, **_: Any) -> None:
        operation = event_name.rpartition(".")[2]
        value = request.headers.get("If-None-Match")
        sent.append((operation, value.encode() if isinstance(value, str) else value))

    client = store.unwrap(BaseClient)
    for operation in ("PutObject", "CompleteMultipartUpload"):
        client.meta.events.register(f"before-send.s3.{operation}", record)
    store.write("small", b"x")
    store.write("known", b"k" * (6 * MiB))  # size known, under the cutoff: one PUT
    store.write("large", io.BytesIO(b"y" * (6 * MiB)))  # a stream: multipart
    store.write("small", b"z", overwrite=True)
    store.write("known", b"j" * (6 * MiB), overwrite=True)
    store.write("large", io.BytesIO(b"w" * (6 * MiB)), overwrite=True)
    assert sent == [
        ("PutObject", b"*"),
        ("PutObject", b"*"),
        ("CompleteMultipartUpload", b"*"),
        ("PutObject", None),
        ("PutObject", None),
        ("CompleteMultipartUpload", None),
    ]
    store.close()
