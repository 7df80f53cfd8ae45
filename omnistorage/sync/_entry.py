"""The march's record of one listed file, compact enough to sort and spill by the million.

An :class:`Entry` keeps what a listing said about a file and nothing more: no
I/O ever happens to fill it. Times are integer nanoseconds since the Unix
epoch (UTC), ``ObjectInfo.modified_ns``: as fine as the backend keeps them,
and cheap to compare. Every field is a plain ``str``/``int``/``dict``/``None``, so a run
of entries can be written to a spill file with :mod:`marshal` and read back
unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from omnistorage.models import HashType, ObjectInfo

__all__ = ["Entry", "entry_of", "plain"]


class Entry(NamedTuple):
    """One file as a listing reported it (store-relative ``path``)."""

    path: str
    size: int | None
    """Bytes, or ``None`` when the backend cannot know before producing the content."""
    mtime: int | None
    """The listed modification time in nanoseconds since the epoch, or ``None``."""
    etag: str | None
    hashes: Mapping[str, str] | None
    """Hex digests the listing carried, by :class:`~omnistorage.HashType` value."""
    content_type: str | None
    metadata: Mapping[str, str] | None


def entry_of(info: ObjectInfo) -> Entry:
    """The :class:`Entry` for a listed :class:`~omnistorage.ObjectInfo`.

    The info's hash and metadata mappings are kept by reference (never changed here);
    :func:`plain` turns them into plain ``str``-keyed dicts where that matters.
    """
    return _new(
        Entry,
        (
            info.path,
            info.size,
            info.modified_ns,
            info.etag,
            info.hashes or None,
            info.content_type,
            info.metadata or None,
        ),
    )


def plain(entry: Entry) -> tuple[object, ...]:
    """``entry`` as a tuple of plain types only (what :mod:`marshal` can write): hash names
    that are :class:`~omnistorage.HashType` members become ``str``."""
    hashes = entry[4]
    if hashes:
        names = _HASH_NAMES
        return (
            entry[0],
            entry[1],
            entry[2],
            entry[3],
            {names.get(kind, kind): value for kind, value in hashes.items()},
            entry[5],
            entry[6],
        )
    return tuple(entry)


_HASH_NAMES: dict[str, str] = {kind: kind.value for kind in HashType}
_new = tuple.__new__
