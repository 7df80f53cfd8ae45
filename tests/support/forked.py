"""Forked writers racing on shared keys (tests only): what fork does to temp names and
connection pools shows only with real sibling processes.

:func:`race_forked` forks ``workers`` children of the calling process after it
used ``store`` (so module state and pooled connections exist before the fork).
Each round, all of them overwrite one of three shared keys, then all try a
create-only write of the round's own key. It returns the create-only wins
per worker and every unexpected error.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

from omnistorage import AlreadyExists, Store
from omnistorage.errors import StorageError

__all__ = ["race_forked"]

_STORE: list[Store] = []  # the parent's store, inherited by the forked children


def _worker(rounds: int, barrier: Any, results: Any) -> None:
    store = _STORE[0]
    pid = os.getpid()
    failures: list[str] = []
    wins = 0
    for round_ in range(rounds):
        barrier.wait()
        try:
            store.write(f"shared/over-{round_ % 3}.bin", f"{pid}".encode() * 500, overwrite=True)
        except StorageError as exc:
            failures.append(f"overwrite: {exc}")
        barrier.wait()
        try:
            store.write(f"shared/create-{round_}.bin", f"{pid}".encode() * 500)
            wins += 1
        except AlreadyExists:
            pass
        except StorageError as exc:
            failures.append(f"create-only: {exc}")
    results.put((wins, failures))


def race_forked(store: Store, *, workers: int = 8, rounds: int = 30) -> tuple[int, list[str]]:
    """Run the race; return (create-only wins in all, unexpected errors)."""
    _STORE[:] = [store]
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(workers)
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(rounds, barrier, results)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    return sum(wins for wins, _ in outcomes), [f for _, failures in outcomes for f in failures]
