"""Where keys live: the base URL, percent-encoding keys into it, and ``http(s)://`` URLs.

Every key is sent percent-encoded segment by segment (RFC 3986): only
unreserved characters (letters, digits, ``-._~``) and the ``/`` between
segments travel as they are, so ``%2e%2e`` is the literal name ``%2e%2e``
(sent as ``%252e%252e``), ``?`` and ``#`` are part of the name, and nothing a
key holds can become a dot segment, a query or another host. Keys never
contain ``.`` or ``..`` segments (the key grammar), so a key cannot climb out
of the base path either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, quote, unquote, urlsplit

from omnistorage._redact import protect_secrets
from omnistorage.errors import ConfigurationError

__all__ = ["BaseURL", "parse_url"]

# Characters a base URL's path may already hold as they are (RFC 3986 pchar and "/"),
# besides percent-escapes, which are kept.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


@dataclass(frozen=True, slots=True)
class BaseURL:
    """The base URL every key is appended to: ``scheme://host[:port]/path/``."""

    base: str
    """The base URL, its path percent-encoded and ending with ``/``."""

    @classmethod
    def parse(cls, base_url: object) -> BaseURL:
        """Check and normalise ``base_url``; :class:`ConfigurationError` names what is wrong
        (never echoing the URL: it may hold credentials)."""
        if not isinstance(base_url, str) or not base_url:
            raise ConfigurationError("the http backend needs base_url, e.g. https://host/files/")
        try:
            split = urlsplit(base_url)
            port = split.port
        except ValueError as exc:
            raise ConfigurationError(
                "the http backend's base_url is not a valid URL (check its host and port)"
            ) from exc
        if split.scheme.lower() not in ("http", "https"):
            raise ConfigurationError(
                "the http backend's base_url must start with http:// or https://"
            )
        if not split.hostname:
            raise ConfigurationError("the http backend's base_url names no host")
        if "@" in split.netloc:
            raise ConfigurationError(
                "the http backend's base_url must not hold credentials; pass username and "
                "password (or bearer_token) as options, or use an http(s)://user:pw@host/ URL "
                "with open_store"
            )
        if split.query or split.fragment or base_url.rstrip().endswith(("?", "#")):
            raise ConfigurationError(
                "the http backend's base_url must not have a query or a fragment"
            )
        host = split.hostname
        netloc = f"[{host}]" if ":" in host else host
        if port is not None:
            netloc = f"{netloc}:{port}"
        path = quote(split.path or "/", safe=_PATH_SAFE)
        if not path.endswith("/"):
            path += "/"
        return cls(f"{split.scheme.lower()}://{netloc}{path}")

    def url(self, key: str) -> str:
        """The URL of ``key`` (``""`` is the base itself); folder prefixes keep their ``/``."""
        return self.base + quote(key, safe="/", errors="surrogateescape")

    def key_of(self, url: str) -> str | None:
        """The key whose URL is ``url``, or ``None`` when ``url`` is not below the base."""
        if url in (self.base, self.base[:-1]):
            return ""
        if not url.startswith(self.base):
            return None
        return unquote(url[len(self.base) :])


def parse_url(split: SplitResult) -> tuple[dict[str, Any], str]:
    """``http(s)://[user[:password]@]host[:port]/folder/…`` → backend options, store root.

    The scheme, host and port become ``base_url``; the path becomes the store's
    root folder (so ``omnistorage.open("https://host/a/b.csv")`` reads ``b.csv``
    in the folder ``a``). User and password become ``username``/``password``
    (HTTP basic auth); the password is registered with
    :func:`~omnistorage._redact.protect_secrets` before anything can fail, and no
    error raised here quotes the URL. Query parameters (``listing``, ``retries``
    …) are added by the registry.
    """
    if split.password:
        protect_secrets(split.password, unquote(split.password))
    try:
        host, port = split.hostname, split.port
    except ValueError as exc:
        raise ConfigurationError("the port of an http(s) URL must be a number 1-65535") from exc
    if not host:
        raise ConfigurationError("http(s) URLs need a host: https://host/folder/")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    options: dict[str, Any] = {"base_url": f"{split.scheme.lower()}://{netloc}/"}
    if split.username:
        options["username"] = unquote(split.username)
    if split.password is not None:
        options["password"] = unquote(split.password)
    return options, unquote(split.path).strip("/")
