"""What every answer a read uses is checked against: the version, the range, the length.

A web server is outside input (DESIGN §5b: "a server's answer is verified against
the version opened, and short data is an error"). The readers trust no answer
they have not checked here:

- :class:`Version` names one version of an object by its validator: the strong
  ETag, else ``Last-Modified``. :meth:`Version.mismatch` says why an answer is
  not that version; an answer that carries no validator at all cannot prove it
  is, and counts as another version (a server that ignores ``If-Range`` or
  ``If-Match`` is caught by the validator it sends back, a 206 without an
  ETag by the ETag it lacks).
- :func:`served_range` checks a 206's ``Content-Range`` against the bytes asked
  for: the first byte, the last byte (the end asked for, or the object's end)
  and the object's total size.
- :class:`ShortBody` is raised when a body ends before the bytes its
  ``Content-Length``, its ``Content-Range`` or the size ``HEAD`` gave promised
  (a close-delimited body cannot be told from a cut one by its end alone). It
  is temporary (a cut connection), so readers resume or retry it; once their
  budget is spent the read fails with a temporary ``BackendUnavailable``, never
  returns the short data.
"""

from __future__ import annotations

import re
from typing import Any

import urllib3

from omnistorage.backends.http._errors import UnexpectedRange

__all__ = [
    "ShortBody",
    "Version",
    "content_range",
    "declared_length",
    "range_header",
    "served_range",
]

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


class ShortBody(ConnectionError):
    """A body ended before the bytes the server promised (temporary: a cut connection)."""


class Version:
    """The validator that names one version of an object: a strong ETag, else the
    ``Last-Modified`` date, else nothing (:attr:`known` is then false)."""

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

    def mismatch(self, headers: Any) -> str | None:
        """Why an answer with ``headers`` is not this version, or ``None`` when its
        validator names it (the ETag when one is pinned, else ``Last-Modified``)."""
        if self.etag:
            served = headers.get("ETag")
            return None if served == self.etag else f"ETag {served} served, {self.etag} pinned"
        if self.last_modified:
            served = headers.get("Last-Modified")
            if served == self.last_modified:
                return None
            return f"Last-Modified {served} served, {self.last_modified} pinned"
        return None


def range_header(start: int, stop: int | None) -> dict[str, str]:
    """``Range`` for the bytes ``start`` to ``stop`` (exclusive; ``None``: to the end)."""
    return {"Range": f"bytes={start}-{'' if stop is None else stop - 1}"}


def content_range(response: urllib3.BaseHTTPResponse) -> tuple[int, int, int | None] | None:
    """``(first, last, total)`` of a 206's ``Content-Range`` (``total`` ``None`` for ``*``)."""
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if match is None:
        return None
    total = match.group(3)
    return int(match.group(1)), int(match.group(2)), None if total == "*" else int(total)


def declared_length(response: urllib3.BaseHTTPResponse) -> int | None:
    """The body's ``Content-Length``, or ``None`` (absent, chunked, or not a number)."""
    length = response.headers.get("Content-Length")
    return int(length) if length is not None and length.strip().isdigit() else None


def served_range(
    response: urllib3.BaseHTTPResponse, url: str, start: int, stop: int | None, size: int | None
) -> tuple[int, int | None]:
    """Check a 206 answering ``Range: bytes=start-(stop-1)`` and return the exclusive end
    of the bytes it carries and the object's total size (``None`` if it says ``*``).

    The first byte must be ``start``; the last must be ``stop - 1``, or the object's last
    byte when ``stop`` is past it (or ``None``); the total must be ``size`` when known.

    Raises:
        UnexpectedRange: for another range, or a total other than ``size``.
    """
    span = content_range(response)
    shown = response.headers.get("Content-Range")
    if span is None or span[0] != start or span[1] < span[0]:
        raise UnexpectedRange(f"{url}: asked for bytes from {start}, the server sent {shown!r}")
    _, last, total = span
    if size is not None and total != size:
        raise UnexpectedRange(f"{url}: the object has {size} bytes, the server sent {shown!r}")
    if total is not None and last >= total:
        raise UnexpectedRange(f"{url}: the server sent {shown!r}, past the object's end")
    wanted = stop if total is None else total if stop is None else min(stop, total)
    if wanted is not None and last + 1 != wanted:
        raise UnexpectedRange(
            f"{url}: asked for bytes {start}-{wanted - 1}, the server sent {shown!r}"
        )
    return last + 1, total
