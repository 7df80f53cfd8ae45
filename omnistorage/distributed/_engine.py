"""What the core asks of an execution engine: run calls somewhere, report each as it ends.

An :class:`Engine` runs a list of calls of one picklable top-level function and yields
``(position, outcome)`` pairs in the order the calls *finish*, so free workers take the
next call as soon as they are done (DistCp's dynamic strategy: with 2-3 chunks per
worker, fast workers take more). ``outcome`` is the return value, or the exception the
call raised after the engine's own retries. :class:`ThreadEngine` runs the calls in
this process (one machine, no extra dependency); :class:`omnistorage.distributed.dask.DaskEngine`
runs them on a Dask cluster and :class:`omnistorage.distributed.ray.RayEngine` on a Ray
cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any, Protocol

__all__ = ["Engine", "ThreadEngine"]


class Engine(Protocol):
    """Runs calls on workers (see the module docstring)."""

    @property
    def workers(self) -> int:
        """How many calls run at once (chunk counts are sized from it)."""
        ...

    def run(
        self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        """Run ``fn(*call)`` for each call; yield ``(position, result or exception)`` as each
        ends. Closing the iterator early abandons the calls not yet finished."""
        ...


class ThreadEngine:
    """Runs calls on ``workers`` threads of this process."""

    def __init__(self, workers: int = 4) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self._workers = workers

    @property
    def workers(self) -> int:
        return self._workers

    def run(
        self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        with ThreadPoolExecutor(self._workers, thread_name_prefix="omnistorage-dist") as pool:
            futures: dict[Future[Any], int] = {
                pool.submit(fn, *call): n for n, call in enumerate(calls)
            }
            try:
                for future in as_completed(futures):
                    error = future.exception()
                    yield futures[future], (future.result() if error is None else error)
            finally:
                for future in futures:
                    future.cancel()
