"""Racing create-only operations: the check behind ``CONDITIONAL_WRITE``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from omnistorage.errors import AlreadyExists
from omnistorage.store import Store

__all__ = ["RaceResult", "race", "race_create_only"]


@dataclass(frozen=True)
class RaceResult:
    """Who won, who lost with ``AlreadyExists``, and who failed otherwise."""

    threads: int
    winners: list[int] = field(default_factory=list)
    losers: list[int] = field(default_factory=list)
    errors: list[tuple[int, BaseException]] = field(default_factory=list)

    @property
    def winner(self) -> int:
        """The one winner; fails unless exactly one thread won and every other lost cleanly."""
        assert not self.errors, self.errors
        assert len(self.winners) == 1, self.winners
        assert len(self.losers) == self.threads - 1, self.losers
        return self.winners[0]

    def assert_one_winner(self, store: Store, key: str, payload: Callable[[int], bytes]) -> None:
        """Exactly one winner, every other thread refused, and the winner's bytes stored."""
        assert store.read_bytes(key) == payload(self.winner)


def race(operation: Callable[[int, threading.Barrier], object], *, threads: int = 16) -> RaceResult:
    """Run ``operation(i, barrier)`` on ``threads`` threads at once.

    The operation waits on the barrier where the race should start (before
    the whole write, or just before the publish). A thread *loses* when it
    raises ``AlreadyExists``; any other exception is recorded as an error.
    """
    barrier = threading.Barrier(threads)
    result = RaceResult(threads)
    lock = threading.Lock()

    def attempt(i: int) -> None:
        try:
            operation(i, barrier)
        except AlreadyExists:
            with lock:
                result.losers.append(i)
        except Exception as exc:  # noqa: BLE001 - reported through the result
            with lock:
                result.errors.append((i, exc))
        else:
            with lock:
                result.winners.append(i)

    workers = [threading.Thread(target=attempt, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return result


def race_create_only(
    store: Store,
    key: str,
    payload: Callable[[int], bytes],
    *,
    writers: int = 16,
) -> RaceResult:
    """``writers`` threads each ``store.write(key, payload(i))`` create-only, all at once."""

    def write(i: int, barrier: threading.Barrier) -> None:
        data = payload(i)
        barrier.wait()
        store.write(key, data)

    return race(write, threads=writers)
