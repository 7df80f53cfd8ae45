"""The sync engine's own error type.

Per-file failures (a read that failed, a write that was refused) are never
raised by :func:`~omnistorage.sync.sync` and its siblings: they are recorded
in the report (``errors``) and the run goes on with the other files, doing no
deletes. Run-level failures (``max_delete`` exceeded, ``max_transfer``
reached, a side that could not be listed, a cancelled run) are recorded the
same way, as :class:`SyncError` instances turned into report entries.
:meth:`~omnistorage.sync.SyncReport.raise_for_errors` raises a
:class:`SyncError` carrying the report for callers that prefer exceptions.
"""

from __future__ import annotations

from typing import Any

from omnistorage.errors import StorageError

__all__ = ["SyncError"]


class SyncError(StorageError):
    """A run-level failure of a sync, copy, move, check or bisync.

    Attributes:
        report: the report of the run (a ``SyncReport``, ``CheckReport`` or
            ``BisyncReport``) when the error is raised by ``raise_for_errors``;
            ``None`` for an error recorded inside a report.
    """

    def __init__(self, message: str = "", *, op: str | None = "sync", report: Any = None) -> None:
        super().__init__(message, op=op)
        self.report = report
