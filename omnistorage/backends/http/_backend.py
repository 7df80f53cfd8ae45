"""The read-only HTTP driver: :class:`HTTPBackend` (options and operations).

The behaviour is described in :mod:`omnistorage.backends.http`; the URL
rules, the client, reads, listings and error classification live in the
sibling modules.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, BinaryIO, TypeVar
from urllib.parse import unquote, urljoin, urlsplit

import urllib3

from omnistorage._net import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_BUDGET,
    RetryBudget,
    endpoint_authority,
)
from omnistorage.backends.http._client import Client, auth_header
from omnistorage.backends.http._errors import (
    HTTPStatusError,
    ListingNotOffered,
    ReadOnlyError,
    classify,
    parse_retry_after,
)
from omnistorage.backends.http._listing import LISTING_FORMATS, list_autoindex
from omnistorage.backends.http._pinned import open_pinned
from omnistorage.backends.http._reader import open_stream
from omnistorage.backends.http._url import BaseURL
from omnistorage.backends.http._verify import content_range
from omnistorage.capabilities import Capability, ETagKind, Features
from omnistorage.driver import PinnedReader, ReadOnlyBackend
from omnistorage.errors import Classification, ConfigurationError
from omnistorage.models import Location, ObjectInfo
from omnistorage.options import OptionSchema, arguments, flag, integer, number, path, text, url

__all__ = ["HTTPBackend"]

T = TypeVar("T")

_READ = [Capability.READ, Capability.METADATA, Capability.RANGE_READ, Capability.PINNED_READ]
_FEATURES = {
    # A server's ETag says nothing about the content, and a server may change a file
    # without changing it (or send none): never a strong version.
    "none": Features.of(_READ, etag=ETagKind.OPAQUE),
    "nginx-json": Features.of([*_READ, Capability.LIST], etag=ETagKind.OPAQUE),
}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _check_more(options: Mapping[str, object]) -> None:
    BaseURL.parse(options.get("base_url"))  # no query, fragment or credentials in it
    if options.get("ca_file") is not None and options.get("verify", True) is False:
        raise ConfigurationError("the http backend's ca_file has no use with verify=False")


OPTIONS = OptionSchema(
    "http",
    url("base_url", required=True, example="http://127.0.0.1:1/files/"),
    text("username", nullable=True, example="omni-user"),
    text("password", nullable=True, secret=True, example="omni-http-password"),
    text("bearer_token", nullable=True, secret=True, example="omni-http-token"),
    text("listing", choices=LISTING_FORMATS),
    number("connect_timeout", gt=0, unit="seconds"),
    number("read_timeout", gt=0, unit="seconds"),
    integer("retries", ge=0),
    number("retry_budget", gt=0, unit="seconds"),
    flag("verify"),
    path("ca_file", nullable=True, example="/nonexistent/omni-ca.pem"),
    integer("max_connections", ge=1),
    requires={"password": ("username",)},
    conflicts=[("bearer_token", "username")],
    check=_check_more,
)
"""The options of :class:`HTTPBackend`, checked without I/O (never echoing a secret)."""


class HTTPBackend(ReadOnlyBackend):
    """Files below one base URL on a web server, read-only.

    Args:
        base_url: ``http(s)://host[:port]/path/``; a key's URL is this plus the
            percent-encoded key. No credentials, query or fragment in it.
        username, password: HTTP basic auth.
        bearer_token: sent as ``Authorization: Bearer …`` (not with basic auth).
        listing: ``"none"`` (default: no ``LIST`` capability, folders cannot be
            queried) or ``"nginx-json"``: the server answers folder URLs with
            nginx's ``autoindex_format json`` index, and the backend declares
            ``LIST``.
        connect_timeout, read_timeout: seconds (defaults 3 and 10, as every
            network backend: the wait for a connection, and how long the server may
            stay silent before or inside an answer).
        retry_budget: seconds within which every attempt of a call (and every
            resume of a cut body) must be able to end (15): a silent server is not
            retried past it (:mod:`omnistorage._net`).
        retries: attempts after the first for temporary failures (default 2), so a
            server that is down fails within about 10 s with ``BackendUnavailable``.
        verify: check the server's TLS certificate (default ``True``).
        ca_file: a PEM file of certificate authorities to trust instead of the
            system's (a private CA, a self-signed test server).
        max_connections: connections kept open per host for reuse (default 10).

    Raises:
        ConfigurationError: for a bad option, naming it (never echoing a secret).
    """

    name = "http"
    options_schema = OPTIONS
    may_declare = frozenset().union(*(f.capabilities for f in _FEATURES.values()))
    refusal_error = ReadOnlyError

    def __init__(
        self,
        *,
        base_url: str,
        username: str | None = None,
        password: str | None = None,
        bearer_token: str | None = None,
        listing: str = "none",
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
        verify: bool = True,
        ca_file: str | None = None,
        max_connections: int = 10,
    ) -> None:
        self.check_config(arguments(locals()))
        authorization, self.secret_values = auth_header(username, password, bearer_token)
        self._location = BaseURL.parse(base_url)
        self._listing = listing
        self._auth = "bearer" if bearer_token is not None else "basic" if username else None
        self._client = Client(
            authorization=authorization,
            connect_timeout=float(connect_timeout),
            read_timeout=float(read_timeout),
            retries=retries,
            budget=RetryBudget(retry_budget, connect_timeout, read_timeout),
            verify=verify,
            ca_file=ca_file,
            max_connections=max_connections,
        )

    def __repr__(self) -> str:
        auth = f", auth={self._auth!r}" if self._auth else ""
        return f"HTTPBackend(base_url={self._location.base!r}, listing={self._listing!r}{auth})"

    @property
    def base_url(self) -> str:
        """The base URL keys are appended to (normalised, ending with ``/``)."""
        return self._location.base

    def features(self) -> Features:
        return _FEATURES[self._listing]

    # ------------------------------------------------------------------ answers

    def _status_error(
        self, response: urllib3.BaseHTTPResponse, method: str, url: str
    ) -> HTTPStatusError:
        folder = False
        if response.status in _REDIRECTS:
            target = response.headers.get("Location")
            if target:
                folder = urlsplit(urljoin(url, target)).path == urlsplit(url).path + "/"
        return HTTPStatusError(
            response.status,
            response.reason or "",
            method,
            url,
            folder=folder,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    def _head(self, key: str) -> tuple[str, urllib3.BaseHTTPResponse]:
        url = self._location.url(key)
        return url, self._client.request("HEAD", url)

    # ------------------------------------------------------------------ reads

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        url = self._location.url(key)
        if length == 0:
            self.stat(key)  # NotFound when missing
            return io.BytesIO()
        return open_stream(self._client, url, offset, length, self._status_error)

    def open_pinned(self, key: str) -> PinnedReader:
        """Pin the version there now (see :mod:`._reader`)."""
        url, head = self._head(key)
        refused = head.status in (405, 501)  # no HEAD: pin by spooling one full read
        if head.status != 200 and not refused:
            raise self._status_error(head, "HEAD", url)
        return open_pinned(self._client, url, None if refused else head, self._status_error)

    # ------------------------------------------------------------------ queries

    def exists(self, key: str) -> bool:
        url, head = self._head(key)
        if 200 <= head.status <= 299:
            return True
        error = self._status_error(head, "HEAD", url)
        if head.status in (404, 410) or error.folder:
            return False
        raise error

    def stat(self, key: str) -> ObjectInfo:
        """Size, ``Last-Modified``, ETag and content type from a ``HEAD`` (or, where the
        server refuses ``HEAD``, from a one-byte ranged ``GET``)."""
        url, head = self._head(key)
        if head.status in (405, 501):
            return self._stat_by_get(key, url)
        if not 200 <= head.status <= 299:
            raise self._status_error(head, "HEAD", url)
        length = head.headers.get("Content-Length")
        size = int(length) if length is not None and length.isdigit() else None
        return self._info(key, head, size)

    def _stat_by_get(self, key: str, url: str) -> ObjectInfo:
        response = self._client.request("GET", url, {"Range": "bytes=0-0"}, stream=True)
        try:
            if response.status == 206:
                span = content_range(response)
                return self._info(key, response, span[2] if span else None)
            if response.status == 416:  # an empty object
                return self._info(key, response, 0)
            if response.status == 200:
                length = response.headers.get("Content-Length")
                size = int(length) if length is not None and length.isdigit() else None
                return self._info(key, response, size)
            raise self._status_error(response, "GET", url)
        finally:
            response.close()

    @staticmethod
    def _info(key: str, response: urllib3.BaseHTTPResponse, size: int | None) -> ObjectInfo:
        headers = response.headers
        modified: datetime | None = None
        stamp = headers.get("Last-Modified")
        if stamp:
            try:
                modified = parsedate_to_datetime(stamp)
            except (TypeError, ValueError):
                modified = None
            if modified is not None and modified.tzinfo is None:
                modified = modified.replace(tzinfo=UTC)
        return ObjectInfo(
            path=key,
            size=size,
            modified=modified,
            etag=headers.get("ETag"),
            content_type=headers.get("Content-Type"),
        )

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        if self._listing == "none":
            raise ListingNotOffered(
                f"the http backend at {self._location.base} has no listing (listing='none'): "
                "folders cannot be listed or queried; use listing='nginx-json' where the "
                "server offers nginx's JSON index"
            )
        return list_autoindex(
            self._client, self._location.url, prefix, recursive, self._status_error
        )

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        self._client.close()
        super().close()

    def classify_error(self, exc: BaseException) -> Classification:
        return classify(exc)

    def locations(self) -> tuple[Location, ...]:
        split = urlsplit(self._location.base)
        server = endpoint_authority(f"{split.scheme}://{split.netloc}")
        return (Location("http", server, unquote(split.path).strip("/")),)

    def native_path(self, key: str) -> str:
        return self._location.url(key)

    def key_from_native(self, native: str) -> str | None:
        return self._location.key_of(native)

    def as_native(self, kind: type[T]) -> T | None:
        pool: Any = self._client.pool
        return pool if isinstance(pool, kind) else None
