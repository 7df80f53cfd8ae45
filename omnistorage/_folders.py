"""Crash leftovers for both Stores, without I/O: which are old enough to remove, keyed
relative to the store's root, and the age below which they are kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omnistorage import paths
from omnistorage.models import Leftover

__all__ = ["DEFAULT_CLEANUP_AGE", "partition_leftovers", "rebase_leftover"]

DEFAULT_CLEANUP_AGE = timedelta(hours=24)
"""Leftovers younger than this may belong to a writer that is still running."""


def rebase_leftover(leftover: Leftover, root: str) -> Leftover:
    """``leftover`` with its key made relative to the store root ``root``."""
    key = leftover.key
    if root and paths.is_within(key, root):
        key = paths.relative_to(key, root)
    elif key == root:
        key = ""
    return Leftover(
        kind=leftover.kind,
        key=key,
        native=leftover.native,
        size=leftover.size,
        started=leftover.started,
        handle=leftover.handle,
    )


def partition_leftovers(
    found: list[Leftover], root: str, older_than: timedelta
) -> tuple[list[tuple[Leftover, Leftover]], list[Leftover]]:
    """Split leftovers (no I/O): those older than ``older_than``, each with its copy keyed
    relative to ``root``, and the (rebased) young ones to keep. A leftover without a
    start time counts as young unless ``older_than`` is zero."""
    cutoff = datetime.now(UTC) - older_than
    old: list[tuple[Leftover, Leftover]] = []
    kept: list[Leftover] = []
    for leftover in found:
        shown = rebase_leftover(leftover, root)
        started = leftover.started
        if (older_than > timedelta(0)) if started is None else started > cutoff:
            kept.append(shown)
        else:
            old.append((leftover, shown))
    return old, kept
