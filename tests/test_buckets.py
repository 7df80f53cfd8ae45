"""omnistorage.buckets: the bucket service a backend type declares, its options and its
typed errors (against moto; the command-line tests cover GCS and Azure too)."""

from __future__ import annotations

import uuid

import pytest

from omnistorage import (
    AlreadyExists,
    BucketNotFound,
    ConfigurationError,
    DirectoryNotEmpty,
    open_store,
)
from omnistorage.buckets import buckets_for, has_buckets, open_buckets
from omnistorage.registry import backend_types
from tests.support.servers import server_env


def test_which_types_have_buckets_is_what_they_declare() -> None:
    declared = {name for name, kind in backend_types().items() if kind.buckets is not None}
    assert declared == {"s3", "gcs", "azure"}
    assert has_buckets("s3")
    assert not has_buckets("local")
    assert not has_buckets("no-such-type")
    with pytest.raises(ConfigurationError, match="no buckets"):
        open_buckets("file:///tmp")


def test_an_unknown_option_is_refused_and_object_options_are_accepted() -> None:
    with pytest.raises(ConfigurationError, match="'colour'"):
        open_buckets("s3://?endpoint_url=http://127.0.0.1:1", colour="blue")
    # part_size matters to objects only: accepted, unused, no I/O.
    with open_buckets("s3://?endpoint_url=http://127.0.0.1:1&region=us-east-1", part_size=8 << 20):
        pass


@pytest.mark.server
def test_make_list_remove_against_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    query = f"?endpoint_url={env['OMNI_TEST_S3_ENDPOINT']}&region={env['OMNI_TEST_S3_REGION']}"
    name = f"lib-{uuid.uuid4().hex[:16]}"
    with open_buckets(f"s3://{query}") as buckets:
        assert buckets.noun == "bucket"
        buckets.make(name)
        assert name in [info.name for info in buckets.list()]
        with pytest.raises(AlreadyExists):
            buckets.make(name)
        with open_store(f"s3://{name}/{query}") as store:
            store.write("a.txt", b"a")
            with pytest.raises(DirectoryNotEmpty):
                buckets.remove(name)
            store.delete("a.txt")
        buckets.remove(name)
        with pytest.raises(BucketNotFound) as info:
            buckets.remove(name)
        assert info.value.bucket == name
        with pytest.raises(ConfigurationError):
            buckets.make("a/b")


@pytest.mark.server
def test_buckets_for_a_backends_options_names_its_bucket() -> None:
    env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
    options = {
        "bucket": "named-here",
        "endpoint_url": env["OMNI_TEST_S3_ENDPOINT"],
        "region": env["OMNI_TEST_S3_REGION"],
        "access_key_id": "testing",
        "secret_access_key": "very-secret-value",
    }
    buckets, bucket = buckets_for("s3", options, secrets=("from-env",))
    with buckets:
        assert bucket == "named-here"
        with pytest.raises(BucketNotFound) as info:
            buckets.remove("named-here")
        assert "very-secret-value" not in str(info.value)
