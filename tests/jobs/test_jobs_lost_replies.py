"""Lost replies on the wire (the HTTP fault proxy in front of moto): a staged publish
or a manifest write whose reply is dropped is sent again by botocore, and the job
commit still lands once, whole."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest

from omnistorage import Store
from omnistorage.backends.s3 import S3Backend
from omnistorage.jobs import Job, TaskAttempt, open_dataset
from omnistorage.staged import open_staged, publish
from tests.backends.test_s3 import KEY_ID, SECRET, empty_bucket, new_bucket, settings
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
        )
        yield Store(backend, f"t-{uuid4().hex}"), proxy
        backend.close()
    empty_bucket(bucket)


def _complete(request: ProxiedRequest) -> bool:
    return request.method == "POST" and "uploadId" in request.query


def _manifest_put(request: ProxiedRequest) -> bool:
    return request.method == "PUT" and "/_manifest/" in request.path


def test_a_staged_publish_whose_reply_was_lost_succeeds(
    proxied: tuple[Store, FaultProxy],
) -> None:
    store, proxy = proxied
    with open_staged(store, "k.bin") as writer:
        writer.write(b"staged")
    token = writer.close()
    fault = proxy.add(Fault(_complete))
    publish(store, token)
    assert len(fault.hits) == 1  # the reply really was dropped once
    assert store.read_bytes("k.bin") == b"staged"


def test_a_job_commit_with_lost_replies_lands_once(proxied: tuple[Store, FaultProxy]) -> None:
    store, proxy = proxied
    for task in range(3):
        attempt = TaskAttempt(store, "job", task, "a")
        with attempt.open_shard() as writer:
            writer.write_many({"task": task, "i": i} for i in range(10))
        attempt.commit()
    publishes = proxy.add(Fault(_complete, times=2))
    manifest = proxy.add(Fault(_manifest_put))
    result = Job(store, "job").commit()
    assert len(publishes.hits) == 2
    assert len(manifest.hits) == 1
    assert result.manifest == 1
    dataset = open_dataset(store)
    assert dataset.version == 1  # the retried manifest write made no second version
    assert sorted(r["task"] for r in dataset.records()) == sorted(
        t for t in range(3) for _ in range(10)
    )
