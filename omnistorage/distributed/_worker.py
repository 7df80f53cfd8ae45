"""The task functions that run on workers: list one prefix, run one chunk.

Each takes a :class:`JobSpec` (plain configuration: addresses, a job id, plain
options) and opens the stores itself, so no client, credential or open connection
travels with a task. Opened stores are kept per worker process (one S3 client per
address, not one per task).
"""

from __future__ import annotations

import functools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from omnistorage.distributed._spec import StoreSpec
from omnistorage.distributed._state import (
    StateError,
    chunk_key,
    read_actions,
    read_doc,
    write_doc,
    write_entries,
)
from omnistorage.errors import NotFound
from omnistorage.store import Store
from omnistorage.sync._context import RunContext
from omnistorage.sync._decide import quick_decide
from omnistorage.sync._engine import execute_plan
from omnistorage.sync._entry import entry_of
from omnistorage.sync._march import SortedListing
from omnistorage.sync._options import SyncOptions
from omnistorage.sync._plan import Action, Plan
from omnistorage.sync._report import SyncReport
from omnistorage.sync._setup import make_policy

__all__ = ["WORKER_OPTIONS", "JobSpec", "list_shard", "run_chunk", "shard_key"]

WORKER_OPTIONS = frozenset(
    {
        "compare",
        "ignore_existing",
        "update",
        "checkers",
        "transfers",
        "retries",
        "retry_backoff",
        "bwlimit",
        "tpslimit",
        "record_paths",
        "hash_type",
    }
)
"""The options a worker's executor uses (plain values; ``modify_window`` travels in seconds)."""


@dataclass(frozen=True)
class JobSpec:
    """Everything a task needs, as configuration (picklable, credential-free)."""

    job: str
    mode: str
    src: StoreSpec
    dst: StoreSpec
    state: StoreSpec
    backup: StoreSpec | None = None
    options: dict[str, Any] = field(default_factory=dict)
    modify_window: float | None = None


_lock = threading.Lock()


@functools.lru_cache(maxsize=32)
def _opened(address: str, config: str | None, options: tuple[tuple[str, Any], ...]) -> Store:
    return StoreSpec(address, config, dict(options)).open()


def open_spec(spec: StoreSpec) -> Store:
    """``spec`` opened once per worker process."""
    with _lock:
        return _opened(spec.address, spec.config, tuple(sorted(spec.options.items())))


def shard_key(side: str, index: int) -> str:
    return f"listings/{side}/{index:06d}.jsonl"


def list_shard(job: JobSpec, side: str, index: int, folder: str | None) -> dict[str, Any]:
    """List one prefix of one side into a sorted shard: ``folder`` recursively, or (``None``)
    the files at the root only. Returns ``count``, ``bytes``, ``invalid_count`` and the
    first ``invalid`` names. Raises what the listing raises."""
    store = open_spec(job.src if side == "src" else job.dst)
    state = open_spec(job.state)
    if folder is None:
        listing = store.list_files("", recursive=False)
        infos = sorted(listing, key=lambda info: info.path)
        entries = [entry_of(info) for info in infos]
        count = write_entries(state, shard_key(side, index), iter(entries))
        return {
            "count": count,
            "bytes": sum(e.size or 0 for e in entries),
            "invalid_count": listing.invalid_count,
            "invalid": list(listing.invalid[:100]),
        }
    with SortedListing(store.child(folder)) as sorted_listing:
        sorted_listing.load()
        base = folder + "/"
        moved = (e._replace(path=base + e.path) for e in sorted_listing)
        count = write_entries(state, shard_key(side, index), moved)
        return {
            "count": count,
            "bytes": sorted_listing.bytes,
            "invalid_count": sorted_listing.invalid_count,
            "invalid": [base + name for name in sorted_listing.invalid[:100]],
        }


def worker_options(job: JobSpec, backup: Store | None) -> SyncOptions:
    unknown = set(job.options) - WORKER_OPTIONS
    if unknown:
        raise StateError(f"job options {sorted(unknown)} are not worker options")
    window = timedelta(seconds=job.modify_window) if job.modify_window is not None else None
    return SyncOptions(**job.options, backup_dir=backup, hash_cache=False, modify_window=window)


def run_chunk(job: JobSpec, index: int) -> dict[str, Any]:
    """Run transfer chunk ``index`` with the single-process executor and record its
    result at ``results/NNNNNN.json`` (rewritten whole by a retried attempt). Returns
    the result document. Raises when the chunk cannot be read (a bad state)."""
    started = time.perf_counter()
    state = open_spec(job.state)
    actions = read_actions(state, chunk_key("chunks", index), job.job, index)
    src, dst = open_spec(job.src), open_spec(job.dst)
    backup = open_spec(job.backup) if job.backup is not None else None
    opts = worker_options(job, backup)
    planned = len(actions)
    if _attempted_before(state, job.job, index):
        actions = _still_to_do(src, dst, opts, actions)
    # A chunk holds no delete: the executor runs its transfers only ("copy" mode).
    plan = Plan(mode="copy", src=src, dst=dst, actions=actions, settings=opts)
    setup = time.perf_counter() - started
    report = execute_plan(plan, {})
    doc: dict[str, Any] = {
        "job": job.job,
        "index": index,
        "ok": report.ok and not report.cancelled,
        "actions": planned,
        "already_done": planned - len(actions),
        "setup_seconds": setup,
        "run_seconds": report.duration,
        "counts": dict(report.counts),
        "bytes": report.bytes_transferred,
        "copied": list(report.copied),
        "updated": list(report.updated),
        "skipped": dict(report.skipped),
        "errors": [entry.to_dict() for entry in report.errors],
        "warnings": list(report.warnings),
    }
    write_doc(state, chunk_key("results", index), doc)
    return doc


def _attempted_before(state: Store, job: str, index: int) -> bool:
    """Whether an earlier attempt of this chunk started (a dead worker, a killed client);
    marks this attempt."""
    marker = chunk_key("attempts", index)
    try:
        earlier = read_doc(state, marker, None).get("job") == job
    except NotFound:
        earlier = False
    except StateError:
        earlier = True  # unreadable: assume the worst, recheck
    write_doc(state, marker, {"job": job, "index": index})
    return earlier


def _still_to_do(src: Store, dst: Store, opts: SyncOptions, actions: list[Action]) -> list[Action]:
    """The actions an earlier attempt did not finish: a destination file that now has the
    source entry's size and mtime (the march's own quick test; writes are atomic, so it is
    whole) was copied by that attempt. Anything in doubt is copied again."""
    ctx = RunContext.create(src, dst, opts, SyncReport(mode="copy"))
    try:
        policy = make_policy(ctx)
    finally:
        ctx.close()

    def needed(action: Action) -> bool:
        try:
            info = dst.get_file_info(action.path)
        except NotFound:
            return True
        except Exception:  # noqa: BLE001 - in doubt: copy it again
            return True
        verdict = quick_decide(action.entry, entry_of(info), policy)  # type: ignore[arg-type]
        return verdict is None or verdict.kind != "skip"

    with ThreadPoolExecutor(opts.checkers, thread_name_prefix="omnistorage-dist-recheck") as pool:
        keep = list(pool.map(needed, actions))
    return [action for action, k in zip(actions, keep, strict=True) if k]
