"""Object names of a RollingRecordWriter, from a ``str.format`` template."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from omnistorage import paths
from omnistorage.errors import ConfigurationError

__all__ = ["Template"]

_RESERVED = frozenset({"prefix", "date", "stream", "seq"})


class Template:
    """Renders object names from the template and the fixed fields."""

    def __init__(
        self, template: str, *, prefix: str, stream: str, fields: Mapping[str, Any]
    ) -> None:
        clash = _RESERVED.intersection(fields)
        if clash:
            raise ConfigurationError(
                f"fields= may not set the reserved field(s) {', '.join(sorted(clash))}"
            )
        self.template = template
        self._fixed = {**fields, "prefix": prefix, "stream": stream}

    def render(self, seq: int, date: datetime) -> str:
        try:
            name = self.template.format_map({**self._fixed, "seq": seq, "date": date})
        except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
            raise ConfigurationError(
                f"cannot render the object name template {self.template!r}: "
                f"{type(exc).__name__}: {exc} (fields: prefix, date, stream, seq and fields=)"
            ) from None
        # Drop empty segments, e.g. from an empty prefix: "{prefix}/x" → "x".
        return paths.validate_key("/".join(part for part in name.split("/") if part))
