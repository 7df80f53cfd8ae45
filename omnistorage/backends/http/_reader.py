"""Reads: the streaming reader (resumed at the same version) and the pinned reader.

- :func:`open_stream` sends one ``GET`` (with ``Range`` for an offset or a
  length) and returns an :class:`HTTPStream`. A body cut mid-stream by a
  temporary failure is resumed from where it stopped with a ranged ``GET``
  conditional on the version first served (``If-Match`` on a strong ETag,
  else ``If-Unmodified-Since`` on ``Last-Modified``), at most ``retries``
  times; if the object changed meanwhile the server answers 412 and the read
  raises :class:`~omnistorage.errors.ObjectChanged`, never bytes of two
  versions. Without a validator a cut body is not resumed.
- :class:`HTTPPinned` (``PINNED_READ``) learns size and version by ``HEAD``
  and reads every range with ``If-Range`` on the version: the server answers
  206 while it is the same and the whole object (200) once it changed, which
  raises ``ObjectChanged``; so do 404/410 (deleted), 412 and 416 (shorter
  now), and a 206 that names another ETag or total size.
  :func:`open_pinned` falls back to a spooled copy (one full ``GET``) when the
  server offers no byte ranges or no validator.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from typing import Any, BinaryIO, cast

import urllib3
import urllib3.exceptions

from omnistorage._io import SpooledPinned
from omnistorage.backends.http._client import Client
from omnistorage.backends.http._errors import UnexpectedRange, classify
from omnistorage.driver import PinnedReader
from omnistorage.errors import ObjectChanged

__all__ = ["HTTPPinned", "HTTPStream", "Version", "open_pinned", "open_stream"]

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_SKIP = 1 << 20

StatusError = Callable[[urllib3.BaseHTTPResponse, str, str], Exception]
"""Builds the typed error for an unusable answer: ``(response, method, url)``."""


class Version:
    """The validator that names one version of an object: a strong ETag, else the
    ``Last-Modified`` date, else nothing."""

    __slots__ = ("etag", "last_modified")

    def __init__(self, headers: Any) -> None:
        etag = headers.get("ETag")
        self.etag: str | None = etag if etag and not etag.startswith("W/") else None
        self.last_modified: str | None = headers.get("Last-Modified")

    @property
    def known(self) -> bool:
        return bool(self.etag or self.last_modified)

    def tag(self) -> str | None:
        return self.etag or self.last_modified

    def if_range(self) -> dict[str, str]:
        tag = self.tag()
        return {"If-Range": tag} if tag else {}

    def if_same(self) -> dict[str, str]:
        """Headers that make a request fail with 412 once the object changed."""
        if self.etag:
            return {"If-Match": self.etag}
        if self.last_modified:
            return {"If-Unmodified-Since": self.last_modified}
        return {}


def content_range(response: urllib3.BaseHTTPResponse) -> tuple[int, int, int | None] | None:
    """``(first, last, total)`` of a 206's ``Content-Range`` (``total`` ``None`` for ``*``)."""
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if match is None:
        return None
    total = match.group(3)
    return int(match.group(1)), int(match.group(2)), None if total == "*" else int(total)


def _range_header(start: int, stop: int | None) -> dict[str, str]:
    return {"Range": f"bytes={start}-{'' if stop is None else stop - 1}"}


def _discard(response: urllib3.BaseHTTPResponse) -> None:
    """Done with ``response``: a short or finished body goes back to the pool, a long
    unread one (a whole object sent instead of a range) closes its connection."""
    remaining = getattr(response, "length_remaining", None)
    if remaining is not None and remaining <= _SKIP // 16:
        try:
            response.drain_conn()
        except Exception:  # noqa: BLE001 - a connection that fails here is simply dropped
            response.close()
            return
        response.release_conn()
    else:
        response.close()


class HTTPStream(io.RawIOBase):
    """The body of one ``GET``, from ``position`` to ``stop`` (``None``: to its end),
    resumed after a temporary failure as the module docstring says."""

    def __init__(
        self,
        client: Client,
        url: str,
        response: urllib3.BaseHTTPResponse,
        *,
        position: int,
        stop: int | None,
        skip: int,
        version: Version,
        status_error: StatusError,
    ) -> None:
        super().__init__()
        self._client = client
        self._url = url
        self._response: urllib3.BaseHTTPResponse | None = response
        self._position = position
        self._stop = stop
        self._skip = skip
        self._version = version
        self._status_error = status_error
        self._resumes = client.retries
        self._progress = time.monotonic()  # the last time bytes came

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("read from a closed HTTP stream")
        if size is None or size < 0:
            return self.readall()
        if size == 0:
            return b""
        while self._skip:  # the server ignored Range: drop the bytes before the offset
            dropped = self._read_some(min(self._skip, _SKIP))
            if not dropped:
                return b""
            self._skip -= len(dropped)
            self._position += len(dropped)
        if self._stop is not None:
            size = min(size, self._stop - self._position)
            if size <= 0:
                self._finish()
                return b""
        data = self._read_some(size)
        self._position += len(data)
        if not data:
            self._finish()
        return data

    def readall(self) -> bytes:
        parts = []
        while chunk := self.read(_SKIP):
            parts.append(chunk)
        return b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def _read_some(self, size: int) -> bytes:
        while True:
            response = self._response
            if response is None:
                return b""
            try:
                data = response.read(size, decode_content=False)
            except Exception as exc:
                if not self._resume(exc):
                    raise
            else:
                self._progress = time.monotonic()
                return data

    def _resume(self, exc: Exception) -> bool:
        """After ``exc`` cut the body: reopen from ``position`` at the same version."""
        if self._resumes <= 0 or not classify(exc).temporary or not self._version.known:
            return False
        budget = self._client.budget
        if budget is not None and not budget.allows(self._progress):
            return False  # the server was silent too long already: do not wait again
        self._resumes -= 1
        self._release()
        start = self._position + self._skip
        headers = {**_range_header(start, self._stop), **self._version.if_same()}
        response = self._client.request("GET", self._url, headers, stream=True)
        status = response.status
        if status in (404, 410, 412, 416):
            _discard(response)
            raise ObjectChanged(
                f"{self._url} changed or went away while it was read (HTTP {status} on resume)"
            ) from exc
        span = content_range(response) if status == 206 else None
        if span is None or span[0] != start:
            error = self._status_error(response, "GET", self._url)
            _discard(response)
            raise error from exc
        self._position, self._skip = start, 0
        self._response = response
        return True

    def _finish(self) -> None:
        self._release()

    def _release(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            _discard(response)

    def close(self) -> None:
        if not self.closed:
            try:
                response, self._response = self._response, None
                if response is not None:
                    response.close()  # an unread body: drop the connection, not the pool
            finally:
                super().close()


def open_stream(
    client: Client,
    url: str,
    offset: int,
    length: int | None,
    status_error: StatusError,
) -> BinaryIO:
    """A stream over ``length`` bytes (``None``: to the end) of ``url`` from ``offset``.

    A missing object raises (through ``status_error``) here; an offset at or past the
    end gives an empty stream.
    """
    stop = None if length is None else offset + length
    ranged = offset > 0 or stop is not None
    response = client.request(
        "GET", url, _range_header(offset, stop) if ranged else None, stream=True
    )
    status = response.status
    if status == 416:  # the offset is at or past the end (or the object is empty)
        _discard(response)
        return io.BytesIO()
    skip = 0
    if status == 206:
        span = content_range(response)
        if span is None or span[0] != offset:
            _discard(response)
            raise UnexpectedRange(
                f"{url}: asked for bytes from {offset}, the server sent "
                f"{response.headers.get('Content-Range')!r}"
            )
    elif status == 200:
        skip = offset  # a server without ranges (or an empty object) sends it all
    else:
        error = status_error(response, "GET", url)
        _discard(response)
        raise error
    stream = HTTPStream(
        client,
        url,
        response,
        position=0 if status == 200 else offset,
        stop=stop,
        skip=skip,
        version=Version(response.headers),
        status_error=status_error,
    )
    return cast(BinaryIO, stream)


class HTTPPinned(PinnedReader):
    """Ranged reads of one version of ``url``, each with ``If-Range`` (module docstring)."""

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
        headers = {**_range_header(offset, offset + length), **self._version.if_range()}
        response = self._client.request("GET", self._url, headers, stream=True)
        status = response.status
        if status != 206:
            error = self._status_error(response, "GET", self._url)
            _discard(response)
            if status == 200:
                raise self._changed("the server sent the whole object instead of the range")
            if status in (404, 410):
                raise self._changed(f"HTTP {status}: it is gone")
            if status in (412, 416):
                raise self._changed(f"HTTP {status}: it is not the pinned version or size")
            raise error
        try:
            span = content_range(response)
            etag = response.headers.get("ETag")
            if span is None or span[0] != offset or span[2] not in (None, self.size):
                raise self._changed(f"the server sent {response.headers.get('Content-Range')!r}")
            if self._version.etag and etag and etag != self._version.etag:
                raise self._changed(f"ETag {etag} served, {self._version.etag} pinned")
            data = response.read(decode_content=False)
        finally:
            _discard(response)
        if len(data) != length:
            raise urllib3.exceptions.IncompleteRead(len(data), length - len(data))
        return data


def open_pinned(
    client: Client,
    url: str,
    head: urllib3.BaseHTTPResponse | None,
    reopen: Callable[[], BinaryIO],
    status_error: StatusError,
) -> PinnedReader:
    """Pin the version ``head`` (the object's ``HEAD`` answer) describes, or spool one full
    read (``reopen``) when the server offers no byte ranges, no validator or no size, or
    refused the ``HEAD`` (``head`` is ``None``)."""
    if head is not None:
        version = Version(head.headers)
        length = head.headers.get("Content-Length")
        ranges = "bytes" in head.headers.get("Accept-Ranges", "").lower()
        if ranges and version.known and length is not None and length.isdigit():
            return HTTPPinned(client, url, int(length), version, status_error)
    source = reopen()
    try:
        return SpooledPinned(source)
    finally:
        source.close()
