"""Names that are one name on a destination that folds them (case, Unicode form).

A destination whose keys ignore case (``Features.case_insensitive``: a
``COLLATE NOCASE`` table, a macOS/Windows volume, SMB) or Unicode
normalisation (``Features.normalizes_unicode``: ``é`` as NFC or NFD) stores
``README.md`` and ``readme.md`` as one file: copying both would keep one and
report two, and one name would read the other's content. rclone asks
``Features().CaseInsensitive`` for the same reason.

:func:`colliding_names` finds, before any action, every path of the two
listings whose folded form is shared by another path of either listing
(``README.md`` on the source and ``readme.md`` on the destination collide too:
on the destination they are one file). The engine then reports each as an
error and leaves it alone on both sides, so nothing is overwritten by its
twin, and no delete runs in that run. Folding is NFC normalisation where the
destination normalises, then Unicode case folding (``str.casefold``) where it
ignores case: broader than some destinations' rules (SQLite's ``NOCASE``
folds ASCII letters only), so it may report names the destination would keep
apart, never miss a pair it would merge.

The listings are folded with bounded memory: pairs of (folded, path) are
sorted in runs of ``run_size`` spilled to disk, as the march sorts listings,
and only colliding paths are kept.
"""

from __future__ import annotations

import heapq
import marshal
import os
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator

from omnistorage.capabilities import Features

__all__ = ["colliding_names", "folding"]

_CHUNK = 1000


def folding(*features: Features) -> Callable[[str], str] | None:
    """The name folding of destinations with these facts, or ``None`` when none folds."""
    case = any(f.case_insensitive for f in features)
    unicode = any(f.normalizes_unicode for f in features)
    if not (case or unicode):
        return None

    def fold(path: str) -> str:
        if unicode:
            path = unicodedata.normalize("NFC", path)
        return path.casefold() if case else path

    return fold


def colliding_names(
    listings: Iterable[Iterable[tuple[object, ...]]],
    fold: Callable[[str], str],
    *,
    run_size: int,
    spill_dir: str | None,
) -> dict[str, tuple[str, ...]]:
    """Each path of ``listings`` (entries whose first item is the path) whose folded form
    another distinct path shares, mapped to all the paths of its group (sorted)."""
    runs: list[str] = []
    buffer: list[tuple[str, str]] = []
    folder: str | None = None
    try:
        for listing in listings:
            for entry in listing:
                path = str(entry[0])
                buffer.append((fold(path), path))
                if len(buffer) >= run_size:
                    if folder is None:
                        folder = tempfile.mkdtemp(prefix="omnistorage-fold-", dir=spill_dir)
                    runs.append(_spill(buffer, folder, len(runs)))
                    buffer = []
        buffer.sort()
        merged: Iterator[tuple[str, str]] = (
            heapq.merge(iter(buffer), *(_read(run) for run in runs)) if runs else iter(buffer)
        )
        return _groups(merged)
    finally:
        for run in runs:
            os.unlink(run)
        if folder is not None:
            os.rmdir(folder)


def _groups(pairs: Iterator[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    key: str | None = None
    names: set[str] = set()
    for folded, path in pairs:
        if folded != key:
            _keep(found, names)
            key, names = folded, set()
        names.add(path)
    _keep(found, names)
    return found


def _keep(found: dict[str, tuple[str, ...]], names: set[str]) -> None:
    if len(names) > 1:
        group = tuple(sorted(names))
        for name in group:
            found[name] = group


def _spill(buffer: list[tuple[str, str]], folder: str, number: int) -> str:
    buffer.sort()
    path = os.path.join(folder, f"fold-{number:05d}")
    with open(path, "wb") as handle:
        for start in range(0, len(buffer), _CHUNK):
            data = marshal.dumps(buffer[start : start + _CHUNK])
            handle.write(len(data).to_bytes(8, "little"))
            handle.write(data)
    return path


def _read(path: str) -> Iterator[tuple[str, str]]:
    with open(path, "rb") as handle:
        while header := handle.read(8):
            data = handle.read(int.from_bytes(header, "little"))
            yield from ((folded, path) for folded, path in marshal.loads(data))
