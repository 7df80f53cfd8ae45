"""``ListObjectsV2`` pages parsed here, not by botocore's shape walker.

botocore reads a 200 answer of S3 twice: expat builds an element tree to look for an
``<Error>`` (``_handle_200_error``), then again for the parser, whose generic walker
visits every element against the service model. For a 1,000-key page from moto that is
about 29 ms (with the backend's fast time parser); this module reads the tree once,
directly, for the fields a listing uses, in about 8 ms (5 of them expat's). It hands
botocore the result through its documented ``before-parse`` event: the page's fields go
to ``customized_response_dict`` (which botocore merges into the parsed response) and
botocore is left an empty ``ListBucketResult`` to parse. Everything else of the call
stays botocore's: signing, retries, the error path (any answer but a 200 is left to
botocore, and so is a 200 it would call a server error: a body cut short, or an
``<Error>``, which becomes a 500 and is retried, exactly as botocore does), and the
decoding of ``EncodingType=url`` keys in its ``after-call`` handler.

The answer is a server's, so it is checked as it is read (DESIGN §5b): a page that
declares a DTD or entities, is not a ``ListBucketResult``, holds an entry without a key,
a size, count, flag or time that does not read, or a common prefix without its prefix
is :class:`~omnistorage.errors.CorruptDataError` naming what was wrong, never a
traceback from a parser or a silently short page.

Only clients the backend builds itself carry the hook; a client handed in keeps
botocore's parser (the result is the same; this is only faster).

The hook also shows the raw body to whoever listens on this thread (:data:`raw_pages`)
before it is parsed: the listing (``_listing.py``) asks for the next page with the token
it finds there while this page is parsed, and trusts that request only if the parsed
token is the same.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

from omnistorage.errors import CorruptDataError

__all__ = ["parse_list_page", "raw_pages", "read_pages_ourselves"]


class _Listeners(threading.local):
    seen: Callable[[bytes], None] | None = None
    sending: Callable[[], None] | None = None


raw_pages = _Listeners()
"""``raw_pages.seen``, when set on a thread, is called with each ``ListObjectsV2`` answer
body (status 200) that thread receives, before it is parsed; ``raw_pages.sending`` just
before each of its ``ListObjectsV2`` requests is sent."""

_EVENT = "before-parse.s3.ListObjectsV2"
_EMPTY = b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></ListBucketResult>'

# Top-level fields, by how their text reads (botocore's output shape of ListObjectsV2).
_TEXT = frozenset(
    {"Name", "Prefix", "Delimiter", "EncodingType", "ContinuationToken", "StartAfter"}
)
_TEXT |= {"NextContinuationToken", "RequestCharged"}
_COUNTS = frozenset({"MaxKeys", "KeyCount"})
# Fields of one entry (``Contents``) read as text; the rest are converted below.
_ENTRY_TEXT = frozenset({"Key", "ETag", "StorageClass", "ChecksumType"})


def read_pages_ourselves(client: Any, parse_time: Callable[[Any], datetime]) -> None:
    """Parse ``client``'s ``ListObjectsV2`` pages here (module docstring), reading
    ``LastModified`` with ``parse_time``."""

    def before_parse(
        response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
    ) -> None:
        if response_dict.get("status_code") != 200:
            return  # errors keep botocore's own path
        body = response_dict.get("body")
        if not isinstance(body, bytes):
            return
        seen = raw_pages.seen
        if seen is not None:
            seen(body)
        page = parse_list_page(body, parse_time)
        if page is None:
            # botocore's rule for a 200 it cannot read (a body cut short) or that holds
            # an <Error>: a server error, retried, and parsed as an error.
            response_dict["status_code"] = 500
            return
        customized_response_dict.update(page)
        response_dict["body"] = _EMPTY

    def before_send(**_: Any) -> None:
        sending = raw_pages.sending
        if sending is not None:
            sending()

    events = client.meta.events
    events.register(_EVENT, before_parse, unique_id="omnistorage-list-page")
    events.register("before-send.s3.ListObjectsV2", before_send, unique_id="omnistorage-list-send")
    _check_200_errors_once(events)


def _check_200_errors_once(events: Any) -> None:
    """botocore looks for an ``<Error>`` in every 200 answer of S3 by parsing the whole
    body a first time (``_handle_200_error``, on ``before-parse.s3.*``, which runs before
    any handler of one operation). For ``ListObjectsV2`` the parse here makes the same
    check, so on this client botocore's runs for the other operations only. Should a
    botocore release rename it, nothing changes but the time (the body is parsed
    twice)."""
    from botocore import handlers

    original = getattr(handlers, "_handle_200_error", None)
    if original is None:
        return
    try:
        events.unregister("before-parse.s3.*", original)
    except Exception:  # noqa: BLE001 - not there: leave botocore's handlers as they are
        return

    def handle_200_error(operation_model: Any, **kwargs: Any) -> None:
        if getattr(operation_model, "name", None) != "ListObjectsV2":
            original(operation_model=operation_model, **kwargs)

    events.register_first("before-parse.s3.*", handle_200_error, unique_id="omnistorage-200")


def parse_list_page(body: bytes, parse_time: Callable[[Any], datetime]) -> dict[str, Any] | None:
    """One ``ListObjectsV2`` answer as botocore would parse it (the listing's fields:
    the top-level ones, ``Contents`` with ``Key``, ``LastModified``, ``ETag``, ``Size``,
    ``StorageClass``, ``ChecksumAlgorithm`` and ``Owner``, and ``CommonPrefixes``), or
    ``None`` where botocore sees a server error in a 200 answer: a body that ends before
    the document does, or an ``<Error>``. Keys are left as sent: botocore's
    ``after-call`` handler decodes ``EncodingType=url`` ones, as it does for its own
    parser's output."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise CorruptDataError("a listing page declares a DTD or entities: refused")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    name = _local(root.tag)
    if name == "Error":
        return None
    if name != "ListBucketResult":
        raise CorruptDataError(f"a listing page is a {name[:64]!r}, not a ListBucketResult")
    page: dict[str, Any] = {}
    contents: list[dict[str, Any]] = []
    prefixes: list[dict[str, str]] = []
    for child in root:
        name = _local(child.tag)
        if name == "Contents":
            contents.append(_entry(child, parse_time))
        elif name == "CommonPrefixes":
            prefixes.append(_prefix(child))
        elif name in _TEXT:
            page[name] = child.text or ""
        elif name == "IsTruncated":
            page[name] = _flag(child.text, name)
        elif name in _COUNTS:
            page[name] = _count(child.text, name)
    if contents:
        page["Contents"] = contents
    if prefixes:
        page["CommonPrefixes"] = prefixes
    return page


def _entry(element: ElementTree.Element, parse_time: Callable[[Any], datetime]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for field in element:
        name = _local(field.tag)
        text = field.text or ""
        if name in _ENTRY_TEXT:
            entry[name] = text
        elif name == "Size":
            entry[name] = _count(text, "Size")
        elif name == "LastModified":
            try:
                entry[name] = parse_time(text)
            except Exception:  # noqa: BLE001 - any parser failure is the server's bad time
                raise CorruptDataError(
                    f"a listing entry has a LastModified that does not read: {text[:64]!r}"
                ) from None
        elif name == "ChecksumAlgorithm":
            entry.setdefault(name, []).append(text)
        elif name == "Owner":
            entry[name] = {_local(part.tag): part.text or "" for part in field}
    if "Key" not in entry:
        raise CorruptDataError("a listing entry has no Key")
    return entry


def _prefix(element: ElementTree.Element) -> dict[str, str]:
    for field in element:
        if _local(field.tag) == "Prefix":
            return {"Prefix": field.text or ""}
    raise CorruptDataError("a listing's CommonPrefixes entry has no Prefix")


_LOCAL: dict[str, str] = {}


def _local(tag: Any) -> str:
    """A tag without its namespace (``{ns}Key`` is ``Key``), as botocore reads it."""
    name = _LOCAL.get(tag)
    if name is None:
        if not isinstance(tag, str):  # a comment or processing instruction
            return ""
        name = tag.rpartition("}")[2]
        if len(_LOCAL) < 256:  # the names of one schema, not whatever a server invents
            _LOCAL[tag] = name
    return name


def _count(text: str | None, name: str) -> int:
    value = (text or "").strip()
    if not value.isascii() or not value.isdigit():
        raise CorruptDataError(f"a listing page has a {name} that is not a count: {value[:64]!r}")
    return int(value)


def _flag(text: str | None, name: str) -> bool:
    value = (text or "").strip().lower()
    if value not in ("true", "false"):
        raise CorruptDataError(f"a listing page has an {name} that is not true or false")
    return value == "true"
