"""Pinned reads (``PINNED_READ``): ranged reads of one version, every answer verified.

:class:`HTTPPinned` learns size and version by ``HEAD`` (the strong ETag, else
``Last-Modified``) and reads every range with ``If-Range`` on the version. A
server that honours ``If-Range`` answers 206 while the object is the same and
the whole object (200) once it changed; one that ignores it is caught by the
answer itself, which must name the pinned version and size
(:mod:`._verify`): a 206 whose ETag (or, pinned by date, ``Last-Modified``)
differs or is missing, whose ``Content-Range`` is not exactly the range asked
for within the pinned size, or whose body is short; a 200 of another version;
404/410 (deleted), 412 and 416. Each raises
:class:`~omnistorage.errors.ObjectChanged`, so a reader never returns bytes
of two versions. A 200 that names the pinned version comes from a server that
ignores ``Range``: the range is served from it by skipping. A body cut by a
temporary failure (or short) is asked again, ``retries`` times.

:func:`open_pinned` falls back to a spooled copy (one full ``GET``) when the
server offers no byte ranges (no ``Accept-Ranges: bytes``), no validator or no
size, or refuses ``HEAD``; a close-delimited copy must have the size ``HEAD``
gave for the same version (:func:`~._reader.open_stream`).
"""

from __future__ import annotations

import time

import urllib3

from omnistorage._io import SpooledPinned
from omnistorage.backends.http._client import Client
from omnistorage.backends.http._errors import UnexpectedRange, classify
from omnistorage.backends.http._reader import SKIP, StatusError, discard, open_stream
from omnistorage.backends.http._verify import (
    ShortBody,
    Version,
    declared_length,
    range_header,
    served_range,
)
from omnistorage.driver import PinnedReader
from omnistorage.errors import ObjectChanged

__all__ = ["HTTPPinned", "open_pinned"]


class HTTPPinned(PinnedReader):
    """Ranged reads of one version of ``url``, each verified (module docstring)."""

    def __init__(
        self, client: Client, url: str, size: int, version: Version, status_error: StatusError
    ) -> None:
        self._client = client
        self._url = url
        self._version = version
        self._status_error = status_error
        self.size = size
        self.version = version.tag()

    def read_range(self, offset: int, length: int) -> bytes:
        length = max(0, min(length, self.size - offset))
        if length == 0:
            return b""
        attempts = self._client.retries + 1
        budget = self._client.budget
        started = time.monotonic()
        for attempt in range(1, attempts + 1):
            try:
                return self._fetch(offset, length)
            except ObjectChanged:
                raise
            except Exception as exc:
                if attempt == attempts or not classify(exc).temporary:
                    raise
                if budget is not None and not budget.allows(started):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _changed(self, why: str) -> ObjectChanged:
        return ObjectChanged(f"{self._url} changed after it was opened ({why})")

    def _fetch(self, offset: int, length: int) -> bytes:
        headers = {**range_header(offset, offset + length), **self._version.if_range()}
        response = self._client.request("GET", self._url, headers, stream=True)
        try:
            status = response.status
            if status in (404, 410):
                raise self._changed(f"HTTP {status}: it is gone")
            if status in (412, 416):
                raise self._changed(f"HTTP {status}: it is not the pinned version or size")
            if status not in (200, 206):
                raise self._status_error(response, "GET", self._url)
            why = self._version.mismatch(response.headers)
            if why is not None:
                raise self._changed(why)
            if status == 206:
                try:
                    served_range(response, self._url, offset, offset + length, self.size)
                except UnexpectedRange as error:
                    raise self._changed(str(error)) from None
            elif declared_length(response) not in (None, self.size):
                raise self._changed(f"{declared_length(response)} bytes, {self.size} pinned")
            else:  # the pinned version, whole: the server ignores Range
                self._drop(response, offset)
            data = _read_exactly(response, length)
        finally:
            discard(response)
        if len(data) != length:
            raise ShortBody(
                f"{self._url}: the server sent {len(data)} of the {length} bytes from {offset}"
            )
        return data

    def _drop(self, response: urllib3.BaseHTTPResponse, count: int) -> None:
        while count:
            dropped = response.read(min(count, SKIP), decode_content=False)
            if not dropped:
                raise ShortBody(f"{self._url}: the body ended before byte {count}")
            count -= len(dropped)


def _read_exactly(response: urllib3.BaseHTTPResponse, length: int) -> bytes:
    """Up to ``length`` bytes of the body (fewer only when it ends first)."""
    parts: list[bytes] = []
    got = 0
    while got < length:
        part = response.read(length - got, decode_content=False)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def open_pinned(
    client: Client,
    url: str,
    head: urllib3.BaseHTTPResponse | None,
    status_error: StatusError,
) -> PinnedReader:
    """Pin the version ``head`` (the object's ``HEAD`` answer) describes, or spool one full
    read when the server offers no byte ranges, no validator or no size, or refused the
    ``HEAD`` (``head`` is ``None``)."""
    expected: tuple[Version, int | None] | None = None
    if head is not None:
        version = Version(head.headers)
        size = declared_length(head)
        ranges = "bytes" in head.headers.get("Accept-Ranges", "").lower()
        if ranges and version.known and size is not None:
            return HTTPPinned(client, url, size, version, status_error)
        expected = (version, size)
    source = open_stream(client, url, 0, None, status_error, expected=expected)
    try:
        return SpooledPinned(source)
    finally:
        source.close()
