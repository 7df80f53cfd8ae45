"""A fake monotonic clock for code with a clock seam: time moves only when told.

``FakeClock()`` is the clock (call it for the time); ``sleep(seconds)`` moves
it forward and records the sleep, so pacing is checked exactly, whatever the
machine's load.
"""

from __future__ import annotations


class FakeClock:
    """A monotonic clock that moves only by :meth:`sleep` and :meth:`advance`."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """What the code under test calls instead of ``time.sleep``."""
        if seconds < 0:
            raise ValueError(f"a negative sleep: {seconds}")
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        """Time the test spends outside the code under test (e.g. sending bytes)."""
        self.now += seconds
