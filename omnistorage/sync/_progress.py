"""Progress reports: a frozen snapshot, and the tracker that calls the user's callback.

The callback is never called concurrently (one lock serialises the calls),
at most about five times a second plus once per phase change and once at
the end. An exception from the callback stops the calls and is recorded as
an error of the run (so no deletes happen after it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Phase", "Progress", "ProgressTracker"]

Phase = Literal["listing", "checking", "transferring", "deleting", "done"]

_INTERVAL = 0.2


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a run is.

    Attributes:
        phase: ``"listing"``, ``"checking"``, ``"transferring"``, ``"deleting"`` or ``"done"``.
        files_done: files listed (listing), compared (checking) or acted on (transfers,
            renames and deletes).
        files_total: the total for ``files_done``, or ``None`` while still unknown. While
            a sync still walks the listings it already transfers what it found: the
            totals are then what was found so far, and grow until the walk ends.
        bytes_done, bytes_total: bytes transferred, and the total (as ``files_total``).
        rate: bytes per second since the transfers began.
        eta: seconds left, when the totals and the rate allow an estimate.
        errors: errors so far.
        current: a path being worked on.
    """

    phase: Phase
    files_done: int = 0
    files_total: int | None = None
    bytes_done: int = 0
    bytes_total: int | None = None
    rate: float = 0.0
    eta: float | None = None
    errors: int = 0
    current: str | None = None


class ProgressTracker:
    """Accumulates counters from many threads and reports them through one callback.

    What ``files_done``/``files_total`` count depends on the phase: files listed
    (``listing``), files compared (``checking``), then actions completed out of
    the actions planned (``transferring``, ``deleting``, ``done``; the total is
    known once the march has finished).
    """

    def __init__(
        self,
        callback: Callable[[Progress], None] | None,
        on_error: Callable[[BaseException], None],
    ) -> None:
        self._callback = callback
        self._on_error = on_error
        self._lock = threading.Lock()
        self._call_lock = threading.Lock()
        self._phase: Phase = "listing"
        self._listed = 0
        self._checked = 0
        self._done = 0
        self._total: int | None = None
        self.bytes_done = 0
        self.bytes_total: int | None = None
        self.errors = 0
        self._current: str | None = None
        self._transfer_start: float | None = None
        self._last = 0.0

    def phase(self, phase: Phase) -> None:
        """Enter ``phase`` and report."""
        with self._lock:
            self._phase = phase
        self.emit(force=True)

    def set_totals(self, files: int | None, nbytes: int | None) -> None:
        """The actions planned and their bytes, once known."""
        with self._lock:
            self._total = files
            self.bytes_total = nbytes

    def add_planned(self, files: int, nbytes: int) -> None:
        """Count actions the march has just planned (streaming runs act while they march).

        The first planned action moves the phase from ``checking`` to ``transferring``:
        the totals then grow as the march finds more work, as rclone's do, and are
        final once the march has finished.
        """
        with self._lock:
            self._total = (self._total or 0) + files
            self.bytes_total = (self.bytes_total or 0) + nbytes
            moved = self._phase == "checking" and files > 0
            if moved:
                self._phase = "transferring"
        self.emit(force=moved)

    def listed(self, count: int) -> None:
        with self._lock:
            self._listed = count
        self.emit()

    def add_checked(self, count: int, *, current: str | None = None) -> None:
        with self._lock:
            self._checked += count
            if current is not None:
                self._current = current
        self.emit()

    def add(
        self, *, files: int = 0, nbytes: int = 0, errors: int = 0, current: str | None = None
    ) -> None:
        """Count actions completed, bytes transferred, errors; reports at most every 0.2 s."""
        with self._lock:
            self._done += files
            if nbytes:
                if self._transfer_start is None:
                    self._transfer_start = time.monotonic()
                self.bytes_done += nbytes
            self.errors += errors
            if current is not None:
                self._current = current
        self.emit()

    def snapshot(self) -> Progress:
        with self._lock:
            rate = 0.0
            if self._transfer_start is not None:
                elapsed = time.monotonic() - self._transfer_start
                if elapsed > 0:
                    rate = self.bytes_done / elapsed
            eta: float | None = None
            if self.bytes_total is not None:
                left = max(0, self.bytes_total - self.bytes_done)
                if left == 0:
                    eta = 0.0
                elif rate > 0:
                    eta = left / rate
            phase = self._phase
            if phase == "listing":
                done, total = self._listed, None
            elif phase == "checking":
                done, total = self._checked, None
            else:
                done, total = self._done, self._total
            return Progress(
                phase=phase,
                files_done=done,
                files_total=total,
                bytes_done=self.bytes_done,
                bytes_total=self.bytes_total,
                rate=rate,
                eta=eta,
                errors=self.errors,
                current=self._current,
            )

    def emit(self, *, force: bool = False) -> None:
        """Call the callback with a snapshot (unless one was sent less than 0.2 s ago)."""
        callback = self._callback
        if callback is None:
            return
        if not force and time.monotonic() - self._last < _INTERVAL:
            return
        with self._call_lock:
            now = time.monotonic()
            if not force and now - self._last < _INTERVAL:
                return
            self._last = now
            try:
                callback(self.snapshot())
            except Exception as exc:  # noqa: BLE001 - the user's callback; recorded, calls stop
                self._callback = None
                self._on_error(exc)
