"""Listings that stay inside the key grammar (DESIGN §2, guarantee 8).

Drivers yield listed names exactly as stored. Another tool may have written
names the key grammar refuses (``a//b``, ``../x``, a tab, a backslash): the
Store never yields those. Each one is skipped, logged at WARNING with its
native name (``repr``, so control characters cannot forge log lines), counted
on the :class:`Listing` the Store returned, and passed to the caller's
``on_invalid`` callback if one was given. The sync engine counts them as
errors, so a mirror never ends silently incomplete.

What a wrapper's inner listings skipped arrives as
:class:`~omnistorage.models.SkippedEntry` items (DESIGN §5b: listing accounting
is data) and counts here like a foreign key of this store's own; the inner
store already logged it. :func:`relay_skipped` is how a wrapper that lists
through Stores passes them on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from omnistorage import paths
from omnistorage._content import rebase
from omnistorage._glob import compile_glob
from omnistorage.models import ObjectInfo, SkippedEntry

__all__ = [
    "ForeignKeys",
    "Listing",
    "deletable",
    "OnInvalid",
    "file_filter",
    "folder_filter",
    "relay_skipped",
]

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
        """Count a name this listing skipped because the key grammar refuses it."""
        self._count(native)
        _log.warning(
            "skipped %r in a %s listing: not a valid key (%s)",
            native,
            self._backend,
            paths.broken_rule(native),
        )

    def relayed(self, entry: SkippedEntry) -> None:
        """Count an entry an inner listing skipped (it logged it when it did)."""
        self._count(entry.path)
        _log.debug(
            "a %s listing passed on skipped %r (%s)", self._backend, entry.path, entry.reason
        )

    def _count(self, native: str) -> None:
        self.count += 1
        if len(self.names) < MAX_REMEMBERED:
            self.names.append(native)
        if self._callback is not None:
            self._callback(native)


class SkippedCounts:
    """What a listing (sync or async) tells of the entries it skipped."""

    __slots__ = ()
    _foreign: ForeignKeys

    @property
    def invalid_count(self) -> int:
        """How many listed names were skipped because the key grammar refuses them."""
        return self._foreign.count

    @property
    def invalid(self) -> list[str]:
        """The native names of the skipped entries (the first 1000)."""
        return list(self._foreign.names)


class Listing(SkippedCounts, Iterator[T], Generic[T]):
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


def file_filter(
    prefix: str,
    cut: int,
    *,
    pattern: str | None,
    max_depth: int | None,
    foreign: ForeignKeys,
) -> Callable[[ObjectInfo], ObjectInfo | None]:
    """What the Store makes of each entry a driver lists under ``prefix`` (no I/O, so sync
    and async listings share it): the file with its path cut to the store's root (``cut``
    characters), or ``None`` for a folder, a name that does not match ``pattern``, a file
    deeper than ``max_depth``, or a foreign key (reported to ``foreign``)."""
    matcher = compile_glob(pattern).fullmatch if pattern else None
    limit = None if max_depth is None else prefix.count("/") + max_depth
    is_valid = paths.is_valid_key
    size = len(prefix)

    def accept(info: ObjectInfo) -> ObjectInfo | None:
        if type(info) is SkippedEntry:
            if not info.is_dir:
                foreign.relayed(info)
            return None
        key = info.path
        if info.is_dir or not key.startswith(prefix):
            return None
        rel = key[cut:]
        if len(key) == size or not is_valid(rel):
            foreign.report(key)
            return None
        if limit is not None and key.count("/") >= limit:
            return None
        if matcher is not None and matcher(key[key.rfind("/") + 1 :]) is None:
            return None
        return rebase(info, rel) if cut else info

    return accept


def deletable(prefix: str, cut: int, foreign: ForeignKeys) -> Callable[[ObjectInfo], str | None]:
    """What a recursive folder delete makes of each entry a driver lists under ``prefix``
    (no I/O): the backend key of a file to delete, or ``None`` for a folder entry, an entry
    outside the prefix, or a foreign or relayed skipped entry (reported to ``foreign``, so
    the delete refuses to report the folder gone)."""

    def accept(info: ObjectInfo) -> str | None:
        if type(info) is SkippedEntry:
            if not info.is_dir:
                foreign.relayed(info)
            return None
        key = info.path
        if info.is_dir or not key.startswith(prefix):
            return None
        if not paths.is_valid_key(key[cut:]):
            foreign.report(key)
            return None
        return key

    return accept


def folder_filter(
    prefix: str, cut: int, foreign: ForeignKeys
) -> Callable[[ObjectInfo], str | None]:
    """What the Store makes of each entry of a shallow listing under ``prefix`` (no I/O):
    the immediate sub-folder's path cut to the store's root, once per folder, or ``None``
    for a file, a folder already seen, or a name outside the grammar (reported to
    ``foreign``)."""
    seen: set[str] = set()

    def accept(info: ObjectInfo) -> str | None:
        if type(info) is SkippedEntry:
            if info.is_dir:
                foreign.relayed(info)
            return None
        if not info.is_dir:
            return None
        key = info.path
        if key.endswith("/"):  # tolerate a driver that keeps the delimiter
            key = key[:-1]
        if not key.startswith(prefix):
            return None
        name = key[len(prefix) :]
        if not name or "/" in name or not paths.is_valid_key(key[cut:]):
            foreign.report(info.path)
            return None
        if key in seen:
            return None
        seen.add(key)
        return key[cut:]

    return accept


def relay_skipped(
    list_call: Callable[..., Iterable[T]], reason: str, *, folders: bool = False
) -> Iterator[T | SkippedEntry]:
    """The items of a Store listing, with a :class:`~omnistorage.models.SkippedEntry` for
    every entry it skipped, in order. ``list_call(on_invalid=…)`` makes the listing (e.g.
    ``partial(store.list_files, folder)``); ``reason`` says whose it was;
    ``folders`` marks the entries as skipped folders (from ``list_folders``), which only
    folder listings count, as they count a driver's own foreign folder names."""

    def skipped(name: str) -> SkippedEntry:
        return SkippedEntry(name, size=None, is_dir=folders, reason=reason)

    pending: list[str] = []
    for item in list_call(on_invalid=pending.append):
        if pending:
            yield from map(skipped, pending)
            pending.clear()
        yield item
    yield from map(skipped, pending)
