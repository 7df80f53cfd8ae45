"""Racing create-only writers: the check behind ``CONDITIONAL_WRITE``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from omnistorage.errors import AlreadyExists
from omnistorage.store import Store

__all__ = ["RaceResult", "race_create_only"]


@dataclass(frozen=True)
class RaceResult:
    """Who won, who lost with ``AlreadyExists``, and who failed otherwise."""

    writers: int
    winners: list[int] = field(default_factory=list)
    losers: list[int] = field(default_factory=list)
    errors: list[tuple[int, BaseException]] = field(default_factory=list)

    def assert_one_winner(self, store: Store, key: str, payload: Callable[[int], bytes]) -> None:
        """Exactly one winner, every other writer refused, and the winner's bytes stored."""
        assert not self.errors, self.errors
        assert len(self.winners) == 1, self.winners
        assert len(self.losers) == self.writers - 1, self.losers
        assert store.read_bytes(key) == payload(self.winners[0])


def race_create_only(
    store: Store,
    key: str,
    payload: Callable[[int], bytes],
    *,
    writers: int = 16,
) -> RaceResult:
    """Start ``writers`` threads that each ``store.write(key, payload(i))`` create-only at once."""
    barrier = threading.Barrier(writers)
    result = RaceResult(writers)
    lock = threading.Lock()

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            store.write(key, payload(i))
        except AlreadyExists:
            with lock:
                result.losers.append(i)
        except Exception as exc:  # noqa: BLE001 - reported through the result
            with lock:
                result.errors.append((i, exc))
        else:
            with lock:
                result.winners.append(i)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result
