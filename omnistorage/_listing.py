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
from omnistorage._content import rebase
from omnistorage._glob import compile_glob
from omnistorage.driver import Backend
from omnistorage.models import ObjectInfo

__all__ = ["ForeignKeys", "Listing", "OnInvalid", "iter_files", "iter_folders"]

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


def iter_files(
    backend: Backend,
    prefix: str,
    cut: int,
    *,
    shallow: bool,
    pattern: str | None,
    max_depth: int | None,
    foreign: ForeignKeys,
) -> Iterator[ObjectInfo]:
    """The files the driver lists under ``prefix``, with paths cut to the store's root
    (``cut`` characters), filtered by name ``pattern`` and ``max_depth``; foreign keys go
    to ``foreign``."""
    matcher = compile_glob(pattern).fullmatch if pattern else None
    limit = None if max_depth is None else prefix.count("/") + max_depth
    is_valid = paths.is_valid_key
    for info in backend.list(prefix, recursive=not shallow):
        key = info.path
        if info.is_dir or not key.startswith(prefix):
            continue
        rel = key[cut:]
        if len(key) == len(prefix) or not is_valid(rel):
            foreign.report(key)
            continue
        if limit is not None and key.count("/") >= limit:
            continue
        if matcher is not None and matcher(key[key.rfind("/") + 1 :]) is None:
            continue
        yield rebase(info, rel) if cut else info


def iter_folders(backend: Backend, prefix: str, cut: int, foreign: ForeignKeys) -> Iterator[str]:
    """The immediate sub-folders the driver lists under ``prefix``, cut to the store's
    root, each once; names outside the grammar go to ``foreign``."""
    seen: set[str] = set()
    for info in backend.list(prefix, recursive=False):
        if not info.is_dir:
            continue
        key = info.path
        if key.endswith("/"):  # tolerate a driver that keeps the delimiter
            key = key[:-1]
        if not key.startswith(prefix):
            continue
        name = key[len(prefix) :]
        if not name or "/" in name or not paths.is_valid_key(key[cut:]):
            foreign.report(info.path)
            continue
        if key not in seen:
            seen.add(key)
            yield key[cut:]
