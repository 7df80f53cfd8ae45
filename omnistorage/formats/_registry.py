"""The format registry: formats by name, and by key extension."""

from __future__ import annotations

import dataclasses
from typing import Any

from omnistorage.compression import strip_codec_extension
from omnistorage.errors import ConfigurationError
from omnistorage.formats._base import Format
from omnistorage.formats._csv import CSV
from omnistorage.formats._length_prefixed import LengthPrefixed, TFRecord
from omnistorage.formats._ndjson import NDJSON

__all__ = ["format_for_key", "format_names", "get_format"]

_FORMATS: dict[str, type[Any]] = {
    "ndjson": NDJSON,
    "csv": CSV,
    "tfrecord": TFRecord,
    "length-prefixed": LengthPrefixed,
}

_BY_EXTENSION: dict[str, str] = {
    ext: name for name, cls in _FORMATS.items() for ext in cls.extensions
}


def format_names() -> tuple[str, ...]:
    """The names :func:`get_format` accepts."""
    return tuple(_FORMATS)


def get_format(name: str, **options: Any) -> Format:
    """Return the format called ``name`` configured with ``options``.

    ``name`` is ``"ndjson"``, ``"csv"``, ``"tfrecord"`` or
    ``"length-prefixed"`` (``framing=`` ``"tfrecord"``/``"varint"``/``"u32be"``).
    Options are the format's keyword arguments (``max_record_size=`` …).

    Raises:
        ConfigurationError: an unknown name (the message lists the known
            ones), an unknown option or a bad option value.
    """
    cls = _FORMATS.get(name)
    if cls is None:
        raise ConfigurationError(f"unknown format {name!r}; known: {', '.join(sorted(_FORMATS))}")
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigurationError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for format {name!r} "
            f"(it accepts: {', '.join(sorted(known))})"
        )
    fmt: Format = cls(**options)
    return fmt


def format_for_key(key: str, **options: Any) -> Format:
    """Infer the format from a key, after removing a compression suffix.

    ``.ndjson``/``.jsonl``/``.json`` → ndjson, ``.csv`` → csv,
    ``.tfrecord``/``.tfrecords`` → tfrecord, ``.lp`` → length-prefixed
    (tfrecord framing). Case-insensitive: ``"logs/a.JSONL.gz"`` → ndjson.

    Raises:
        ConfigurationError: no known format suffix (the message lists them),
            or a bad option.
    """
    stem = strip_codec_extension(key).lower()
    dot = stem.rfind(".")
    ext = stem[dot:] if dot > stem.rfind("/") else ""
    name = _BY_EXTENSION.get(ext)
    if name is None:
        raise ConfigurationError(
            f"cannot infer a record format from {key!r}; known suffixes: "
            f"{', '.join(sorted(_BY_EXTENSION))} (optionally followed by a compression suffix)"
        )
    return get_format(name, **options)
