"""S3 listings check the server's pagination: the order of many pages, an early stop,
and a hostile server (a truncated page without a token, a token that comes back, a
failure on a later page)."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from omnistorage import Store
from omnistorage.backends.s3 import S3Backend
from omnistorage.backends.s3._listing import list_pages
from omnistorage.errors import CorruptDataError
from tests.backends.test_s3 import empty_bucket, new_bucket, s3_store, shared_client


class PagedClient:
    """Fault injection: a client whose ListObjectsV2 answers come from ``pages``, keyed by
    the continuation token asked for (``None`` for the first), and records the calls."""

    def __init__(self, pages: dict[str | None, dict[str, Any] | Exception]) -> None:
        self.pages = pages
        self.asked: list[str | None] = []

    def list_objects_v2(self, **request: Any) -> dict[str, Any]:
        token = request.get("ContinuationToken")
        self.asked.append(token)
        answer = self.pages[token]
        if isinstance(answer, Exception):
            raise answer
        return answer


def page(
    keys: list[str], token: str | None = None, *, truncated: bool | None = None
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "Contents": [{"Key": k, "Size": 1, "ETag": '"e"'} for k in keys],
        "IsTruncated": token is not None if truncated is None else truncated,
    }
    if token is not None:
        answer["NextContinuationToken"] = token
    return answer


REQUEST = {"Bucket": "b", "Prefix": "p/", "MaxKeys": 2}


def test_pages_come_in_order_each_asked_for_with_the_token_before_it() -> None:
    client = PagedClient(
        {None: page(["a", "b"], "t1"), "t1": page(["c", "d"], "t2"), "t2": page(["e"])}
    )
    pages = list(list_pages(client, dict(REQUEST)))
    assert [e["Key"] for p in pages for e in p["Contents"]] == ["a", "b", "c", "d", "e"]
    assert client.asked == [None, "t1", "t2"]


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(page(["c"], None, truncated=True), id="truncated-without-token"),
        pytest.param(page(["c"], "t1"), id="token-sent-twice"),
        pytest.param(
            {**page(["c"], None, truncated=True), "NextContinuationToken": ""}, id="empty-token"
        ),
    ],
)
def test_a_hostile_pagination_is_corrupt_data_never_a_short_listing(broken: dict[str, Any]) -> None:
    client = PagedClient({None: page(["a", "b"], "t1"), "t1": broken})
    pages = list_pages(client, dict(REQUEST))
    next(pages)
    with pytest.raises(CorruptDataError, match=r"s3://b/p/"):
        list(pages)


def test_a_failure_on_a_later_page_is_raised_after_the_pages_before_it() -> None:
    failure = ConnectionResetError("reset on page 2")
    client = PagedClient({None: page(["a", "b"], "t1"), "t1": failure})
    pages = list_pages(client, dict(REQUEST))
    assert [e["Key"] for e in next(pages)["Contents"]] == ["a", "b"]
    with pytest.raises(ConnectionResetError):
        next(pages)


@pytest.mark.server
def test_a_hostile_pagination_reaches_the_store_as_a_typed_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = S3Backend(bucket="any", client=shared_client())
    hostile = PagedClient({None: page(["r/a", "r/b"], "t1"), "t1": page(["r/c"], "t1")})
    monkeypatch.setattr(backend, "_client", hostile)
    listing = Store(backend).list_files("r", recursive=True)
    assert [next(listing).path, next(listing).path] == ["r/a", "r/b"]
    with pytest.raises(CorruptDataError, match="continuation token twice"):
        next(listing)


@pytest.mark.server
def test_a_real_listing_of_many_pages_and_an_early_stop() -> None:
    bucket = new_bucket()
    try:
        store = s3_store(bucket, list_page_size=3)
        names = [f"k/{i:03d}" for i in range(20)]
        for name in names:
            store.write(name, b"x")
        assert [info.path for info in store.list_files("k", recursive=True)] == names
        listing = store.list_files("k", recursive=True)
        assert [next(listing).path for _ in range(4)] == names[:4]
        del listing  # closes the driver's listing (its generator)
        gc.collect()
        assert [info.path for info in store.list_files("k", recursive=True)][-1] == names[-1]
    finally:
        empty_bucket(bucket)
