"""The coordinator: plan a sync or copy on workers, run its chunks, then the deletes.

1. **List** by prefix: the root's files and each top-level folder of either side is
   one listing task; each writes a sorted shard to the state store.
2. **Merge and decide**: the shards of a side are read back in order (the root's
   files merged with the folders, whose ranges never interleave), so memory stays
   bounded, and fed to the single-process march and decide step (filters, compare
   modes, name collisions, foreign keys: all as in :func:`omnistorage.sync.sync`).
3. **Plan as chunks**: transfers go to ``chunks/``, deletes to ``deletes/``; the
   manifest is written last.
4. **Run**: one task per chunk (2 chunks per worker thread unless ``chunk_size`` is
   given); each records its result as it ends, so a resumed job (same stores,
   options and state) runs only the chunks without a successful result.
5. **Delete** (``sync``): only when the listings were complete, planning met no
   error and every chunk of the job succeeded; ``max_delete``/``max_delete_size``
   count the whole job's deletes and ``backup_dir`` is the job's.
"""

from __future__ import annotations

import heapq
import itertools
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from operator import itemgetter
from types import SimpleNamespace
from typing import Any

from omnistorage.distributed._engine import Engine
from omnistorage.distributed._spec import StoreSpec
from omnistorage.distributed._state import (
    MANIFEST,
    StateError,
    action_doc,
    chunk_key,
    count,
    decode_error,
    field,
    job_ident,
    read_actions,
    read_doc,
    read_entries,
    read_manifest,
    write_doc,
)
from omnistorage.distributed._worker import (
    WORKER_OPTIONS,
    JobSpec,
    list_shard,
    open_spec,
    run_chunk,
    shard_key,
)
from omnistorage.errors import NotFound
from omnistorage.store import Store
from omnistorage.sync._context import RunContext
from omnistorage.sync._engine import Marcher
from omnistorage.sync._entry import Entry
from omnistorage.sync._errors import SyncError
from omnistorage.sync._execute import Executor
from omnistorage.sync._limits import Cancelled
from omnistorage.sync._options import SyncOptions
from omnistorage.sync._plan import Action
from omnistorage.sync._report import ErrorEntry, SyncReport
from omnistorage.sync._setup import _record_foreign, check_stores, make_policy, name_collisions

__all__ = ["ChunkProgress", "Merged", "list_sides", "run_job"]

ChunkProgress = Callable[[int, int, dict[str, Any]], None]
"""``on_chunk(done, total, result)``: called on the coordinator as each chunk ends."""

_REFUSED = {
    "max_transfer": "a transfer budget would be per worker, not the job's",
    "track_renames": "renames need every new and extra file in one place",
    "delete_mode": "deletes are always a second phase after every chunk succeeded",
}
_DELETES_PER_CHUNK = 10_000
_path = itemgetter(0)


def run_job(
    engine: Engine,
    mode: str,
    src: StoreSpec,
    dst: StoreSpec,
    state: StoreSpec,
    *,
    backup_dir: StoreSpec | None = None,
    chunk_size: int | None = None,
    on_chunk: ChunkProgress | None = None,
    **options: Any,
) -> SyncReport:
    """Run a ``sync`` or ``copy`` on ``engine`` with its state at ``state`` (see the module
    docstring). ``options`` are :func:`omnistorage.sync.sync`'s, except ``max_transfer``,
    ``track_renames`` and ``delete_mode`` (refused: they cannot hold for a whole job).
    A state left by another job (other stores or options) raises :class:`StateError`."""
    if mode not in ("sync", "copy"):
        raise ValueError(f"distributed jobs run sync or copy, not {mode!r}")
    defaults = SyncOptions()
    for name, why in _REFUSED.items():
        if name in options and options[name] != getattr(defaults, name):
            raise ValueError(f"distributed {mode}: {name} is not supported: {why}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    started = time.monotonic()
    src_store, dst_store, state_store = open_spec(src), open_spec(dst), open_spec(state)
    backup = open_spec(backup_dir) if backup_dir is not None else None
    opts = SyncOptions.parse(mode, {**options, "backup_dir": backup})
    check_stores(mode, src_store, dst_store, opts)
    window = opts.modify_window.total_seconds() if opts.modify_window is not None else None
    plain = {k: v for k, v in options.items() if k in WORKER_OPTIONS}
    ident = _job_id(mode, src, dst, backup_dir, opts)
    report = SyncReport(mode=mode)
    manifest = _manifest(state_store, ident)
    if manifest is None or manifest["finished"]:
        job = JobSpec(f"{ident}-{secrets.token_hex(6)}", mode, src, dst, state, backup_dir)
        job = replace(job, options=plain, modify_window=window)
        manifest = _plan(engine, job, src_store, dst_store, state_store, opts, report, chunk_size)
    else:
        job = JobSpec(str(manifest["job"]), mode, src, dst, state, backup_dir, plain, window)
        report.warnings.append(f"resumed job {job.job} from its state")
    if manifest is not None:
        _restore(report, manifest)
        done = _execute(engine, job, state_store, manifest, report, on_chunk)
        if mode == "sync":
            _deletes(job, src_store, dst_store, state_store, opts, manifest, report, done)
        if done and not report.errors:
            write_doc(state_store, MANIFEST, {**manifest, "finished": True})
    report.duration = time.monotonic() - started
    return report


def _job_id(
    mode: str, src: StoreSpec, dst: StoreSpec, backup: StoreSpec | None, opts: SyncOptions
) -> str:
    """Same stores and decision options: same job (so its state resumes)."""
    return job_ident(
        {
            "mode": mode,
            "src": src.describe(),
            "dst": dst.describe(),
            "backup": backup.describe() if backup is not None else None,
            "options": opts.decision_dict(),
        }
    )


def _manifest(state: Store, ident: str) -> dict[str, Any] | None:
    """The manifest of this job (same stores and options), ``None`` when there is none.
    Raises :class:`StateError` when the state holds another job's or a bad manifest."""
    doc = read_manifest(state, ident)
    if doc is None:
        return None
    for name in ("chunks", "delete_chunks", "deletes", "delete_bytes"):
        count(doc, name, MANIFEST)
    field(doc, "listing_complete", bool, MANIFEST)
    for name in ("errors", "warnings"):
        field(doc, name, list, MANIFEST)
    for name in ("skipped", "listed"):
        field(doc, name, dict, MANIFEST)
    return doc


def _restore(report: SyncReport, manifest: dict[str, Any]) -> None:
    report.listed = {str(k): int(v) for k, v in manifest["listed"].items()}
    report.skipped.update({str(k): int(v) for k, v in manifest["skipped"].items()})
    report.warnings.extend(str(w) for w in manifest["warnings"])
    report.errors.extend(_error(e, MANIFEST) for e in manifest["errors"])


def _error(raw: object, where: str) -> ErrorEntry:
    return decode_error(raw, where, "sync")


# ---------------------------------------------------------------- planning


def _prefixes(src: Store, dst: Store) -> list[str]:
    folders = set(src.list_folders("")) | set(dst.list_folders(""))
    return sorted(folders, key=lambda name: name + "/")


def list_sides(
    engine: Engine, job: JobSpec, src: Store, dst: Store, ctx: RunContext
) -> list[str] | None:
    """List both sides by prefix on ``engine``'s workers into sorted shards in the state
    store, and count what they listed and skipped into ``ctx``'s report. Returns the
    top-level folders (the shards' order, for :class:`Merged`), or ``None`` when a listing
    failed (recorded as an error)."""
    report = ctx.recorder.report
    folders = _prefixes(src, dst)
    shards: list[tuple[Any, ...]] = []
    for side in ("src", "dst"):
        shards.append((job, side, 0, None))
        shards += [(job, side, n, folder) for n, folder in enumerate(folders, 1)]
    listed: dict[str, list[dict[str, Any]]] = {"src": [], "dst": []}
    failed = False
    for position, outcome in engine.run(list_shard, shards):
        side = shards[position][1]
        if isinstance(outcome, BaseException):
            failed = True
            where = shards[position][3] or "the root"
            label = "source" if side == "src" else "destination"
            ctx.recorder.fail(None, "list", SyncError(f"listing the {label} ({where}): {outcome}"))
        else:
            listed[side].append(outcome)
    if failed:
        return None
    for side, label in (("src", "source"), ("dst", "destination")):
        stats = listed[side]
        report.listed[label] = sum(int(s["count"]) for s in stats)
        invalid = [name for s in stats for name in s["invalid"]][:1000]
        total_invalid = sum(int(s["invalid_count"]) for s in stats)
        _record_foreign(ctx, label, SimpleNamespace(invalid=invalid, invalid_count=total_invalid))  # type: ignore[arg-type]
    return folders


def _plan(
    engine: Engine,
    job: JobSpec,
    src: Store,
    dst: Store,
    state: Store,
    opts: SyncOptions,
    report: SyncReport,
    chunk_size: int | None,
) -> dict[str, Any] | None:
    """List, merge, decide and write the chunks and the manifest; ``None`` when a listing
    failed (nothing is planned, as in a single-process run)."""
    ctx = RunContext.create(src, dst, opts, report)
    folders = list_sides(engine, job, src, dst, ctx)
    if folders is None:
        ctx.close()
        return None
    if chunk_size is None:
        chunk_size = max(50, math.ceil(report.listed["source"] / (2 * engine.workers)))
    listings = [Merged(state, side, folders) for side in ("src", "dst")]
    writer = _ChunkWriter(state, job.job, chunk_size)
    policy = make_policy(ctx)
    checks = Executor(ctx, job.mode)
    marcher = Marcher(ctx, job.mode, policy, writer.emit, checks.check)
    try:
        marcher.collisions = name_collisions(ctx, listings, dst)  # type: ignore[arg-type]
        marcher.run(*listings, transfers=True, deletes=True)
        checks.drain()
    except Cancelled:
        report.cancelled = True
        ctx.recorder.fail(None, "sync", SyncError("cancelled", op="sync"))
    finally:
        checks.shutdown()
        ctx.close()
    writer.flush()
    manifest = {
        "job": job.job,
        "ident": job.job.rpartition("-")[0],
        "finished": False,
        "mode": job.mode,
        "src": job.src.describe(),
        "dst": job.dst.describe(),
        "chunks": writer.chunks,
        "delete_chunks": writer.delete_chunks,
        "deletes": writer.deletes,
        "delete_bytes": writer.delete_bytes,
        "listing_complete": not report.cancelled,
        "listed": dict(report.listed),
        "skipped": dict(report.skipped),
        "errors": [e.to_dict() for e in report.errors],
        "warnings": list(report.warnings),
    }
    report.listed, report.skipped, report.errors, report.warnings = {}, {}, [], []
    write_doc(state, MANIFEST, manifest)
    return manifest


class Merged:
    """One side's listing from its shards, in path order (re-iterable)."""

    def __init__(self, state: Store, side: str, folders: list[str]) -> None:
        self.state, self.side, self.folders = state, side, folders

    def __iter__(self) -> Iterator[Entry]:
        root = read_entries(self.state, shard_key(self.side, 0), "")
        # Each folder's keys form one range ("a/" … "a/\uffff") that no other folder's
        # keys enter, so the folders chain in order; only the root's files interleave.
        nested = itertools.chain.from_iterable(
            read_entries(self.state, shard_key(self.side, n), folder + "/")
            for n, folder in enumerate(self.folders, 1)
        )
        return heapq.merge(root, nested, key=_path)


class _ChunkWriter:
    """Collects the march's actions into chunk documents (transfers) and delete chunks."""

    def __init__(self, state: Store, job: str, size: int) -> None:
        self.state, self.job, self.size = state, job, size
        self.lock = threading.Lock()
        self.transfers: list[Action] = []
        self.pending_deletes: list[Action] = []
        self.chunks = self.delete_chunks = self.deletes = self.delete_bytes = 0

    def emit(self, action: Action) -> None:
        if action.op not in ("copy", "update", "delete"):
            raise SyncError(f"distributed plans hold no {action.op!r}", op="sync")
        with self.lock:
            if action.op == "delete":
                self.pending_deletes.append(action)
                self.deletes += 1
                self.delete_bytes += action.size or 0
                if len(self.pending_deletes) >= _DELETES_PER_CHUNK:
                    self._write_deletes()
            else:
                self.transfers.append(action)
                if len(self.transfers) >= self.size:
                    self._write_transfers()

    def flush(self) -> None:
        with self.lock:
            if self.transfers:
                self._write_transfers()
            if self.pending_deletes:
                self._write_deletes()

    def _write_transfers(self) -> None:
        doc = {"job": self.job, "index": self.chunks, "actions": self._docs(self.transfers)}
        write_doc(self.state, chunk_key("chunks", self.chunks), doc)
        self.chunks += 1
        self.transfers = []

    def _write_deletes(self) -> None:
        index = self.delete_chunks
        doc = {"job": self.job, "index": index, "actions": self._docs(self.pending_deletes)}
        write_doc(self.state, chunk_key("deletes", index), doc)
        self.delete_chunks += 1
        self.pending_deletes = []

    @staticmethod
    def _docs(actions: list[Action]) -> list[list[object]]:
        return [action_doc(a) for a in actions]


# ---------------------------------------------------------------- running


def _result(state: Store, job: str, index: int) -> dict[str, Any] | None:
    """Chunk ``index``'s result in this job, checked; ``None`` when it has none (or only
    one left by an earlier job at the same state location)."""
    try:
        doc = read_doc(state, chunk_key("results", index), None)
    except NotFound:
        return None
    if doc.get("job") != job:
        return None
    where = chunk_key("results", index)
    if doc.get("index") != index:
        raise StateError(f"state {where}: index {doc.get('index')!r}, expected {index}")
    field(doc, "ok", bool, where)
    count(doc, "bytes", where)
    for name in ("copied", "updated", "errors", "warnings"):
        field(doc, name, list, where)
    for name in ("counts", "skipped"):
        field(doc, name, dict, where)
    return doc


def _merge(report: SyncReport, doc: dict[str, Any]) -> None:
    where = chunk_key("results", int(doc["index"]))
    for name in ("copied", "updated"):
        value: list[str] = getattr(report, name)
        value.extend(str(p) for p in doc[name])
    for name, n in doc["counts"].items():
        if name in report.counts and isinstance(n, int) and not isinstance(n, bool):
            report.counts[name] += n
    for reason, n in doc["skipped"].items():
        if isinstance(n, int) and not isinstance(n, bool):
            report.skipped[str(reason)] = report.skipped.get(str(reason), 0) + n
    report.bytes_transferred += int(doc["bytes"])
    report.errors.extend(_error(e, where) for e in doc["errors"])
    report.warnings.extend(str(w) for w in doc["warnings"])


def _execute(
    engine: Engine,
    job: JobSpec,
    state: Store,
    manifest: dict[str, Any],
    report: SyncReport,
    on_chunk: ChunkProgress | None,
) -> bool:
    """Run the chunks without a successful result; merge every chunk's result into
    ``report``. True when every chunk of the job succeeded."""
    total = int(manifest["chunks"])
    pending: list[int] = []
    finished = 0
    for index in range(total):
        doc = _result(state, job.job, index)
        if doc is not None and doc["ok"]:
            _merge(report, doc)
            finished += 1
        else:
            pending.append(index)
    all_ok = True
    calls = [(job, index) for index in pending]
    for position, outcome in engine.run(run_chunk, calls):
        index = pending[position]
        if isinstance(outcome, BaseException):
            all_ok = False
            report.errors.append(
                ErrorEntry(None, "sync", f"chunk {index} failed: {outcome}", False, "SyncError")
            )
            continue
        doc = _result(state, job.job, index)
        if doc is None:
            all_ok = False
            report.errors.append(ErrorEntry(None, "sync", f"chunk {index}: no result recorded"))
            continue
        _merge(report, doc)
        all_ok = all_ok and bool(doc["ok"])
        finished += 1
        if on_chunk is not None:
            on_chunk(finished, total, doc)
    return all_ok


def _deletes(
    job: JobSpec,
    src: Store,
    dst: Store,
    state: Store,
    opts: SyncOptions,
    manifest: dict[str, Any],
    report: SyncReport,
    chunks_ok: bool,
) -> None:
    """The second phase: every delete of the job, gated and counted as one run's."""
    number = int(manifest["deletes"])
    if not number:
        return
    if not (chunks_ok and manifest["listing_complete"] and not report.errors):
        report.skipped["not deleted: errors in this job"] = number
        report.warnings.append("no files were deleted because of errors in this job")
        return
    ctx = RunContext.create(src, dst, opts, report)
    ctx.recorder.error_count = len(report.errors)
    executor = Executor(ctx, "sync")
    try:
        if not executor.deletes_allowed(number, int(manifest["delete_bytes"])):
            return
        ctx.progress.phase("deleting")
        for index in range(int(manifest["delete_chunks"])):
            key = chunk_key("deletes", index)
            actions = read_actions(state, key, job.job, index)
            for action in actions:
                if action.op != "delete":
                    raise StateError(f"state {key}: a delete chunk holds a {action.op}")
                executor.delete(action)
        executor.drain()
    finally:
        executor.shutdown()
        ctx.close()
        ctx.recorder.finish()
