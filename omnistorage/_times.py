"""Modification times as integer nanoseconds since the Unix epoch, beside ``datetime``.

A ``datetime`` holds microseconds; file systems (``st_mtime_ns``), rclone's
``mtime`` metadata and RFC 3339 stamps hold nanoseconds. Wherever both travel
together (:class:`~omnistorage.models.ObjectInfo`,
:class:`~omnistorage.driver.WriteOptions`) one rule keeps them from
disagreeing: the nanoseconds are the time, and the ``datetime`` is the same
instant truncated to the microsecond (toward the past, so ``from_ns`` and
``to_ns`` never move a time across a second boundary). A naive ``datetime``
is local time, as :meth:`datetime.timestamp` takes it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = [
    "ModTime",
    "format_rfc3339",
    "from_ns",
    "parse_rfc3339",
    "split_mtime",
    "to_ns",
    "truncated",
]

ModTime = datetime | int
"""A modification time as callers give it: a ``datetime``, or an ``int`` of nanoseconds
since the Unix epoch (UTC), as ``os.stat().st_mtime_ns`` gives it."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def to_ns(when: datetime) -> int:
    """``when`` as integer nanoseconds since the epoch (exact: a ``datetime`` holds whole
    microseconds)."""
    if when.tzinfo is None:
        when = when.astimezone(UTC)
    return (when - _EPOCH) // _US * 1000


def from_ns(ns: int) -> datetime:
    """The UTC ``datetime`` of ``ns`` nanoseconds since the epoch, truncated to the
    microsecond."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def truncated(ns: int) -> int:
    """``ns`` truncated to the microsecond: what a ``datetime`` of it holds, in ns."""
    return ns - ns % 1000


def split_mtime(value: object, what: str = "modified") -> tuple[datetime, int]:
    """``(datetime, ns)`` for a modification time given as a ``datetime`` or as integer
    nanoseconds; ``TypeError`` naming ``what`` for anything else (a float of seconds
    would lose nanoseconds silently, so it is refused)."""
    if isinstance(value, datetime):
        ns = to_ns(value)
        return from_ns(ns), ns
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return from_ns(value), value
        except OverflowError:
            raise ValueError(f"{what} of {value} ns is outside the years 1 to 9999") from None
    raise TypeError(
        f"{what} must be a datetime or an int of nanoseconds since the epoch, "
        f"got {type(value).__name__}"
    )


_RFC3339 = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)\Z", re.IGNORECASE
)


def format_rfc3339(ns: int, *, fixed: bool = False) -> str:
    """``ns`` as an RFC 3339 UTC stamp with nanoseconds: ``2021-03-04T05:06:07.123456789Z``.

    ``fixed=False`` drops the fraction's trailing zeros (and the dot when nothing is left),
    as Go's ``time.RFC3339Nano`` (rclone's GCS ``mtime``); ``fixed=True`` always writes
    nine digits, as rclone's Azure ``mtime`` does.
    """
    seconds, nanos = divmod(ns, 1_000_000_000)
    when = _EPOCH + timedelta(seconds=seconds)
    text = (
        f"{when.year:04d}-{when.month:02d}-{when.day:02d}"
        f"T{when.hour:02d}:{when.minute:02d}:{when.second:02d}"
    )
    fraction = f"{nanos:09d}"
    if not fixed:
        fraction = fraction.rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def parse_rfc3339(text: str) -> int | None:
    """Nanoseconds since the epoch for an RFC 3339 stamp (any offset; fraction digits past
    the ninth are dropped), or ``None`` when ``text`` is not one."""
    match = _RFC3339.match(text.strip())
    if match is None:
        return None
    base, fraction, zone = match.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        when = datetime.fromisoformat(f"{base[:10]}T{base[11:]}{zone}")
    except ValueError:
        return None
    nanos = int((fraction or "")[:9].ljust(9, "0"))
    return to_ns(when) + nanos
