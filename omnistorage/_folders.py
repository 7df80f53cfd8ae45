"""Folder algorithms behind :class:`omnistorage.Store`: batched deletes, removing
empty folders and markers depth-first, and collecting crash leftovers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from omnistorage import paths
from omnistorage.driver import Backend, ExtendedBackend
from omnistorage.errors import StorageError, native_cause
from omnistorage.models import CleanupReport, Leftover

__all__ = ["delete_batch", "partition_leftovers", "rebase_leftover", "remove_dirs", "run_cleanup"]


def delete_batch(backend: Backend, ext: ExtendedBackend | None, keys: list[str]) -> None:
    """Delete ``keys`` (batched where the driver can)."""
    if ext is not None:
        ext.delete_many(keys)
    else:
        for key in keys:
            backend.delete(key)


def remove_dirs(ext: ExtendedBackend, folder: str) -> None:
    """Remove the (file-free) folder ``folder`` and its sub-folders, deepest first."""
    subfolders = [
        info.path.rstrip("/")
        for info in ext.list(paths.folder_prefix(folder), recursive=False)
        if info.is_dir
    ]
    for sub in subfolders:
        remove_dirs(ext, sub)
    if folder:
        ext.rmdir(folder)


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


def run_cleanup(
    ext: ExtendedBackend,
    prefix: str,
    root: str,
    *,
    older_than: timedelta,
    dry_run: bool,
    describe: Callable[[Exception, str], str],
    on_list_error: Callable[[Exception], StorageError],
) -> CleanupReport:
    """Remove the leftovers below ``prefix`` older than ``older_than`` (see ``Store.cleanup``)."""
    removed: list[Leftover] = []
    errors: list[tuple[str, str]] = []
    try:
        found = list(ext.list_leftovers(prefix))
    except Exception as exc:  # noqa: BLE001 - the Store's error boundary, mapped once
        raise on_list_error(exc) from native_cause(exc)
    old, kept = partition_leftovers(found, root, older_than)
    for leftover, shown in old:
        if not dry_run:
            try:
                ext.remove_leftover(leftover)
            except Exception as exc:  # noqa: BLE001 - reported; the rest still go
                errors.append((leftover.native, describe(exc, shown.key)))
                continue
        removed.append(shown)
    return CleanupReport(removed=tuple(removed), kept=tuple(kept), errors=tuple(errors))
