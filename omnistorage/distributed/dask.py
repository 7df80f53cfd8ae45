"""The Dask distributed adapter (the ``dask`` extra): :class:`DaskEngine`.

>>> from distributed import Client, LocalCluster          # doctest: +SKIP
>>> engine = DaskEngine(Client(LocalCluster(n_workers=2)))  # doctest: +SKIP

Each call is one task (``pure=False``: a retried job runs it again). When a worker
dies mid-task the scheduler runs the task again on another worker (Dask's
``distributed.scheduler.allowed-failures`` bounds how often); the chunk it was running
is then copied again, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

try:
    from distributed import Client, as_completed
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    from omnistorage.errors import DependencyMissing

    raise DependencyMissing(
        "omnistorage.distributed.dask needs Dask distributed: pip install 'omnistorage[dask]'"
    ) from exc

__all__ = ["DaskEngine"]


class DaskEngine:
    """Runs the core's calls as tasks of ``client`` (a :class:`distributed.Client`)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    @property
    def workers(self) -> int:
        """Worker threads of the cluster now (at least 1)."""
        info = self.client.scheduler_info()
        threads = sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values())
        return max(1, threads)

    def run(
        self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        futures = [self.client.submit(fn, *call, pure=False) for call in calls]
        position = {future.key: n for n, future in enumerate(futures)}
        try:
            for future in as_completed(futures):  # type: ignore[no-untyped-call]
                try:
                    outcome = future.result()
                except Exception as exc:  # noqa: BLE001 - handed to the core, which records it
                    outcome = exc
                yield position[future.key], outcome
        finally:
            self.client.cancel([f for f in futures if not f.done()])  # type: ignore[no-untyped-call]
