"""The Ray adapter (the ``ray`` extra): :class:`RayEngine`.

>>> import ray                                          # doctest: +SKIP
>>> ray.init(address="ray://head:10001")               # or ray.init() for this machine
>>> engine = RayEngine()                               # doctest: +SKIP

Each call is one Ray task. A task whose worker process dies (killed, out of memory, its
node lost) is run again by Ray up to ``max_retries`` times; the chunk it was running is
then copied again, and nothing else. An exception the call itself raises is not retried
by Ray: it is the chunk's outcome, which the core records (and a rerun of the job retries).
Stores travel as :class:`~omnistorage.distributed.StoreSpec` configuration: each worker
opens them with the credentials of its own environment or profile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

try:
    import ray
    from ray.exceptions import RayError, RayTaskError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    from omnistorage.errors import DependencyMissing

    raise DependencyMissing(
        "omnistorage.distributed.ray needs Ray: pip install 'omnistorage[ray]'"
    ) from exc

from omnistorage.errors import ConfigurationError

__all__ = ["RayEngine"]


class RayEngine:
    """Runs the core's calls as tasks of the Ray cluster this process is connected to.

    Call ``ray.init(...)`` first (``ray.init()`` starts a local instance;
    ``ray.init(address="ray://host:10001")`` joins a cluster). ``num_cpus`` is what each
    task reserves (a chunk mostly waits on I/O: fractions run several per CPU);
    ``max_retries`` bounds the reruns of a task whose worker died.
    """

    def __init__(self, *, num_cpus: float = 1.0, max_retries: int = 3) -> None:
        if isinstance(num_cpus, bool) or not isinstance(num_cpus, int | float) or num_cpus <= 0:
            raise ConfigurationError(f"num_cpus must be a positive number, got {num_cpus!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigurationError(f"max_retries must be an int >= 0, got {max_retries!r}")
        if not ray.is_initialized():
            raise ConfigurationError(
                "RayEngine needs a Ray connection: call ray.init() (this machine) or "
                "ray.init(address='ray://HOST:10001') first"
            )
        self._num_cpus = float(num_cpus)
        self._max_retries = max_retries

    @property
    def workers(self) -> int:
        """Tasks the cluster can run at once now (its CPUs / ``num_cpus``, at least 1)."""
        cpus = float(ray.cluster_resources().get("CPU", 1.0))  # type: ignore[no-untyped-call]
        return max(1, int(cpus / self._num_cpus))

    def run(
        self, fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]
    ) -> Iterator[tuple[int, Any]]:
        remote = ray.remote(
            num_cpus=self._num_cpus, max_retries=self._max_retries, retry_exceptions=False
        )(fn)
        refs = [remote.remote(*call) for call in calls]
        position = {ref: n for n, ref in enumerate(refs)}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    yield position[ref], _outcome(ref)
        finally:
            for ref in pending:
                ray.cancel(ref)


def _outcome(ref: Any) -> Any:
    """The task's result, or the exception it raised (the call's own, not Ray's wrapper)."""
    try:
        return ray.get(ref)
    except RayTaskError as exc:
        cause = exc.cause
        return cause if isinstance(cause, BaseException) else exc
    except RayError as exc:  # the worker died past max_retries, the task was cancelled …
        return exc
