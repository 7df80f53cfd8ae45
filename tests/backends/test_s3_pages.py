"""``ListObjectsV2`` pages parsed by ``backends/s3/_page.py`` and asked for ahead by
``_listing.py``: the same result as botocore's parser for every page (a model test),
hostile answers as typed errors, and the requests a listing sends (one per page, a
wrong guess dropped, nothing more after an early stop)."""

from __future__ import annotations

import gc
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from omnistorage import Store
from omnistorage.backends.s3 import S3Backend
from omnistorage.backends.s3._config import parse_timestamp
from omnistorage.backends.s3._page import parse_list_page
from omnistorage.errors import BackendUnavailable, CorruptDataError, PermissionDenied, StorageError
from omnistorage.testing import driver_of
from tests.support.hostile_http import HostileServer, Reply, Request

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
WHEN = "2026-01-02T03:04:05.000Z"


def _botocore(body: bytes) -> dict[str, Any]:
    """What botocore's own parser makes of ``body`` (with the backend's time parser)."""
    from botocore.parsers import RestXMLParser

    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    shape = client.meta.service_model.operation_model("ListObjectsV2").output_shape
    parsed = RestXMLParser(timestamp_parser=parse_timestamp).parse(
        {"headers": {}, "status_code": 200, "body": body}, shape
    )
    parsed.pop("ResponseMetadata", None)
    return parsed  # type: ignore[no-any-return]


def _entry(key: str, size: int = 1, etag: str = '"e"', when: str = WHEN, extra: str = "") -> str:
    return (
        f"<Contents><Key>{escape(key)}</Key><LastModified>{when}</LastModified>"
        f"<ETag>{escape(etag)}</ETag><Size>{size}</Size>{extra}</Contents>"
    )


def _page(
    entries: list[str],
    *,
    prefixes: list[str] = (),  # type: ignore[assignment]
    token: str | None = None,
    truncated: bool | None = None,
    head: str = "",
    namespace: bool = True,
) -> bytes:
    truncated = token is not None if truncated is None else truncated
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<ListBucketResult xmlns="{NS}">' if namespace else "<ListBucketResult>",
        head,
        f"<Name>b</Name><Prefix>p/</Prefix><KeyCount>{len(entries)}</KeyCount>",
        f"<MaxKeys>1000</MaxKeys><IsTruncated>{str(truncated).lower()}</IsTruncated>",
        *entries,
        *(f"<CommonPrefixes><Prefix>{escape(p)}</Prefix></CommonPrefixes>" for p in prefixes),
    ]
    if token is not None:
        parts.append(f"<NextContinuationToken>{escape(token)}</NextContinuationToken>")
    parts.append("</ListBucketResult>")
    return "".join(parts).encode()


# ---------------------------------------------------------------- the same as botocore's

# Text XML 1.0 can carry (S3 sends other keys url-encoded).
_xml_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
    | st.sampled_from("\t&<>\"'%+ /"),
    max_size=40,
)
_contents = st.builds(
    lambda key, size, etag, sc, algos, owner: _entry(
        key,
        size,
        etag,
        extra=(f"<StorageClass>{sc}</StorageClass>" if sc else "")
        + "".join(f"<ChecksumAlgorithm>{a}</ChecksumAlgorithm>" for a in algos)
        + (
            f"<Owner><ID>{escape(owner)}</ID><DisplayName>d</DisplayName></Owner>"
            if owner is not None
            else ""
        ),
    ),
    _xml_text.filter(bool),
    st.integers(0, 2**63),
    _xml_text,
    st.sampled_from(["", "STANDARD", "GLACIER"]),
    st.lists(st.sampled_from(["CRC32", "CRC32C", "SHA256"]), max_size=2),
    st.none() | _xml_text,
)


@settings(max_examples=150, deadline=None)
@given(
    entries=st.lists(_contents, max_size=8),
    prefixes=st.lists(_xml_text.filter(bool), max_size=3),
    token=st.none() | _xml_text.filter(bool),
    namespace=st.booleans(),
)
def test_a_page_parses_as_botocore_parses_it(
    entries: list[str], prefixes: list[str], token: str | None, namespace: bool
) -> None:
    body = _page(entries, prefixes=prefixes, token=token, namespace=namespace)
    assert parse_list_page(body, parse_timestamp) == _botocore(body)


def test_a_url_encoded_page_is_decoded_by_botocore_after_our_parse() -> None:
    """With ``EncodingType=url`` (which botocore asks for) keys stay encoded in the parse
    and botocore's ``after-call`` handler decodes them once."""
    body = _page([_entry("a%20b%25c")], prefixes=["d%2F"], head="<EncodingType>url</EncodingType>")
    page = parse_list_page(body, parse_timestamp)
    assert page["EncodingType"] == "url"
    assert page["Contents"][0]["Key"] == "a%20b%25c" == _botocore(body)["Contents"][0]["Key"]


# ---------------------------------------------------------------- hostile answers


class PagedServer:
    """An S3 endpoint answering ``ListObjectsV2`` with ``pages[token]`` (the first page's
    token is ``None``) and anything else with an empty 200; records the tokens asked."""

    def __init__(self, pages: dict[str | None, bytes | tuple[int, bytes]]) -> None:
        self.pages = pages
        self.asked: list[str | None] = []
        self.server = HostileServer(self.script)

    def script(self, request: Request, reply: Reply) -> None:
        query = parse_qs(urlsplit(request.path).query)
        if request.method != "GET" or "list-type" not in query:
            reply.send(200, {}, b"")
            return
        token = query.get("continuation-token", [None])[0]
        self.asked.append(token)
        answer = self.pages.get(token, (404, b"<Error><Code>NoSuchKey</Code></Error>"))
        status, body = answer if isinstance(answer, tuple) else (200, answer)
        reply.send(status, {"Content-Type": "application/xml"}, body)

    def store(self, **options: Any) -> Store:
        return self.store_at(self.server.url, **options)

    @staticmethod
    def store_at(url: str, **options: Any) -> Store:
        options.setdefault("max_attempts", 1)
        backend = S3Backend(
            bucket="b",
            endpoint_url=url,
            region="us-east-1",
            access_key_id="AKIDEXAMPLE",
            secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            addressing_style="path",
            **options,
        )
        return Store(backend)

    def __enter__(self) -> PagedServer:
        self.server.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.__exit__(None, None, None)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            b"<ListBucketResult><Name>&b;</Name></ListBucketResult>",
            "DTD",
            id="entities",
        ),
        pytest.param(b"<Other/>", "not a ListBucketResult", id="other-root"),
        pytest.param(_page(["<Contents><Size>1</Size></Contents>"]), "no Key", id="no-key"),
        pytest.param(_page([_entry("k", size=-1)]), "Size", id="negative-size"),
        pytest.param(
            _page(["<Contents><Key>k</Key><Size>1e3</Size></Contents>"]), "Size", id="size"
        ),
        pytest.param(_page([_entry("k", when="yesterday")]), "LastModified", id="time"),
        pytest.param(
            _page([]).replace(b"<IsTruncated>false", b"<IsTruncated>maybe"),
            "IsTruncated",
            id="flag",
        ),
        pytest.param(
            _page([]).replace(b"<KeyCount>0", b"<KeyCount>\xd9\xa3"), "KeyCount", id="count"
        ),
        pytest.param(
            _page([], prefixes=[]).replace(
                b"</ListBucketResult>", b"<CommonPrefixes></CommonPrefixes></ListBucketResult>"
            ),
            "no Prefix",
            id="prefix",
        ),
    ],
)
def test_a_hostile_page_is_corrupt_data_naming_what_was_wrong(body: bytes, says: str) -> None:
    with PagedServer({None: body}) as server:
        with pytest.raises(CorruptDataError, match=says) as caught:
            list(server.store().list_files("p", recursive=True))
    assert "wJalrXUtnFEMI" not in str(caught.value)


def test_an_error_answer_keeps_botocores_error_path() -> None:
    denied = b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>"
    with PagedServer({None: (403, denied)}) as server:
        with pytest.raises(PermissionDenied, match="AccessDenied"):
            list(server.store().list_files("p", recursive=True))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'<?xml version="1.0"?><Error><Code>InternalError</Code></Error>', id="error"),
        pytest.param(_page([_entry("p/a"), _entry("p/b")])[:-40], id="cut-short"),
        pytest.param(b"\x00\xff garbage", id="garbage"),
    ],
)
def test_a_200_botocore_calls_a_server_error_is_retried_never_an_empty_page(body: bytes) -> None:
    """As botocore does for every S3 answer: a 200 holding an ``<Error>`` or a body cut
    short is a server error (500), retried; here it then succeeds."""
    good = _page([_entry("p/a"), _entry("p/b")])
    answers = iter([body, good])

    class Flaky(PagedServer):
        def script(self, request: Request, reply: Reply) -> None:
            if "list-type" in request.path:
                self.pages[None] = next(answers, good)
            super().script(request, reply)

    with Flaky({}) as server:
        names = [i.path for i in server.store(max_attempts=3).list_files("p", recursive=True)]
        assert names == ["p/a", "p/b"]
        assert server.asked == [None, None]
    with PagedServer({None: body}) as server:
        with pytest.raises(BackendUnavailable):
            list(server.store().list_files("p", recursive=True))


def test_a_client_of_its_own_checks_200_errors_of_other_operations_still() -> None:
    """botocore's check for an ``<Error>`` in a 200 answer is left to every other call
    (here the older ``ListObjects``)."""
    error = b'<?xml version="1.0"?><Error><Code>InternalError</Code><Message>x</Message></Error>'

    def script(request: Request, reply: Reply) -> None:
        reply.send(200, {"Content-Type": "application/xml"}, error)

    with HostileServer(script) as server:
        client = driver_of(PagedServer.store_at(server.url))._client  # type: ignore[attr-defined]
        with pytest.raises(ClientError, match="InternalError"):
            client.list_objects(Bucket="b")


# ---------------------------------------------------------------- the requests a listing sends


def _chain(n: int, per_page: int = 2) -> dict[str | None, bytes | tuple[int, bytes]]:
    pages: dict[str | None, bytes | tuple[int, bytes]] = {}
    for i in range(n):
        token = f"t{i + 1}" if i + 1 < n else None
        keys = [_entry(f"p/{i:03d}-{j}") for j in range(per_page)]
        pages[None if i == 0 else f"t{i}"] = _page(keys, token=token)
    return pages


def test_every_page_is_asked_for_once_in_order() -> None:
    with PagedServer(_chain(6)) as server:
        names = [info.path for info in server.store().list_files("p", recursive=True)]
    assert names == [f"p/{i:03d}-{j}" for i in range(6) for j in range(2)]
    assert server.asked == [None, "t1", "t2", "t3", "t4", "t5"]


def test_a_wrong_guess_is_dropped_and_the_parsed_token_asked_for() -> None:
    """A comment shows a token the page does not carry (the real element is spelled with a
    space in its tag): the request made with the guess is not used."""
    first = _page([_entry("p/a")], token="t1").replace(
        b"<NextContinuationToken>t1</NextContinuationToken>",
        b"<!--<NextContinuationToken>fake</NextContinuationToken>-->"
        b"<NextContinuationToken >t1</NextContinuationToken >",
    )
    decoy = _page([_entry("p/decoy")])
    with PagedServer({None: first, "fake": decoy, "t1": _page([_entry("p/b")])}) as server:
        names = [info.path for info in server.store().list_files("p", recursive=True)]
    assert names == ["p/a", "p/b"]
    assert server.asked[0] is None
    assert "t1" in server.asked


def test_a_token_only_in_a_comment_ends_the_listing() -> None:
    last = _page([_entry("p/a")]).replace(
        b"</ListBucketResult>",
        b"<!--<NextContinuationToken>fake</NextContinuationToken>--></ListBucketResult>",
    )
    with PagedServer({None: last, "fake": _page([_entry("p/decoy")])}) as server:
        names = [info.path for info in server.store().list_files("p", recursive=True)]
    assert names == ["p/a"]


def test_an_escaped_token_is_not_guessed_and_still_followed() -> None:
    pages = _chain(3)
    pages["a&b"] = pages.pop("t1")
    pages[None] = _page([_entry("p/000-0"), _entry("p/000-1")], token="a&b")
    with PagedServer(pages) as server:
        assert len(list(server.store().list_files("p", recursive=True))) == 6
    assert server.asked == [None, "a&b", "t2"]


def test_a_failure_on_a_page_asked_ahead_reaches_the_caller_after_the_pages_before() -> None:
    pages = _chain(3)
    pages["t2"] = (400, b"<Error><Code>InvalidArgument</Code><Message>bad</Message></Error>")
    with PagedServer(pages) as server:
        listing = server.store().list_files("p", recursive=True)
        got = [next(listing).path for _ in range(4)]
        with pytest.raises(StorageError, match="InvalidArgument"):
            next(listing)
    assert got == ["p/000-0", "p/000-1", "p/001-0", "p/001-1"]


def test_a_listing_stopped_early_asks_for_nothing_more() -> None:
    with PagedServer(_chain(8)) as server:
        listing = server.store().list_files("p", recursive=True)
        assert next(listing).path == "p/000-0"
        del listing
        gc.collect()
        time.sleep(0.3)
        asked = list(server.asked)
        time.sleep(0.3)
        assert server.asked == asked  # nothing more goes out
    assert len(asked) <= 3  # the page read, and at most the guesses already under way


def test_no_listing_thread_outlives_its_listing() -> None:
    before = set(_listers())
    with PagedServer(_chain(5)) as server:
        store = server.store()
        for _ in range(3):
            assert len(list(store.list_files("p", recursive=True))) == 10
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and set(_listers()) - before:
            time.sleep(0.05)
        assert set(_listers()) - before == set()


def _listers() -> list[threading.Thread]:
    """The listings' workers alive in this process now."""
    return [t for t in threading.enumerate() if t.name.startswith("omnistorage-s3-list")]
