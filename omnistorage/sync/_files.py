"""copy_file and move_file: one file, under a name of its own, with the tree operations' rules."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from omnistorage import paths
from omnistorage.capabilities import Capability
from omnistorage.errors import AlreadyExists, CapabilityNotSupported, NotFound
from omnistorage.models import ObjectInfo
from omnistorage.store import Store
from omnistorage.sync._context import RunContext, same_backend
from omnistorage.sync._conventions import HASH_STRENGTH
from omnistorage.sync._engine import KEEP_SOURCE_REASONS, settle
from omnistorage.sync._entry import Entry, entry_of
from omnistorage.sync._errors import SyncError
from omnistorage.sync._execute import Executor, identical, side_hash, with_retries
from omnistorage.sync._limits import Cancelled
from omnistorage.sync._options import SyncOptions
from omnistorage.sync._plan import Action, Plan
from omnistorage.sync._report import SyncReport
from omnistorage.sync._setup import make_policy
from omnistorage.sync._transfer import TransferResult, transfer_file, verify_copy

__all__ = ["copy_file", "move_file"]

_FILE_OPTIONS = frozenset(
    {
        "compare",
        "ignore_existing",
        "update",
        "backup_dir",
        "retries",
        "retry_backoff",
        "bwlimit",
        "tpslimit",
        "max_transfer",
        "cutoff_mode",
        "cancel",
        "progress",
        "hash_cache",
        "hash_type",
        "modify_window",
        "record_paths",
    }
)


def copy_file(
    src: Store,
    src_path: str,
    dst: Store,
    dst_path: str,
    *,
    overwrite: bool = True,
    dry_run: bool = False,
    **opts: Any,
) -> SyncReport:
    """Copy the file ``src_path`` of ``src`` to ``dst_path`` of ``dst``.

    An existing destination file is compared as :func:`~omnistorage.sync.sync` compares
    (``compare``, ``ignore_existing``, ``update``) and left alone when it is the same;
    ``overwrite=False`` makes an existing file an ``AlreadyExists`` error (create-only,
    atomic where the destination has ``CONDITIONAL_WRITE``); a create-only publish whose
    reply was lost and whose retry then meets an object is checked the way the drivers
    check theirs: the same size and a shared hash equal to the source's make it this
    copy's own object (done), anything else stays ``AlreadyExists``. Keeps the mtime, content type
    and user metadata as the tree operations do. Returns a :class:`SyncReport` (failures in
    ``errors``); bad arguments raise before any I/O.
    """
    return _one("copy", src, src_path, dst, dst_path, overwrite, dry_run, opts)


def move_file(
    src: Store,
    src_path: str,
    dst: Store,
    dst_path: str,
    *,
    overwrite: bool = True,
    dry_run: bool = False,
    **opts: Any,
) -> SyncReport:
    """Move the file ``src_path`` of ``src`` to ``dst_path`` of ``dst``: server-side when
    both stores share a backend with ``MOVE``, else copy, verify (size, and a hash both
    sides share), then delete the source. A destination already holding the same file
    (compared as :func:`copy_file` does, then by size and shared hash) only costs the
    source's deletion. Same arguments and report as :func:`copy_file`."""
    return _one("move", src, src_path, dst, dst_path, overwrite, dry_run, opts)


def _one(
    mode: str,
    src: Store,
    src_path: str,
    dst: Store,
    dst_path: str,
    overwrite: bool,
    dry_run: bool,
    raw: dict[str, Any],
) -> SyncReport:
    opts = SyncOptions.parse(f"{mode}_file", raw, allowed=_FILE_OPTIONS)
    paths.validate_key(src_path)
    paths.validate_key(dst_path)
    needs = [(src, Capability.READ), (dst, Capability.WRITE)]
    if mode == "move":
        needs.append((src, Capability.DELETE))
    for store, capability in needs:
        if not store.supports(capability):
            raise CapabilityNotSupported(
                f"{mode}_file: {store!r} does not support {capability.value}",
                backend=store.unwrap().name,
                op=mode,
            )
    if any(
        a.child(src_path).overlaps(b.child(dst_path)) for a in src.locations for b in dst.locations
    ):  # judged by location: two handles opened separately on one file are one file
        raise ValueError(f"{mode}_file: source and destination are the same file")
    started = time.monotonic()
    report = SyncReport(mode=f"{mode}_file", dry_run=dry_run)
    ctx = RunContext.create(src, dst, opts, report)
    executor = Executor(ctx, mode)
    try:
        _run(mode, ctx, executor, src_path, dst_path, overwrite, dry_run)
    except Cancelled:
        report.cancelled = True
        ctx.recorder.fail(src_path, mode, SyncError("cancelled", op=mode))
    except Exception as exc:  # noqa: BLE001 - a file's failure is the report's, not raised
        ctx.recorder.fail(src_path, mode, exc)
    finally:
        executor.shutdown()
        ctx.close()
        report.duration = time.monotonic() - started
        ctx.progress.phase("done")
    return report


def _info(ctx: RunContext, store: Store, path: str) -> ObjectInfo | None:
    ctx.op()
    try:
        return with_retries(ctx, lambda: store.get_file_info(path))
    except NotFound:
        return None


def _run(
    mode: str,
    ctx: RunContext,
    executor: Executor,
    src_path: str,
    dst_path: str,
    overwrite: bool,
    dry_run: bool,
) -> None:
    recorder = ctx.recorder
    src_info = _info(ctx, ctx.src.store, src_path)
    if src_info is None:
        raise NotFound(f"{mode}_file: no file {src_path!r} on the source", path=src_path, op=mode)
    entry = entry_of(src_info)
    dst_info = _info(ctx, ctx.dst.store, dst_path)
    other: Entry | None = None
    op = "copy"
    reason = "missing on destination"
    if dst_info is not None:
        if not overwrite:
            raise AlreadyExists(
                f"{mode}_file: {dst_path!r} exists on the destination (overwrite=False)",
                path=dst_path,
                op=mode,
            )
        other = entry_of(dst_info)
        verdict = settle(ctx, make_policy(ctx), entry, other)
        if verdict.kind == "skip":
            recorder.skip(verdict.reason)
            if mode == "move" and verdict.reason not in KEEP_SOURCE_REASONS:
                _drop_settled_source(
                    mode, ctx, src_path, dst_path, verdict.reason, entry, other, dry_run
                )
            return
        op, reason = "update", verdict.reason
    action = Action(op, dst_path, reason, entry.size, src_path, entry=entry, other=other)  # type: ignore[arg-type]
    if dry_run:
        _dry(ctx, mode, action)
        return
    if op == "update" and ctx.backup is not None:
        executor.backup(dst_path, move=False)
    src_side, dst_side = ctx.src, ctx.dst
    if (
        mode == "move"
        and same_backend(src_side.store, dst_side.store)
        and src_side.store.supports(Capability.MOVE)
    ):
        _move_server_side(ctx, src_path, dst_path, overwrite)
        recorder.done("copied" if op == "copy" else "updated", dst_path)
        recorder.done("moved", src_path)
        return
    if not ctx.budget.start(entry.size):
        raise SyncError(f"max_transfer of {ctx.opts.max_transfer} bytes reached", op="transfer")
    result = with_retries(ctx, _attempts(ctx, src_path, dst_path, entry, overwrite))
    recorder.done("copied" if op == "copy" else "updated", dst_path)
    recorder.add_bytes(result.size)
    if mode == "move":
        problem = verify_copy(ctx, src_side, src_path, dst_side, dst_path, result, entry)
        if problem is not None:
            raise SyncError(
                f"move_file {src_path!r}: the source was kept because the copy could not be "
                f"verified ({problem})",
                op="move",
            )
        _remove_source(ctx, src_path)


def _drop_settled_source(
    mode: str,
    ctx: RunContext,
    src_path: str,
    dst_path: str,
    reason: str,
    entry: Entry,
    other: Entry,
    dry_run: bool,
) -> None:
    """``move_file`` whose destination already holds the file: the source goes, once the
    two are proven identical (else :class:`SyncError`, and the source stays)."""
    action = Action("delete_src", src_path, reason, entry.size, dst_path, entry=entry, other=other)
    if dry_run:
        _dry(ctx, mode, action)
        return
    problem = identical(ctx, action)
    if problem is not None:
        raise SyncError(f"move_file {src_path!r}: the source was kept: {problem}", op="move")
    _remove_source(ctx, src_path)


def _move_server_side(ctx: RunContext, src_path: str, dst_path: str, overwrite: bool) -> None:
    """One server-side move within the backend both sides share (retried if temporary)."""
    src_side, dst_side = ctx.src, ctx.dst
    root = ctx.root_store(src_side)
    ctx.op()
    with_retries(
        ctx,
        lambda: root.move(
            paths.join(src_side.store.root, src_path),
            paths.join(dst_side.store.root, dst_path),
            overwrite=overwrite,
        ),
    )


def _attempts(
    ctx: RunContext, src_path: str, dst_path: str, entry: Entry, overwrite: bool
) -> Callable[[], TransferResult]:
    """One transfer attempt per call. A create-only attempt that meets ``AlreadyExists``
    after an earlier attempt failed (a lost reply: that attempt may have published) asks
    whether the object there is the one it sent, as the drivers do after a retried
    create-only request: the same size and a hash both sides share equal to the
    source's. Ours: the copy is done. Not provably ours: the conflict stands."""
    attempt = 0

    def once() -> TransferResult:
        nonlocal attempt
        attempt += 1
        try:
            return transfer_file(
                ctx, ctx.src, src_path, ctx.dst, dst_path, entry, overwrite=overwrite
            )
        except AlreadyExists:
            if overwrite or attempt == 1 or not _is_ours(ctx, src_path, dst_path, entry):
                raise
            return TransferResult(entry.size or 0, None, False)

    return once


def _is_ours(ctx: RunContext, src_path: str, dst_path: str, entry: Entry) -> bool:
    """The destination holds what ``src_path`` holds: equal size, and an equal hash of the
    strongest kind both sides can tell without downloading (``False`` when none)."""
    info = _info(ctx, ctx.dst.store, dst_path)
    if info is None or entry.size is None or info.size != entry.size:
        return False
    there = entry_of(info)
    for kind in HASH_STRENGTH:
        if ctx.src.can_hash(kind) and ctx.dst.can_hash(kind):
            mine = side_hash(ctx, ctx.src, src_path, entry, kind)
            theirs = side_hash(ctx, ctx.dst, dst_path, there, kind)
            if mine is not None and theirs is not None:
                return mine == theirs
    return False


def _remove_source(ctx: RunContext, path: str) -> None:
    ctx.op()
    with_retries(ctx, lambda: ctx.src.store.delete(path, missing_ok=True))
    ctx.recorder.done("moved", path)


def _dry(ctx: RunContext, mode: str, action: Action) -> None:
    report = ctx.recorder.report
    report.plan = Plan(
        mode=mode,
        src=ctx.src.store,
        dst=ctx.dst.store,
        actions=[action],
        skipped=dict(report.skipped),
        options=ctx.opts.decision_dict(),
        settings=ctx.opts,
    )
