"""Option values with units: sizes (``10M``), rates (``4M`` per second) and durations (``1h30m``).

Size suffixes are binary, as rclone's: ``k`` = 1024, ``M`` = 1024², ``G``, ``T``,
``P``; an optional ``i`` and ``B`` are accepted (``10MiB``, ``10MB`` and ``10M``
are the same) and a plain number is bytes. Durations are a number with a unit
(``ms``, ``s``, ``m``, ``h``, ``d``, ``w``), several may follow each other
(``1h30m``); a plain number is seconds.
"""

from __future__ import annotations

import re
from datetime import timedelta

import click

__all__ = ["DURATION", "SIZE", "parse_duration", "parse_size"]

_SIZE = re.compile(r"^\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>[kKmMgGtTpP]?)(?:i?[bB])?\s*$")
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}
_DURATION_PART = re.compile(r"(?P<num>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h|d|w)")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_size(text: str) -> int:
    """Bytes in ``text`` (``"512"``, ``"100k"``, ``"1.5G"``); ``ValueError`` names a bad one."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a size (examples: 512, 100k, 10M, 1.5G)")
    value = float(match.group("num")) * 1024 ** _POWERS[match.group("unit").lower()]
    return int(value)


def parse_duration(text: str) -> timedelta:
    """The duration in ``text`` (``"90"``, ``"5m"``, ``"1h30m"``, ``"7d"``); ``ValueError``
    names a bad one."""
    stripped = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", stripped):
        return timedelta(seconds=float(stripped))
    total = 0.0
    pos = 0
    for match in _DURATION_PART.finditer(stripped):
        if match.start() != pos:
            break
        total += float(match.group("num")) * _SECONDS[match.group("unit")]
        pos = match.end()
    if pos == 0 or pos != len(stripped):
        raise ValueError(f"{text!r} is not a duration (examples: 90s, 5m, 1h30m, 7d)")
    return timedelta(seconds=total)


class _Size(click.ParamType):  # type: ignore[type-arg]  # generic from Click 8.5 on
    name = "SIZE"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_size(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class _Duration(click.ParamType):  # type: ignore[type-arg]
    name = "DURATION"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


SIZE = _Size()
"""A click parameter type for sizes in bytes (binary suffixes)."""
DURATION = _Duration()
"""A click parameter type for durations (a :class:`~datetime.timedelta`)."""
