"""Listings from nginx's machine-readable directory index (``autoindex_format json``).

A folder URL (``…/folder/``) answers a JSON array, one object per entry::

    [
    { "name":"sub", "type":"directory", "mtime":"Mon, 23 Nov 2026 08:18:50 GMT" },
    { "name":"a.txt", "type":"file", "mtime":"Mon, 23 Nov 2026 08:18:50 GMT", "size":11 }
    ]

The array is parsed incrementally as it arrives (one entry in memory at a
time, whatever the folder's size); a recursive listing walks the folders one
request each, depth first. Names are yielded as the server sends them (the
Store skips and counts those outside the key grammar). nginx leaves out names
that start with a dot, so such files can be read but are never listed; entries
of type ``other`` (sockets, devices) are skipped. A folder that does not exist
(404, also a file's URL with a trailing ``/``) lists as empty. A folder whose
key would pass the key grammar's 1024-byte limit is not descended into (a
symbolic-link loop on the server ends there).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import urllib3

from omnistorage.backends.http._client import Client
from omnistorage.backends.http._errors import ListingFormatError
from omnistorage.models import ObjectInfo

__all__ = ["LISTING_FORMATS", "list_autoindex"]

LISTING_FORMATS = ("none", "nginx-json")
"""The values of the ``listing`` option."""

_CHUNK = 64 * 1024
_MAX_KEY_BYTES = 1024

StatusError = Callable[[urllib3.BaseHTTPResponse, str, str], Exception]


def _entries(response: urllib3.BaseHTTPResponse, url: str) -> Iterator[dict[str, Any]]:
    """The objects of the JSON array ``response`` streams, one at a time."""
    decoder = json.JSONDecoder()
    text = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    buffer, at, started, eof = "", 0, False, False

    def more() -> bool:
        nonlocal buffer, at, eof
        if eof:
            return False
        chunk = response.read(_CHUNK, decode_content=True)
        eof = not chunk
        buffer = buffer[at:] + text.decode(chunk, final=eof)
        at = 0
        return True

    def bad(why: str) -> ListingFormatError:
        return ListingFormatError(
            f"{url} did not answer nginx's JSON directory index ({why}); the server needs "
            "'autoindex on; autoindex_format json;' for listing='nginx-json'"
        )

    while True:
        while at < len(buffer) and buffer[at] in " \t\r\n,":
            if buffer[at] == "," and not started:
                raise bad("a comma before the array")
            at += 1
        if at >= len(buffer):
            if not more():
                raise bad("the array is not closed")
            continue
        if not started:
            if buffer[at] != "[":
                raise bad("not a JSON array")
            started, at = True, at + 1
            continue
        if buffer[at] == "]":
            return
        try:
            entry, end = decoder.raw_decode(buffer, at)
        except json.JSONDecodeError as exc:
            if more():
                continue
            raise bad(f"invalid JSON: {exc.msg}") from exc
        if not isinstance(entry, dict):
            raise bad("an entry is not an object")
        at = end
        yield entry


def _modified(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _too_deep(prefix: str) -> bool:
    return len(prefix.encode("utf-8", "surrogateescape")) > _MAX_KEY_BYTES


def list_autoindex(
    client: Client,
    folder_url: Callable[[str], str],
    prefix: str,
    recursive: bool,
    status_error: StatusError,
) -> Iterator[ObjectInfo]:
    """Files (and, when not ``recursive``, sub-folders) under ``prefix`` (``""`` or ending
    with ``/``), lazily; ``folder_url(prefix)`` is a folder's URL."""
    pending = [prefix]
    while pending:
        folder = pending.pop()
        url = folder_url(folder)
        response = client.request("GET", url, {"Accept": "application/json"}, stream=True)
        finished = False
        try:
            if response.status in (404, 410):
                response.drain_conn()
                continue
            if response.status != 200:
                raise status_error(response, "GET", url)
            served = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if served != "application/json":
                raise ListingFormatError(
                    f"{url} answered {served or 'no content type'} where nginx's JSON directory "
                    "index was expected ('autoindex on; autoindex_format json;')"
                )
            for entry in _entries(response, url):
                name, kind = entry.get("name"), entry.get("type")
                if not isinstance(name, str) or not name or "/" in name:
                    raise ListingFormatError(f"{url}: an entry has no usable name: {entry!r}")
                path = folder + name
                if kind == "directory":
                    if not recursive:
                        yield ObjectInfo(path=path, is_dir=True)
                    elif not _too_deep(path + "/"):
                        pending.append(path + "/")
                elif kind == "file":
                    size = entry.get("size")
                    yield ObjectInfo(
                        path=path,
                        size=size if isinstance(size, int) and size >= 0 else None,
                        modified=_modified(entry.get("mtime")),
                    )
            response.drain_conn()  # the array's end: the connection can serve again
            finished = True
        finally:
            if finished or response.status in (404, 410):
                response.release_conn()
            else:
                response.close()
