"""Checks drivers apply to the staged data a token hands back (``Capability.DEFERRED_PUBLISH``).

What :meth:`~omnistorage.driver.Writer.stage` returned comes back, later and maybe from
another process, inside a :class:`~omnistorage.staged.StagedObject` token: outside input.
Drivers read each field through these helpers, which raise :class:`TokenRejected`
(a native ``ValueError`` the Store turns into :class:`~omnistorage.staged.InvalidToken`)
for a missing field, a wrong type, a value out of its shape. A rejected token touches
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["TokenRejected", "int_field", "list_field", "str_field"]


class TokenRejected(ValueError):
    """Staged data that is malformed, forged, or made for another key or backend."""


def str_field(staged: Mapping[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    """``staged[name]``: a string that matches ``pattern`` whole."""
    value = staged.get(name)
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise TokenRejected(f"staged field {name!r} is missing or malformed")
    return value


def int_field(staged: Mapping[str, Any], name: str, low: int, high: int) -> int:
    """``staged[name]``: an integer (not a bool) in ``[low, high]``."""
    value = staged.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TokenRejected(f"staged field {name!r} is missing or out of range")
    return value


def list_field(staged: Mapping[str, Any], name: str, max_items: int) -> list[Any]:
    """``staged[name]``: a list of at most ``max_items`` items."""
    value = staged.get(name)
    if not isinstance(value, list) or len(value) > max_items:
        raise TokenRejected(f"staged field {name!r} is missing or too long")
    return value
