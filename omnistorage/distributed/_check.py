"""``check`` past one machine: the listings and the comparisons run on workers.

1. **List** by prefix on the workers, as a distributed sync does
   (:func:`~omnistorage.distributed._job.list_sides`).
2. **Pair**: the coordinator merges the shards in bounded memory and marches them as
   :func:`omnistorage.sync.check` does (the same filters): a path on one side only is
   recorded at once; a path on both sides goes, with both listing entries, into a
   chunk of pairs (``check/NNNNNN.json``).
3. **Compare** (:func:`check_chunk`, on the workers): each pair is compared as the
   single-process check compares it (the strongest hash both sides produce without
   downloading, else the size; the bytes with ``download``), and the chunk's result is
   recorded at ``check-results/NNNNNN.json`` as it ends.

A killed client resumes: running the same check (same stores and options) with the same
state runs only the chunks without a result. A finished check is planned afresh by the
next run. The report is one :class:`~omnistorage.sync.CheckReport`.
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime
from typing import Any

from omnistorage.distributed._engine import Engine
from omnistorage.distributed._job import ChunkProgress, Merged, list_sides
from omnistorage.distributed._spec import StoreSpec
from omnistorage.distributed._state import (
    MANIFEST,
    StateError,
    chunk_key,
    count,
    decode_entry,
    decode_error,
    encode_entry,
    field,
    job_ident,
    read_doc,
    read_manifest,
    write_doc,
)
from omnistorage.distributed._worker import JobSpec, open_spec, worker_options
from omnistorage.errors import NotFound
from omnistorage.paths import is_valid_key
from omnistorage.store import Store
from omnistorage.sync._check import check_march, compare_entries, require_listable, shared_hash
from omnistorage.sync._context import RunContext
from omnistorage.sync._entry import Entry
from omnistorage.sync._execute import Pool
from omnistorage.sync._filters import Filters
from omnistorage.sync._limits import Cancelled
from omnistorage.sync._options import SyncOptions
from omnistorage.sync._report import CheckReport, ErrorEntry, SyncReport, error_entry
from omnistorage.sync._setup import entry_filter

__all__ = ["check_chunk", "run_check"]

_CHECK_OPTIONS = ("checkers", "retries", "retry_backoff")


def run_check(
    engine: Engine,
    src: StoreSpec,
    dst: StoreSpec,
    state: StoreSpec,
    *,
    one_way: bool = False,
    download: bool = False,
    filters: Filters | None = None,
    chunk_size: int | None = None,
    on_chunk: ChunkProgress | None = None,
    checkers: int = 8,
    retries: int = 3,
    retry_backoff: float = 0.5,
) -> CheckReport:
    """Compare ``src`` and ``dst`` on ``engine``'s workers (see the module docstring).
    Options are :func:`omnistorage.sync.check`'s, plus ``chunk_size`` (pairs per chunk;
    default: 2 chunks per worker thread) and ``on_chunk`` (progress)."""
    if chunk_size is not None and (isinstance(chunk_size, bool) or chunk_size < 1):
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    opts = SyncOptions(
        filters=filters, checkers=checkers, retries=retries, retry_backoff=retry_backoff
    )
    started = time.monotonic()
    src_store, dst_store, state_store = open_spec(src), open_spec(dst), open_spec(state)
    require_listable(src_store, dst_store)
    plain = {"checkers": checkers, "retries": retries, "retry_backoff": retry_backoff}
    ident = _ident(src, dst, one_way, download, opts)
    report = CheckReport(one_way=one_way)
    manifest = _manifest(state_store, ident)
    if manifest is None or manifest["finished"]:
        job = JobSpec(f"{ident}-{secrets.token_hex(6)}", "check", src, dst, state, None, plain)
        manifest = _plan(engine, job, src_store, dst_store, state_store, opts, chunk_size)
    else:
        job = JobSpec(str(manifest["job"]), "check", src, dst, state, None, plain)
    _restore(report, manifest)
    done = _run(engine, job, download, state_store, manifest, report, on_chunk)
    if done:  # the next run checks afresh
        write_doc(state_store, MANIFEST, {**manifest, "finished": True})
    for name in ("match", "differ", "missing_on_src", "missing_on_dst"):
        getattr(report, name).sort()
    report.errors.sort(key=lambda e: (e.path is None, e.path or ""))
    report.duration = time.monotonic() - started
    return report


def _ident(src: StoreSpec, dst: StoreSpec, one_way: bool, download: bool, opts: SyncOptions) -> str:
    """Same stores and options: the same check (so its state resumes)."""
    return job_ident(
        {
            "mode": "check",
            "src": src.describe(),
            "dst": dst.describe(),
            "one_way": one_way,
            "download": download,
            "options": opts.decision_dict(),
        }
    )


def _manifest(state: Store, ident: str) -> dict[str, Any] | None:
    doc = read_manifest(state, ident, "check")
    if doc is not None:
        count(doc, "chunks", MANIFEST)
        for name in ("errors", "missing_on_src", "missing_on_dst"):
            field(doc, name, list, MANIFEST)
        field(doc, "listed", dict, MANIFEST)
    return doc


def _restore(report: CheckReport, manifest: dict[str, Any]) -> None:
    for name in ("missing_on_src", "missing_on_dst"):
        getattr(report, name).extend(_paths(manifest[name], MANIFEST))
    report.errors.extend(_error(e, MANIFEST) for e in manifest["errors"])


def _paths(raw: list[Any], where: str) -> list[str]:
    for path in raw:
        if not isinstance(path, str) or not is_valid_key(path):
            raise StateError(f"state {where}: {path!r} is not a valid key")
    return raw


def _error(raw: object, where: str) -> ErrorEntry:
    return decode_error(raw, where, "check")


# ---------------------------------------------------------------- planning


def _plan(
    engine: Engine,
    job: JobSpec,
    src: Store,
    dst: Store,
    state: Store,
    opts: SyncOptions,
    chunk_size: int | None,
) -> dict[str, Any]:
    """List, pair and write the chunks and the manifest (written last)."""
    sync_report = SyncReport(mode="check")
    ctx = RunContext.create(src, dst, opts, sync_report)
    missing: dict[str, list[str]] = {"missing_on_src": [], "missing_on_dst": []}
    chunks = 0
    try:
        folders = list_sides(engine, job, src, dst, ctx)
        if folders is not None:
            if chunk_size is None:
                listed = sync_report.listed.get("source", 0)
                chunk_size = max(50, -(-listed // (2 * engine.workers)))
            chunks = _pair(ctx, job, state, folders, chunk_size, missing)
    finally:
        ctx.close()
    manifest = {
        "job": job.job,
        "ident": job.job.rpartition("-")[0],
        "finished": False,
        "mode": "check",
        "src": job.src.describe(),
        "dst": job.dst.describe(),
        "chunks": chunks,
        "listed": dict(sync_report.listed),
        "errors": [e.to_dict() for e in sync_report.errors],
        **missing,
    }
    write_doc(state, MANIFEST, manifest)
    return manifest


def _pair(
    ctx: RunContext,
    job: JobSpec,
    state: Store,
    folders: list[str],
    size: int,
    missing: dict[str, list[str]],
) -> int:
    """March the merged listings as the single-process check does; write the pairs in
    chunks of ``size``. Returns the number of chunks."""
    include = entry_filter(ctx.opts.filters, datetime.now(UTC))
    pairs: list[list[object]] = []
    chunks = 0

    def flush() -> None:
        nonlocal chunks, pairs
        doc = {"job": job.job, "index": chunks, "pairs": pairs}
        write_doc(state, chunk_key("check", chunks), doc)
        chunks += 1
        pairs = []

    src_listing, dst_listing = (Merged(state, side, folders) for side in ("src", "dst"))
    for s, d in check_march(src_listing, dst_listing, include):
        if d is None:
            assert s is not None
            missing["missing_on_dst"].append(s.path)
        elif s is None:
            missing["missing_on_src"].append(d.path)
        else:
            pairs.append([encode_entry(s), encode_entry(d)])
            if len(pairs) >= size:
                flush()
    if pairs:
        flush()
    return chunks


# ---------------------------------------------------------------- running


def _run(
    engine: Engine,
    job: JobSpec,
    download: bool,
    state: Store,
    manifest: dict[str, Any],
    report: CheckReport,
    on_chunk: ChunkProgress | None,
) -> bool:
    """Run the chunks without a result; merge every chunk's result. True when every
    chunk has one."""
    total = int(manifest["chunks"])
    pending: list[int] = []
    finished = 0
    for index in range(total):
        doc = _result(state, job.job, index)
        if doc is None:
            pending.append(index)
        else:
            _merge(report, doc)
            finished += 1
    all_done = True
    calls = [(job, index, download) for index in pending]
    for position, outcome in engine.run(check_chunk, calls):
        index = pending[position]
        doc = None if isinstance(outcome, BaseException) else _result(state, job.job, index)
        if doc is None:
            all_done = False
            why = f"failed: {outcome}" if isinstance(outcome, BaseException) else "no result"
            report.errors.append(ErrorEntry(None, "check", f"chunk {index} {why}"))
            continue
        _merge(report, doc)
        finished += 1
        if on_chunk is not None:
            on_chunk(finished, total, doc)
    return all_done


def _result(state: Store, job: str, index: int) -> dict[str, Any] | None:
    where = chunk_key("check-results", index)
    try:
        doc = read_doc(state, where, None)
    except NotFound:
        return None
    if doc.get("job") != job:
        return None  # an earlier check's, at the same state location
    if doc.get("index") != index:
        raise StateError(f"state {where}: index {doc.get('index')!r}, expected {index}")
    for name in ("match", "differ"):
        _paths(field(doc, name, list, where), where)
    field(doc, "errors", list, where)
    compared = field(doc, "compared_by", dict, where)
    for how, n in compared.items():
        if not isinstance(how, str) or isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise StateError(f"state {where}: compared_by holds {how!r}: {n!r}")
    return doc


def _merge(report: CheckReport, doc: dict[str, Any]) -> None:
    where = chunk_key("check-results", int(doc["index"]))
    report.match.extend(doc["match"])
    report.differ.extend(doc["differ"])
    report.errors.extend(_error(e, where) for e in doc["errors"])
    for how, n in doc["compared_by"].items():
        report.compared_by[how] = report.compared_by.get(how, 0) + n


def check_chunk(job: JobSpec, index: int, download: bool) -> dict[str, Any]:
    """Compare the pairs of chunk ``index`` (on a worker) and record the result at
    ``check-results/NNNNNN.json``. Returns the result document. Raises when the chunk
    cannot be read (a bad state)."""
    state = open_spec(job.state)
    where = chunk_key("check", index)
    doc = read_doc(state, where, job.job)
    if doc.get("index") != index:
        raise StateError(f"state {where}: index {doc.get('index')!r}, expected {index}")
    raw = field(doc, "pairs", list, where)
    pairs = [_decode_pair(pair, where) for pair in raw]
    src, dst = open_spec(job.src), open_spec(job.dst)
    opts = worker_options(job, None)
    result: dict[str, Any] = {"match": [], "differ": [], "compared_by": {}, "errors": []}
    ctx = RunContext.create(src, dst, opts, SyncReport(mode="check"))
    try:
        _compare_all(ctx, pairs, download, result)
    finally:
        ctx.close()
    out = {"job": job.job, "index": index, **result}
    write_doc(state, chunk_key("check-results", index), out)
    return out


def _decode_pair(raw: object, where: str) -> tuple[Entry, Entry]:
    if not isinstance(raw, list) or len(raw) != 2:
        raise StateError(f"state {where}: a pair is a list of two entries")
    s, d = decode_entry(raw[0], where), decode_entry(raw[1], where)
    if s.path != d.path:
        raise StateError(f"state {where}: a pair of {s.path!r} and {d.path!r}")
    return s, d


def _compare_all(
    ctx: RunContext, pairs: list[tuple[Entry, Entry]], download: bool, result: dict[str, Any]
) -> None:
    kind = shared_hash(ctx, download)
    lock = threading.Lock()
    compared_by: dict[str, int] = result["compared_by"]

    def compare(s: Entry, d: Entry) -> None:
        try:
            name, how = compare_entries(ctx, s, d, kind, download)
        except Cancelled:
            return
        except Exception as exc:  # noqa: BLE001 - recorded as this path's error
            with lock:
                result["errors"].append(error_entry(s.path, "check", exc).to_dict())
            return
        with lock:
            result[name].append(s.path)
            compared_by[how] = compared_by.get(how, 0) + 1

    pool = Pool(ctx.opts.checkers, "omnistorage-dist-check")
    try:
        for s, d in pairs:
            pool.submit(lambda s=s, d=d: compare(s, d))  # type: ignore[misc]
    finally:
        pool.shutdown()
