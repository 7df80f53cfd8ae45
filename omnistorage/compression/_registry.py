"""The codec registry: codecs by name, and by key extension."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from omnistorage.compression._base import Codec
from omnistorage.compression._gzip import GzipCodec
from omnistorage.compression._none import NoneCodec
from omnistorage.compression._snappy import SnappyCodec
from omnistorage.compression._zstd import ZstdCodec
from omnistorage.errors import ConfigurationError

__all__ = ["codec_for_key", "codec_names", "get_codec", "strip_codec_extension"]

_CODECS: dict[str, type[Any]] = {
    "gzip": GzipCodec,
    "zstd": ZstdCodec,
    "snappy": SnappyCodec,
    "none": NoneCodec,
}

_BY_EXTENSION: dict[str, str] = {
    ext: name for name, cls in _CODECS.items() for ext in cls.extensions
}


def codec_names() -> tuple[str, ...]:
    """The names :func:`get_codec` accepts."""
    return tuple(_CODECS)


def _build(cls: Callable[..., Any], name: str, options: dict[str, Any]) -> Codec:
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(options) - known)
    if unknown:
        accepted = ", ".join(sorted(known)) or "none"
        raise ConfigurationError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for codec {name!r} "
            f"(it accepts: {accepted})"
        )
    codec: Codec = cls(**options)
    return codec


def get_codec(name: str, **options: Any) -> Codec:
    """Return the codec called ``name`` configured with ``options``.

    ``name`` is one of ``"gzip"``, ``"zstd"``, ``"snappy"``, ``"none"``.
    Options are the codec's keyword arguments (``level=``, ``threads=`` …).
    Optional modules are imported only when a compressor or decompressor is
    made.

    Raises:
        ConfigurationError: an unknown name (the message lists the known
            ones), an unknown option or a bad option value.
    """
    cls = _CODECS.get(name)
    if cls is None:
        raise ConfigurationError(
            f"unknown compression {name!r}; known: {', '.join(sorted(_CODECS))}"
        )
    return _build(cls, name, options)


def _match(key: str) -> tuple[str, str]:
    lowered = key.lower()
    for ext, name in _BY_EXTENSION.items():
        if lowered.endswith(ext) and len(key) > len(ext):
            return name, key[: -len(ext)]
    return "none", key


def codec_for_key(key: str, **options: Any) -> Codec:
    """Infer the codec from the key's last suffix (case-insensitive).

    ``.gz`` → gzip, ``.zst`` → zstd, ``.sz``/``.snappy`` → snappy; any other
    key → the ``none`` codec. ``options`` configure the inferred codec.

    Raises:
        ConfigurationError: an option the inferred codec does not accept.
    """
    name, _ = _match(key)
    return get_codec(name, **options)


def strip_codec_extension(key: str) -> str:
    """Return ``key`` without the compression suffix :func:`codec_for_key` matched.

    ``"logs/a.ndjson.zst"`` → ``"logs/a.ndjson"``; a key without one is
    returned unchanged.
    """
    return _match(key)[1]
