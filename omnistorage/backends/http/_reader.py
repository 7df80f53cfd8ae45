"""Streaming reads: one ``GET``, checked, and resumed at the same version after a cut.

:func:`open_stream` sends one ``GET`` (with ``Range`` for an offset or a length)
and returns an :class:`HTTPStream`. Every answer is checked (:mod:`._verify`):

- a 206 must carry exactly the range asked for (first byte, last byte or the
  object's end, total) or the read raises ``UnexpectedRange``;
- the body must hold every byte its ``Content-Length`` or ``Content-Range``
  promised. A close-delimited 200 (no length, not chunked) promises nothing, so
  its size is asked of ``HEAD`` (used when ``HEAD`` names the same version); a
  body that ends early raises :class:`~._verify.ShortBody` (temporary), never
  returns short data;
- a body cut by a temporary failure (a reset, a read timeout: a server that
  stalls after its headers) is resumed from where it stopped with a ranged
  ``GET`` conditional on the version first served (``If-Match`` on a strong
  ETag, else ``If-Unmodified-Since``), at most ``retries`` times. The answer
  must name that version (its ETag, else its ``Last-Modified``) and its size:
  a 206 carrying a new ETag, a 404/410/412/416, or a 200 of another version
  raise :class:`~omnistorage.errors.ObjectChanged`, never bytes of two
  versions. A 200 of the same version (a server that ignores ``Range``) is
  served by skipping to the offset. Without a validator a cut body is not
  resumed, and the read fails temporary.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any, BinaryIO, cast

import urllib3

from omnistorage.backends.http._client import Client
from omnistorage.backends.http._errors import UnexpectedRange, classify
from omnistorage.backends.http._verify import (
    ShortBody,
    Version,
    declared_length,
    range_header,
    served_range,
)
from omnistorage.errors import ObjectChanged

__all__ = ["HTTPStream", "StatusError", "discard", "open_stream"]

SKIP = 1 << 20

StatusError = Callable[[urllib3.BaseHTTPResponse, str, str], Exception]
"""Builds the typed error for an unusable answer: ``(response, method, url)``."""


def discard(response: urllib3.BaseHTTPResponse) -> None:
    """Done with ``response``: a short or finished body goes back to the pool, a long
    unread one (a whole object sent instead of a range) closes its connection."""
    remaining = getattr(response, "length_remaining", None)
    if remaining is not None and remaining <= SKIP // 16:
        try:
            response.drain_conn()
        except Exception:  # noqa: BLE001 - a connection that fails here is simply dropped
            response.close()
            return
        response.release_conn()
    else:
        response.close()


def _close_delimited(response: urllib3.BaseHTTPResponse) -> bool:
    chunked = "chunked" in response.headers.get("Transfer-Encoding", "").lower()
    return declared_length(response) is None and not chunked


class HTTPStream(io.RawIOBase):
    """The body of one ``GET`` from absolute offset ``position``, served up to ``stop``
    (``None``: the end), checked and resumed as the module docstring says.

    ``end`` is where the body must end (``None``: unknown, a chunked body whose framing
    urllib3 checks), ``total`` the object's size if known, ``skip`` the bytes to drop
    first (a server that ignored ``Range``)."""

    def __init__(
        self,
        client: Client,
        url: str,
        response: urllib3.BaseHTTPResponse,
        *,
        position: int,
        stop: int | None,
        end: int | None,
        total: int | None,
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
        self._end = end
        self._total = total
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
        if self._stop is not None:
            size = min(size, self._stop - self._position - self._skip)
            if size <= 0:
                self._release()
                return b""
        data = self._read_some(size)
        self._position += len(data)
        if not data:
            self._release()
        return data

    def readall(self) -> bytes:
        parts = []
        while chunk := self.read(SKIP):
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
                while self._skip:  # the server ignored Range: drop the bytes before the offset
                    dropped = self._checked(response, min(self._skip, SKIP))
                    if not dropped:
                        return b""
                    self._skip -= len(dropped)
                    self._position += len(dropped)
                data = self._checked(response, size)
            except Exception as exc:
                if not self._resume(exc):
                    raise
            else:
                self._progress = time.monotonic()
                return data

    def _checked(self, response: urllib3.BaseHTTPResponse, size: int) -> bytes:
        data = response.read(size, decode_content=False)
        if not data and self._end is not None and self._position < self._end:
            raise ShortBody(
                f"{self._url}: the body ended at byte {self._position} of {self._end} the "
                "server promised"
            )
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
        headers = {**range_header(start, self._stop), **self._version.if_same()}
        response = self._client.request("GET", self._url, headers, stream=True)
        try:
            self._accept(response, start)
        except BaseException as error:
            discard(response)
            if isinstance(error, ObjectChanged | UnexpectedRange):
                raise error from exc
            raise
        self._response = response
        return True

    def _accept(self, response: urllib3.BaseHTTPResponse, start: int) -> None:
        """Check the answer to a resume from ``start`` and continue from it."""
        status = response.status
        if status in (404, 410, 412, 416):
            raise ObjectChanged(
                f"{self._url} changed or went away while it was read (HTTP {status} on resume)"
            )
        if status not in (200, 206):
            raise self._status_error(response, "GET", self._url)
        why = self._version.mismatch(response.headers)
        if why is not None:
            raise ObjectChanged(f"{self._url} changed while it was read ({why} on resume)")
        if status == 206:
            try:
                end, total = served_range(response, self._url, start, self._stop, self._total)
            except UnexpectedRange as error:
                raise ObjectChanged(f"{self._url} changed while it was read ({error})") from None
            self._position, self._skip, self._end = start, 0, end
            return
        length = declared_length(response)  # a 200: the server ignores Range
        if self._total is not None and length is not None and length != self._total:
            raise ObjectChanged(
                f"{self._url} changed while it was read ({length} bytes now, {self._total} before)"
            )
        self._position, self._skip = 0, start
        total = length if length is not None else self._total
        self._end = total if self._stop is None or total is None else min(self._stop, total)

    def _release(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            discard(response)

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
    *,
    expected: tuple[Version, int | None] | None = None,
) -> BinaryIO:
    """A stream over ``length`` bytes (``None``: to the end) of ``url`` from ``offset``.

    A missing object raises (through ``status_error``) here; an offset at or past the
    end gives an empty stream. ``expected`` is the version and size a ``HEAD`` already
    gave: a close-delimited body of that version must have that size (without it, a
    close-delimited body's size is asked of ``HEAD`` now).
    """
    stop = None if length is None else offset + length
    ranged = offset > 0 or stop is not None
    response = client.request(
        "GET", url, range_header(offset, stop) if ranged else None, stream=True
    )
    status = response.status
    if status == 416:  # the offset is at or past the end (or the object is empty)
        discard(response)
        return io.BytesIO()
    if status not in (200, 206):
        error = status_error(response, "GET", url)
        discard(response)
        raise error
    version = Version(response.headers)
    end: int | None
    total: int | None
    try:
        if status == 206:
            end, total = served_range(response, url, offset, stop, None)
            position, skip = offset, 0
        else:  # a server without ranges (or an empty object) sends it all
            total = declared_length(response)
            if total is None and _close_delimited(response):
                total = _size_of(client, url, version, expected)
            end = total if stop is None or total is None else min(stop, total)
            position, skip = 0, offset
    except BaseException:
        discard(response)
        raise
    stream = HTTPStream(
        client,
        url,
        response,
        position=position,
        stop=stop,
        end=end,
        total=total,
        skip=skip,
        version=version,
        status_error=status_error,
    )
    return cast(BinaryIO, stream)


def _size_of(
    client: Client, url: str, version: Version, expected: tuple[Version, int | None] | None
) -> int | None:
    """The size of the version a close-delimited body carries, as ``HEAD`` gives it (the
    one already asked, ``expected``, or a new one), when ``HEAD`` names that version."""
    if expected is None:
        head = client.request("HEAD", url)
        if head.status != 200:
            return None
        expected = (Version(head.headers), declared_length(head))
    known, size = expected
    same = known.mismatch({"ETag": version.etag, "Last-Modified": version.last_modified})
    return size if same is None else None
