"""Choosing the format and codec for a key, and routing options to their layer.

Every keyword option a records function receives belongs to exactly one
layer: the format (``max_record_size``, ``fieldnames`` …), the codec
(``level``, ``threads`` …) or the records layer itself (``batch_bytes`` …).
The layers' accepted names are read from their option dataclasses, so a new
codec or format option needs no change here. A name no layer accepts is a
:class:`~omnistorage.errors.ConfigurationError` naming it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import Any

from omnistorage.compression import Codec, codec_for_key, get_codec
from omnistorage.errors import ConfigurationError
from omnistorage.formats import Format, format_for_key, get_format

__all__ = ["Layers", "resolve_layers"]


@dataclasses.dataclass(frozen=True, slots=True)
class Layers:
    """The configured format and codec, and the options left for the records layer."""

    format: Format
    codec: Codec
    options: Mapping[str, Any]


def _fields(obj: object) -> frozenset[str]:
    if dataclasses.is_dataclass(obj):
        return frozenset(field.name for field in dataclasses.fields(obj))
    return frozenset()


def _configure(base: Any, options: dict[str, Any], layer: str) -> Any:
    """``base`` with ``options`` applied (re-validated by the dataclass)."""
    if not options:
        return base
    if not dataclasses.is_dataclass(base) or isinstance(base, type):
        names = ", ".join(map(repr, sorted(options)))
        raise ConfigurationError(f"cannot apply option(s) {names} to the {layer} {base!r}")
    try:
        return dataclasses.replace(base, **options)
    except TypeError as exc:  # a field that cannot be set through __init__
        raise ConfigurationError(f"bad option for the {layer} {base!r}: {exc}") from None


def resolve_layers(
    key: str,
    format: str | Format | None,
    compression: str | Codec | None,
    options: Mapping[str, Any],
    own: Collection[str],
) -> Layers:
    """Build the format and codec for ``key`` and split ``options`` between the layers.

    ``format``/``compression``: a registry name, a configured object, or
    ``None`` to infer it from ``key`` (``events.ndjson.zst`` → NDJSON + zstd).
    ``own`` are the option names the calling records function takes itself.

    Raises:
        ConfigurationError: an unknown format or codec name, a key whose format
            cannot be inferred, an option no layer accepts (the message names
            it and lists what each layer accepts) or a bad option value.
    """
    base_format: Format
    if format is None:
        base_format = format_for_key(key)
    elif isinstance(format, str):
        base_format = get_format(format)
    else:
        base_format = format
    base_codec: Codec
    if compression is None:
        base_codec = codec_for_key(key)
    elif isinstance(compression, str):
        base_codec = get_codec(compression)
    else:
        base_codec = compression

    format_fields = _fields(base_format)
    codec_fields = _fields(base_codec)
    format_options: dict[str, Any] = {}
    codec_options: dict[str, Any] = {}
    own_options: dict[str, Any] = {}
    unknown: list[str] = []
    for name, value in options.items():
        homes = [
            target
            for target, accepted in (
                (format_options, format_fields),
                (codec_options, codec_fields),
                (own_options, own),
            )
            if name in accepted
        ]
        if not homes:
            unknown.append(name)
        elif len(homes) > 1:
            raise ConfigurationError(
                f"option {name!r} is ambiguous: more than one layer accepts it "
                f"(format {base_format.name!r}, codec {base_codec.name!r})"
            )
        else:
            homes[0][name] = value
    if unknown:
        raise ConfigurationError(
            f"unknown option(s) {', '.join(map(repr, sorted(unknown)))}: "
            f"the format {base_format.name!r} accepts {_listing(format_fields)}, "
            f"the codec {base_codec.name!r} accepts {_listing(codec_fields)}, "
            f"and this function accepts {_listing(own)}"
        )
    return Layers(
        format=_configure(base_format, format_options, "format"),
        codec=_configure(base_codec, codec_options, "codec"),
        options=own_options,
    )


def _listing(names: Collection[str]) -> str:
    return ", ".join(sorted(names)) if names else "no options"
