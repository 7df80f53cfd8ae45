"""A missing bucket (container) is its own typed error, never a missing path.

Against the real servers: moto (S3), the GCS emulator and Azurite. Every
operation that can meet the missing bucket raises :class:`BucketNotFound`
naming it (a :class:`NotFound`, so ``except NotFound`` still catches it);
``exists()`` and ``is_file()`` raise instead of answering ``False``. A missing
*object* in a bucket that exists is still a plain ``NotFound`` / ``False``.
"""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from omnistorage import BucketNotFound, NotFound, Store
from omnistorage.errors import BucketMissing, Classification, ErrorKind, map_error
from tests.support import remote
from tests.support.servers import server_env

pytestmark = pytest.mark.server


def _missing_s3() -> Store:
    from omnistorage.backends.s3 import S3Backend

    env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
    return Store(
        S3Backend(
            bucket=f"typo-{uuid.uuid4().hex[:12]}",
            endpoint_url=env["OMNI_TEST_S3_ENDPOINT"],
            region=env["OMNI_TEST_S3_REGION"],
            access_key_id="testing",
            secret_access_key="testing",
        ),
        "x",
    )


def _missing_gcs() -> Store:
    from omnistorage.backends.gcs import GCSBackend

    endpoint = server_env("OMNI_TEST_GCS_ENDPOINT")["OMNI_TEST_GCS_ENDPOINT"]
    return Store(GCSBackend(bucket=f"typo-{uuid.uuid4().hex[:12]}", endpoint_url=endpoint), "x")


def _missing_azure() -> Store:
    from omnistorage.backends.azure import AzureBackend

    cs = server_env("OMNI_TEST_AZURE_CONNECTION_STRING")["OMNI_TEST_AZURE_CONNECTION_STRING"]
    return Store(
        AzureBackend(
            container=f"typo-{uuid.uuid4().hex[:12]}",
            connection_string=cs,
            detect_hierarchical_namespace=False,
        ),
        "x",
    )


MISSING = {"s3": _missing_s3, "gcs": _missing_gcs, "azure": _missing_azure}
EXISTING = {"s3": remote.s3_store, "gcs": remote.gcs_store, "azure": remote.azure_store}
NOUNS = {"s3": "bucket", "gcs": "bucket", "azure": "container"}

OPERATIONS: dict[str, Callable[[Store], Any]] = {
    "exists": lambda s: s.exists("orders.csv"),
    "is_file": lambda s: s.is_file("orders.csv"),
    "is_folder": lambda s: s.is_folder("raw"),
    "stat": lambda s: s.get_file_info("orders.csv"),
    "list": lambda s: list(s.list_files(recursive=True)),
    "list_folders": lambda s: list(s.list_folders()),
    "glob": lambda s: list(s.glob("*.csv")),
    "read": lambda s: s.read_bytes("orders.csv"),
    "read_range": lambda s: s.read_range("orders.csv", 0, 4),
    "read_seekable": lambda s: s.read_seekable("orders.csv").read(),
    "write": lambda s: s.write("orders.csv", b"id\n1\n", overwrite=True),
    "write_create_only": lambda s: s.write("orders.csv", b"id\n1\n"),
    "write_multipart": lambda s: s.write("big.bin", b"\0" * (9 << 20), overwrite=True),
    "delete": lambda s: s.delete("orders.csv"),
    "delete_missing_ok": lambda s: s.delete("orders.csv", missing_ok=True),
    # a conditional delete (a mirror's or composite's rollback) finds no bucket either
    "delete_if_version": lambda s: s.delete("orders.csv", missing_ok=True, if_version="1"),
    "delete_folder": lambda s: s.delete_folder("raw", recursive=True, missing_ok=True),
    "make_folder": lambda s: s.make_folder("raw"),
    "copy": lambda s: s.copy("orders.csv", "copy.csv"),
    "ping": lambda s: s.ping(),
}


@pytest.fixture(params=sorted(MISSING))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def missing(kind: str) -> Iterator[Store]:
    store = MISSING[kind]()
    yield store
    store.close()


@pytest.mark.parametrize("op", sorted(OPERATIONS))
def test_every_operation_names_the_missing_bucket(kind: str, missing: Store, op: str) -> None:
    with pytest.raises(BucketNotFound) as info:
        OPERATIONS[op](missing)
    error = info.value
    bucket = missing.unwrap().native_path("").split("/")[2]
    assert error.bucket == bucket
    assert error.noun == NOUNS[kind]
    assert f"{NOUNS[kind]} {bucket!r} does not exist" in str(error)
    assert isinstance(error, NotFound)
    assert isinstance(error, FileNotFoundError)
    assert not error.temporary


def test_a_missing_object_in_an_existing_bucket_is_still_a_missing_path(kind: str) -> None:
    store = EXISTING[kind]()
    try:
        assert store.exists("nothing-here.txt") is False
        assert store.is_file("nothing-here.txt") is False
        with pytest.raises(NotFound) as info:
            store.read_bytes("nothing-here.txt")
        assert not isinstance(info.value, BucketNotFound)
        with pytest.raises(NotFound) as info:
            store.get_file_info("nothing-here.txt")
        assert not isinstance(info.value, BucketNotFound)
        store.delete("nothing-here.txt", missing_ok=True)
        store.delete("nothing-here.txt", missing_ok=True, if_version="1")
        assert list(store.list_files("nothing", recursive=True)) == []
    finally:
        remote.wipe(store)


@pytest.mark.parametrize("ambiguous", ["s3", "gcs"])
def test_an_existing_bucket_is_asked_about_once_per_interval(ambiguous: str) -> None:
    # A HEAD's bare 404 (S3; every 404 of the GCS emulator) is ambiguous: the driver asks
    # about the bucket, then trusts the answer for a while instead of doubling the cost
    # of every miss. (Azure names ContainerNotFound in every answer: it never asks.)
    store = EXISTING[ambiguous]()
    check = store.unwrap()._bucket_check  # type: ignore[attr-defined]
    calls = []
    ask = check._exists

    def counting() -> bool:
        calls.append(1)
        return bool(ask())

    check._exists = counting
    check.forget()
    try:
        for _ in range(5):
            assert not store.exists("nothing-here.txt")
        assert len(calls) <= 1
    finally:
        remote.wipe(store)


def test_the_error_survives_pickling_with_its_bucket() -> None:
    error = map_error(
        BucketMissing("typo", "container"),
        Classification(ErrorKind.BUCKET_NOT_FOUND, bucket="typo", noun="container"),
        backend="azure",
        op="list",
        path="x",
    )
    again = pickle.loads(pickle.dumps(error))
    assert isinstance(again, BucketNotFound)
    assert (again.bucket, again.noun, again.op, again.path) == ("typo", "container", "list", "x")
    assert str(again) == str(error)
