"""Progress reports: a frozen snapshot, and the tracker that calls the user's callback.

The callback is never called concurrently (one lock serialises the calls),
at most about five times a second plus once per phase change and once at
the end. An exception from the callback stops the calls and is recorded as
an error of the run (so no deletes happen after it).

Bytes are counted per transfer attempt (:class:`ByteMeter`), so a total is
never exceeded: an attempt that fails takes its bytes back out (a retried or
re-read file counts once), and bytes beyond what the plan counted for a file
(a backup copy the plan did not count, a file whose size was unknown or grew)
are work found on the way and grow the total with them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["ByteMeter", "Phase", "Progress", "ProgressTracker"]

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
            ``bytes_done`` never exceeds a known ``bytes_total``: bytes of a failed
            attempt are taken back out, and work found beyond the plan grows the total.
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
        self._planned_bytes: int | None = None
        self._extra_bytes = 0
        """Bytes moved beyond what the plan counted (found on the way), in the total."""
        self.errors = 0
        self._current: str | None = None
        self._transfer_start: float | None = None
        self._last = 0.0

    def phase(self, phase: Phase) -> None:
        """Enter ``phase`` and report."""
        with self._lock:
            self._phase = phase
        self.emit(force=True)

    @property
    def bytes_total(self) -> int | None:
        """The bytes planned plus those found beyond the plan, or ``None`` while unknown."""
        planned = self._planned_bytes
        return None if planned is None else planned + self._extra_bytes

    def set_totals(self, files: int | None, nbytes: int | None) -> None:
        """The actions planned and their bytes, once known."""
        with self._lock:
            self._total = files
            self._planned_bytes = nbytes

    def add_planned(self, files: int, nbytes: int) -> None:
        """Count actions the march has just planned (streaming runs act while they march).

        The first planned action moves the phase from ``checking`` to ``transferring``:
        the totals then grow as the march finds more work, as rclone's do, and are
        final once the march has finished.
        """
        with self._lock:
            self._total = (self._total or 0) + files
            self._planned_bytes = (self._planned_bytes or 0) + nbytes
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

    def add(self, *, files: int = 0, errors: int = 0, current: str | None = None) -> None:
        """Count actions completed and errors; reports at most every 0.2 s. Bytes are
        counted through a :meth:`meter`."""
        with self._lock:
            self._done += files
            self.errors += errors
            if current is not None:
                self._current = current
        self.emit()

    def meter(self, planned: int) -> ByteMeter:
        """A meter for one transfer attempt that the plan counted ``planned`` bytes for
        (0: work the plan did not count)."""
        return ByteMeter(self, planned)

    def _count(self, nbytes: int, extra: int) -> None:
        with self._lock:
            if nbytes > 0 and self._transfer_start is None:
                self._transfer_start = time.monotonic()
            self.bytes_done += nbytes
            self._extra_bytes += extra
        self.emit()

    def snapshot(self) -> Progress:
        with self._lock:
            rate = 0.0
            if self._transfer_start is not None:
                elapsed = time.monotonic() - self._transfer_start
                if elapsed > 0:
                    rate = self.bytes_done / elapsed
            eta: float | None = None
            bytes_total = self.bytes_total
            if bytes_total is not None:
                left = bytes_total - self.bytes_done
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
                bytes_total=bytes_total,
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


class ByteMeter:
    """The bytes of one transfer attempt, counted into a :class:`ProgressTracker` as they
    move (see the module docstring). Used by one thread at a time."""

    __slots__ = ("_planned", "_tracker", "counted")

    def __init__(self, tracker: ProgressTracker, planned: int) -> None:
        self._tracker = tracker
        self._planned = max(0, planned)
        self.counted = 0

    def add(self, nbytes: int) -> None:
        """Count ``nbytes`` moved; past the planned bytes they grow the total too."""
        before = self.counted
        self.counted = before + nbytes
        planned = self._planned
        extra = max(0, self.counted - planned) - max(0, before - planned)
        self._tracker._count(nbytes, extra)

    def retract(self) -> None:
        """The attempt failed: take its bytes back out of the counts (a retry counts anew)."""
        counted, self.counted = self.counted, 0
        if counted:
            self._tracker._count(-counted, -max(0, counted - self._planned))
