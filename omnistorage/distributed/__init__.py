"""Sync and copy past one machine: an engine-agnostic core over existing engines.

:func:`sync` and :func:`copy` plan on the calling process (the coordinator) from
listings made by workers, write the plan as chunks to a *state* store, let the
engine's workers pull and run the chunks, record each chunk's result as it ends,
and run the deletes last, only when the whole job succeeded (see
:mod:`omnistorage.distributed._job` for the steps and
:mod:`omnistorage.distributed._state` for the state format). Stores travel as
:class:`StoreSpec` configuration; each worker opens them with its own credentials.

Engines: :class:`ThreadEngine` (this process), with the ``dask`` extra
``omnistorage.distributed.dask.DaskEngine``, and with the ``ray`` extra
``omnistorage.distributed.ray.RayEngine``. Importing this package imports no engine.
"""

from __future__ import annotations

from typing import Any

from omnistorage.distributed._check import run_check
from omnistorage.distributed._engine import Engine, ThreadEngine
from omnistorage.distributed._job import ChunkProgress, run_job
from omnistorage.distributed._spec import StoreSpec
from omnistorage.distributed._state import FORMAT, StateError
from omnistorage.sync._report import CheckReport, SyncReport

__all__ = [
    "FORMAT",
    "ChunkProgress",
    "Engine",
    "StateError",
    "StoreSpec",
    "ThreadEngine",
    "check",
    "copy",
    "sync",
]


def sync(
    engine: Engine, src: StoreSpec, dst: StoreSpec, state: StoreSpec, **options: Any
) -> SyncReport:
    """Make ``dst`` like ``src`` on ``engine``'s workers, with the job state at ``state``.

    Options are :func:`omnistorage.sync.sync`'s (``backup_dir`` as a :class:`StoreSpec`),
    plus ``chunk_size`` (actions per chunk; default: 2 chunks per worker thread) and
    ``on_chunk`` (progress). Running it again with the same arguments resumes: only the
    chunks without a successful result run again. Deletes run last, only when every
    chunk succeeded and the listings were complete."""
    return run_job(engine, "sync", src, dst, state, **options)


def copy(
    engine: Engine, src: StoreSpec, dst: StoreSpec, state: StoreSpec, **options: Any
) -> SyncReport:
    """As :func:`sync` without deletes."""
    return run_job(engine, "copy", src, dst, state, **options)


def check(
    engine: Engine, src: StoreSpec, dst: StoreSpec, state: StoreSpec, **options: Any
) -> CheckReport:
    """Compare ``src`` and ``dst`` as :func:`omnistorage.sync.check` does, with the listings
    and the comparisons on ``engine``'s workers and the job state at ``state``.

    Options are :func:`omnistorage.sync.check`'s (``one_way``, ``download``, ``filters``,
    ``checkers``, ``retries``, ``retry_backoff``), plus ``chunk_size`` (pairs per chunk)
    and ``on_chunk`` (progress). Running it again with the same arguments before it
    finished resumes: only the chunks without a result run."""
    return run_check(engine, src, dst, state, **options)
