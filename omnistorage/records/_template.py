"""Object names of a RollingRecordWriter, from a ``str.format`` template."""

from __future__ import annotations

import re
import string
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

    def matcher(self) -> tuple[str, re.Pattern[str]]:
        """The folder to list and a pattern that finds ``seq`` in this stream's names.

        The folder is the literal part of the template before its first
        varying field (``date`` or ``seq``), cut at a ``/``; the pattern
        matches a whole name rendered from the template with any date and
        captures the sequence number.
        """
        regex: list[str] = []
        literal_head: list[str] = []
        varying = False
        for text, field, spec, conversion in string.Formatter().parse(self.template):
            regex.append(re.escape(text))
            if not varying:
                literal_head.append(text)
            if field is None:
                continue
            if field == "seq":
                regex.append(r"(?P<seq>\d+)")
                varying = True
            elif field == "date" or field.startswith(("date.", "date[")):
                regex.append(r".+?")
                varying = True
            else:
                value = self._fixed_value(field, spec or "", conversion)
                regex.append(re.escape(value))
                if not varying:
                    literal_head.append(value)
        head = "".join(literal_head).rpartition("/")[0]
        folder = "/".join(part for part in head.split("/") if part)
        # Names drop empty segments (an empty prefix): allow the pattern the same.
        pattern = "".join(regex).replace("/", "/+").lstrip("/+")
        return folder, re.compile(pattern.lstrip("/"))

    def _fixed_value(self, field: str, spec: str, conversion: str | None) -> str:
        conv = f"!{conversion}" if conversion else ""
        return ("{" + field + conv + (":" + spec if spec else "") + "}").format_map(self._fixed)
