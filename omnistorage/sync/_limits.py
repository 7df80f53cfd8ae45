"""Limits on a run: bandwidth and operation rates, the transfer budget, cancellation.

- :class:`TokenBucket` paces a shared rate (``bwlimit`` in bytes/s over every
  streamed chunk, ``tpslimit`` in operations/s over every per-file call:
  ``stat``, read, write, copy, delete). A burst of a quarter second's worth
  is allowed. Listings are paged inside the Store and are not paced.
- :class:`TransferBudget` enforces ``max_transfer`` with rclone's cutoff
  modes: ``hard`` stops at once (transfers in flight are aborted, publishing
  nothing), ``soft`` starts no new transfer once the budget is spent and lets
  those in flight finish, ``cautious`` starts no transfer that could exceed it.
- Waits wake up early when the run is cancelled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from omnistorage.sync._errors import SyncError

__all__ = ["Cancelled", "MaxTransferReached", "TokenBucket", "TransferBudget", "sleep_unless"]


class Cancelled(Exception):
    """The run's cancel signal fired (internal: the engine turns it into a report entry)."""


class MaxTransferReached(SyncError):
    """``max_transfer`` was reached (cutoff mode ``hard``): the transfer was aborted."""


def sleep_unless(seconds: float, cancelled: Callable[[], bool]) -> None:
    """Sleep ``seconds`` in short steps; raise :class:`Cancelled` when cancelled."""
    deadline = time.monotonic() + seconds
    while True:
        if cancelled():
            raise Cancelled
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.05))


class TokenBucket:
    """A rate shared by threads: :meth:`take` blocks until ``amount`` tokens are available."""

    def __init__(self, rate: float, cancelled: Callable[[], bool]) -> None:
        self._rate = float(rate)
        self._capacity = max(float(rate) / 4, 1.0)
        self._tokens = self._capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()
        self._cancelled = cancelled

    def take(self, amount: float = 1.0) -> None:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            self._tokens -= amount  # may go negative: later callers wait for it to refill
            debt = -self._tokens
        if debt > 0:
            sleep_unless(debt / self._rate, self._cancelled)


class TransferBudget:
    """``max_transfer`` bytes with a cutoff mode (see the module docstring)."""

    def __init__(self, limit: int | None, mode: str) -> None:
        self._limit = limit
        self._mode = mode
        self._used = 0
        self._reserved = 0
        self._lock = threading.Lock()
        self.reached = False

    def start(self, size: int | None) -> bool:
        """May a transfer of ``size`` bytes start? (Reserves it in ``cautious`` mode.)"""
        if self._limit is None:
            return True
        with self._lock:
            if self.reached or self._used >= self._limit:
                self.reached = True
                return False
            if self._mode == "cautious":
                if size is None or self._used + self._reserved + size > self._limit:
                    self.reached = True
                    return False
                self._reserved += size
            return True

    def finish(self, size: int | None) -> None:
        """Release a ``cautious`` reservation."""
        if self._limit is not None and self._mode == "cautious" and size is not None:
            with self._lock:
                self._reserved -= size

    def add(self, nbytes: int) -> None:
        """Count streamed bytes; in ``hard`` mode raise once the limit is passed."""
        if self._limit is None:
            return
        with self._lock:
            self._used += nbytes
            over = self._used > self._limit
            if over:
                self.reached = True
        if over and self._mode == "hard":
            raise MaxTransferReached(
                f"max_transfer of {self._limit} bytes reached; the transfer was aborted"
            )
