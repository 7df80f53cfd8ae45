"""Listings that stay inside the key grammar (DESIGN §2, guarantee 8).

Drivers yield listed names exactly as stored. Another tool may have written
names the key grammar refuses (``a//b``, ``../x``, a tab, a backslash): the
Store never yields those. Each one is skipped, logged at WARNING with its
native name (``repr``, so control characters cannot forge log lines), counted
on the :class:`Listing` the Store returned, and passed to the caller's
``on_invalid`` callback if one was given. The sync engine counts them as
errors, so a mirror never ends silently incomplete.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from omnistorage import paths

__all__ = ["ForeignKeys", "Listing", "OnInvalid"]

T = TypeVar("T")

OnInvalid = Callable[[str], None]
"""Called with the native name of every listed entry that is not a valid key."""

_log = logging.getLogger("omnistorage.store")

MAX_REMEMBERED = 1000


class ForeignKeys:
    """Counts (and remembers the first :data:`MAX_REMEMBERED` of) skipped foreign names."""

    __slots__ = ("_backend", "_callback", "count", "names")

    def __init__(self, backend: str, callback: OnInvalid | None) -> None:
        self._backend = backend
        self._callback = callback
        self.count = 0
        self.names: list[str] = []

    def report(self, native: str) -> None:
        self.count += 1
        if len(self.names) < MAX_REMEMBERED:
            self.names.append(native)
        _log.warning(
            "skipped %r in a %s listing: not a valid key (%s)",
            native,
            self._backend,
            paths.broken_rule(native),
        )
        if self._callback is not None:
            self._callback(native)


class Listing(Iterator[T], Generic[T]):
    """A lazy listing that also tells what it skipped.

    Iterate it like any iterator. ``invalid_count`` and ``invalid`` (the first
    1000 native names) grow as the listing advances past foreign keys: read
    them once it is exhausted.
    """

    __slots__ = ("_foreign", "_source")

    def __init__(self, source: Iterator[T], foreign: ForeignKeys) -> None:
        self._source = source
        self._foreign = foreign

    def __iter__(self) -> Listing[T]:
        return self

    def __next__(self) -> T:
        return next(self._source)

    @property
    def invalid_count(self) -> int:
        """How many listed names were skipped because the key grammar refuses them."""
        return self._foreign.count

    @property
    def invalid(self) -> list[str]:
        """The native names of the skipped entries (the first 1000)."""
        return list(self._foreign.names)
