"""``sync``/``copy``/``check`` on a cluster: Dask (``--cluster tcp://host:8786``, or
``local:N`` for a LocalCluster of N processes) or Ray (``ray://host:10001``, ``ray:auto``
for the cluster this machine belongs to, ``ray:local`` for a Ray instance started here),
or ``--cluster NAME`` for a ``[clusters.NAME]`` profile of the configuration file.

The addresses become :class:`omnistorage.distributed.StoreSpec` configuration:
URLs as given, ``profile:path`` with the configuration file this command found
(each worker reads that path, or ``$OMNISTORAGE_CONFIG`` on the worker), local
paths made absolute (a local path must name the same folder on every worker: a
shared mount). The job's state goes to ``--state`` (an address every worker can
write); rerunning the same command resumes it. Progress lines count the chunks
the workers finished.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import click

from omnistorage import distributed
from omnistorage.cli._progress import Display
from omnistorage.cli._session import Session
from omnistorage.distributed import StoreSpec
from omnistorage.sync import CheckReport, SyncReport

__all__ = ["check_on_cluster", "run_on_cluster", "spec_of"]


def spec_of(session: Session, text: str) -> StoreSpec:
    """The configuration a worker opens ``text`` from."""
    location = session.resolve(text)
    if location.in_memory:
        raise click.UsageError(f"{text}: memory:// stores live in one process; not on a cluster")
    if location.kind == "local":
        return StoreSpec(os.path.abspath(text))
    config = session.addresses.config.path if location.kind == "profile" else None
    return StoreSpec(text, config=str(config) if config else None)


def _address(session: Session, cluster: str) -> str:
    """``cluster`` itself, or, for a bare name, the address of that cluster profile of
    the configuration file (``[clusters.NAME]``)."""
    if ":" in cluster:
        return cluster
    profiles = session.addresses.registry().config.clusters
    profile = profiles.get(cluster)
    if profile is None:
        known = ", ".join(sorted(profiles)) or "none"
        raise click.UsageError(
            f"--cluster {cluster!r}: not an address (tcp://…, local:N, ray://…, ray:auto, "
            f"ray:local) and no cluster profile of that name in "
            f"{session.addresses.config.path} (known: {known})"
        )
    return profile.cluster


@contextlib.contextmanager
def _engine(session: Session, cluster: str) -> Iterator[distributed.Engine]:
    """The engine for ``cluster`` (an address, or a cluster profile's name): Ray for
    ``ray://…``/``ray:auto``/``ray:local``, else Dask (a scheduler address, or
    ``local:N``). A cluster it starts ends with it."""
    cluster = _address(session, cluster)
    if cluster.startswith("ray:"):
        with _ray(cluster) as engine:
            yield engine
        return
    from omnistorage.distributed.dask import DaskEngine

    with _client(cluster) as client:
        yield DaskEngine(client)


@contextlib.contextmanager
def _ray(cluster: str) -> Iterator[distributed.Engine]:
    try:
        import ray

        from omnistorage.distributed.ray import RayEngine
    except ImportError:
        raise click.UsageError(
            f"--cluster {cluster} needs Ray: pip install 'omnistorage[ray]'"
        ) from None
    options: dict[str, Any] = {"log_to_driver": False}
    if cluster == "ray:local":
        address, options["include_dashboard"] = None, False
    elif cluster == "ray:auto":
        address = "auto"
    elif cluster.startswith("ray://") and len(cluster) > len("ray://"):
        address = cluster
    else:
        raise click.UsageError(
            f"--cluster {cluster!r}: a Ray address is ray://HOST:PORT, ray:auto or ray:local"
        )
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise click.ClickException(f"--cluster {cluster}: cannot connect to Ray: {exc}") from None
    try:
        yield RayEngine()
    finally:
        ray.shutdown()


@contextlib.contextmanager
def _client(cluster: str) -> Iterator[Any]:
    """A client of the scheduler at ``cluster``, or of a LocalCluster (``local:N``) that
    ends with it."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise click.UsageError(
            "--cluster needs Dask distributed: pip install 'omnistorage[dask]'"
        ) from None
    if cluster.startswith("local:"):
        workers = cluster.removeprefix("local:")
        if not workers.isdigit() or int(workers) < 1:
            raise click.UsageError(f"--cluster local:N needs a worker count, got {cluster!r}")
        with (
            LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=int(workers), processes=True, dashboard_address=None
            ) as local,
            Client(local) as client,  # type: ignore[no-untyped-call]
        ):
            yield client
        return
    with Client(cluster) as client:  # type: ignore[no-untyped-call]
        yield client


def run_on_cluster(
    mode: str,
    session: Session,
    source: str,
    destination: str,
    options: dict[str, Any],
    backup_dir: str | None,
    cluster: str,
    state: str,
    display: Display,
) -> SyncReport:
    """Run ``mode`` of SOURCE to DESTINATION on ``cluster`` with its state at ``state``."""
    src, dst, at = spec_of(session, source), spec_of(session, destination), spec_of(session, state)
    backup = spec_of(session, backup_dir) if backup_dir is not None else None

    def on_chunk(done: int, total: int, result: dict[str, Any]) -> None:
        display.message(
            f"chunk {done}/{total} done: {result.get('actions', 0)} action(s), "
            f"{result.get('bytes', 0)} bytes"
            + ("" if result.get("ok") else f", {len(result.get('errors', []))} error(s)")
        )

    with _engine(session, cluster) as engine:
        runner = distributed.sync if mode == "sync" else distributed.copy
        return runner(engine, src, dst, at, backup_dir=backup, on_chunk=on_chunk, **options)


def check_on_cluster(
    session: Session,
    source: str,
    destination: str,
    options: dict[str, Any],
    cluster: str,
    state: str,
    display: Display,
) -> CheckReport:
    """``check`` of SOURCE against DESTINATION on ``cluster`` with its state at ``state``."""
    src, dst, at = spec_of(session, source), spec_of(session, destination), spec_of(session, state)

    def on_chunk(done: int, total: int, result: dict[str, Any]) -> None:
        display.message(
            f"chunk {done}/{total} done: {len(result.get('match', []))} match, "
            f"{len(result.get('differ', []))} differ"
            + (f", {len(result['errors'])} error(s)" if result.get("errors") else "")
        )

    with _engine(session, cluster) as engine:
        return distributed.check(engine, src, dst, at, on_chunk=on_chunk, **options)
