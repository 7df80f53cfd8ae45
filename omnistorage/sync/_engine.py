"""The engine: list both sides, march, decide, and either plan or execute.

``sync``/``copy``/``move`` stream: the march hands each decided action to the
executor's pools at once, so transfers start while later files are still
being compared, and nothing but pending deletes (and, with
``track_renames``, unmatched new and extra files) is held per file.
``plan`` collects the same actions instead; ``execute`` runs a plan.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime

from omnistorage.errors import NotFound
from omnistorage.models import ObjectInfo
from omnistorage.store import Store
from omnistorage.sync._context import RunContext
from omnistorage.sync._conventions import HASH_STRENGTH, Side
from omnistorage.sync._decide import Facts, Policy, Verdict, decide, quick_decide
from omnistorage.sync._entry import Entry
from omnistorage.sync._errors import SyncError
from omnistorage.sync._execute import Executor, side_hash, with_retries
from omnistorage.sync._limits import Cancelled
from omnistorage.sync._march import march
from omnistorage.sync._options import SyncOptions
from omnistorage.sync._plan import Action, Plan
from omnistorage.sync._report import SyncReport
from omnistorage.sync._setup import (
    check_stores,
    entry_filter,
    load_listings,
    make_policy,
    name_collisions,
)

__all__ = ["KEEP_SOURCE_REASONS", "Marcher", "execute_plan", "make_plan", "run_tree", "settle"]

KEEP_SOURCE_REASONS = frozenset({"exists on destination", "newer on destination"})


class Marcher:
    """Walks the two listings and turns every path into a skip or an action.

    ``emit`` receives actions (from the calling thread and from checker threads);
    ``check`` schedules evidence gathering on a checker pool.
    """

    def __init__(
        self,
        ctx: RunContext,
        mode: str,
        policy: Policy,
        emit: Callable[[Action], None],
        check: Callable[[Callable[[], None]], None],
    ) -> None:
        self.ctx = ctx
        self.mode = mode
        self.policy = policy
        self.emit = emit
        self.check = check
        self.include = entry_filter(ctx.opts.filters, datetime.now(UTC))
        self.collisions: dict[str, tuple[str, ...]] = {}
        """Paths one name on the destination (reported already): left alone."""
        self.new_files: list[Entry] = []
        self.extras: list[Entry] = []

    def run(
        self, src: Iterable[Entry], dst: Iterable[Entry], *, transfers: bool, deletes: bool
    ) -> None:
        sync = self.mode == "sync" and deletes
        track = self.ctx.opts.track_renames and self.mode == "sync"
        moving = self.mode == "move"
        skips: dict[str, int] = {}
        try:
            self._walk(src, dst, transfers, sync, track, moving, skips)
        finally:
            for reason, count in skips.items():
                self.ctx.recorder.skip(reason, count)

    def _walk(
        self,
        src: Iterable[Entry],
        dst: Iterable[Entry],
        transfers: bool,
        sync: bool,
        track: bool,
        moving: bool,
        skips: dict[str, int],
    ) -> None:
        ctx = self.ctx
        include = self.include
        cancelled = ctx.cancelled
        progress = ctx.progress
        policy = self.policy
        # The commonest verdict, inlined: equal sizes and mtimes between two sides that keep
        # mtimes (what quick_decide would say, without the call).
        fast = (
            policy.compare == "default"
            and not (policy.ignore_existing or policy.update or moving)
            and policy.src.settable_mtime
            and policy.dst.settable_mtime
        )
        window = policy.window_ns
        collisions = self.collisions
        same = 0
        checked = 0
        try:
            for s, d in march(src, dst):
                checked += 1
                if checked % 1000 == 0:
                    if cancelled():
                        raise Cancelled
                    progress.add_checked(1000)
                if collisions and (s if s is not None else d)[0] in collisions:  # type: ignore[index]
                    skips["name collision"] = skips.get("name collision", 0) + 1
                    continue
                if include is not None and self._filtered(s, d, include, sync, skips):
                    continue
                if s is None or d is None:
                    self._one_sided(s, d, transfers, sync, track, skips)
                    continue
                if not transfers:
                    continue
                if fast:
                    size = s[1]
                    if size is not None and size == d[1]:
                        s_time, d_time = s[2], d[2]
                        if (
                            s_time is not None
                            and d_time is not None
                            and -window < s_time - d_time < window
                            and not (s[4] and d[4])
                        ):
                            same += 1
                            continue
                verdict = quick_decide(s, d, policy)
                if verdict is None:
                    verdict = decide(Facts.of(s), Facts.of(d), policy)  # pure: no I/O
                    if verdict.kind not in ("skip", "transfer"):
                        self.check(self._gatherer(s, d))  # evidence needs I/O: a checker
                        continue
                if verdict.kind == "skip" and not moving:
                    skips[verdict.reason] = skips.get(verdict.reason, 0) + 1
                else:
                    self.verdict(s, d, verdict)
        finally:
            if same:
                skips["same size and mtime"] = skips.get("same size and mtime", 0) + same
        progress.add_checked(checked % 1000)

    def _filtered(
        self,
        s: Entry | None,
        d: Entry | None,
        include: Callable[[Entry], bool],
        sync: bool,
        skips: dict[str, int],
    ) -> bool:
        """Whether the filters settle this pair (then it is handled here).

        Filters never become deletions or unkept overwrites: a source file a filter
        hides leaves its path alone (its destination copy is not "missing on source"),
        and a destination file a filter hides is still the file an included source file
        would replace (an update, backed up)."""
        d_hidden = d is not None and not include(d)
        if s is not None and not include(s):
            hidden = d_hidden
        elif d_hidden and s is None:
            hidden = True
        else:
            return False
        if hidden and sync and self.ctx.opts.delete_excluded:
            self.emit(Action("delete", d.path, "excluded", d.size, entry=d))  # type: ignore[union-attr]
        else:
            skips["excluded"] = skips.get("excluded", 0) + 1
        return True

    def _one_sided(
        self,
        s: Entry | None,
        d: Entry | None,
        transfers: bool,
        sync: bool,
        track: bool,
        skips: dict[str, int],
    ) -> None:
        """A path on one side only: a deletion (sync), a copy, or a rename candidate."""
        if s is None:
            if d is None:
                skips["excluded"] = skips.get("excluded", 0) + 1
            elif sync:
                if track:
                    self.extras.append(d)
                else:
                    self.emit(Action("delete", d.path, "missing on source", d.size, entry=d))
        elif transfers:
            if track:
                self.new_files.append(s)
            else:
                self.emit(Action("copy", s.path, "missing on destination", s.size, entry=s))

    def _gatherer(self, s: Entry, d: Entry) -> Callable[[], None]:
        return lambda: self.gather(s, d)

    def gather(self, s: Entry, d: Entry) -> None:
        """Settle a pair that needs evidence (on a checker thread) and act on the verdict."""
        ctx = self.ctx
        try:
            verdict = settle(ctx, self.policy, s, d)
        except Cancelled:
            ctx.recorder.skip("cancelled")
            return
        except Exception as exc:  # noqa: BLE001 - recorded for this file; the run goes on
            ctx.recorder.fail(s.path, "check", exc)
            ctx.progress.add(errors=1)
            return
        self.verdict(s, d, verdict)

    def verdict(self, s: Entry, d: Entry, verdict: Verdict) -> None:
        if verdict.kind == "skip":
            self.ctx.recorder.skip(verdict.reason)
            if self.mode == "move" and verdict.reason not in KEEP_SOURCE_REASONS:
                self.emit(Action("delete_src", s.path, verdict.reason, s.size, entry=s, other=d))
        else:
            self.emit(Action("update", s.path, verdict.reason, s.size, entry=s, other=d))

    def finish_renames(self) -> None:
        """Match held new files with held extras (``track_renames``) and emit the rest."""
        ctx = self.ctx
        news, extras = self.new_files, self.extras
        self.new_files, self.extras = [], []
        kind = next((k for k in HASH_STRENGTH if ctx.src.can_hash(k) and ctx.dst.can_hash(k)), None)
        matched: set[str] = set()
        renames: list[Action] = []
        if kind is None and news and extras:
            ctx.recorder.warn(
                "track_renames: the two sides share no hash type; renames are copies + deletes"
            )
        elif news and extras:
            renames, matched = _match_renames(ctx, news, extras, kind or "")
        for action in renames:
            self.emit(action)
        renamed_to = {a.path for a in renames}
        for entry in news:
            if entry.path not in renamed_to:
                self.emit(
                    Action("copy", entry.path, "missing on destination", entry.size, entry=entry)
                )
        for entry in extras:
            if entry.path not in matched:
                self.emit(
                    Action("delete", entry.path, "missing on source", entry.size, entry=entry)
                )


def settle(ctx: RunContext, policy: Policy, s: Entry, d: Entry) -> Verdict:
    """Gather evidence (local hashes, ``stat``) until :func:`decide` says skip or transfer.
    Each side's file is at its entry's path. Raises what the I/O raises."""
    src_facts, dst_facts = Facts.of(s), Facts.of(d)
    while True:
        verdict = decide(src_facts, dst_facts, policy)
        if verdict.kind in ("skip", "transfer"):
            return verdict
        is_src = verdict.side == "src"
        facts = src_facts if is_src else dst_facts
        side = ctx.src if is_src else ctx.dst
        path = facts.entry.path
        if verdict.kind == "need_hash":
            kind = verdict.hash_kind
            facts.hashed.add(kind)
            hashes = ctx.hashes_for(side)
            if hashes is not None:
                facts.hashes[kind] = with_retries(
                    ctx, functools.partial(hashes.compute, path, kind)
                )
        else:
            facts.add_meta(_stat(ctx, side, path))


def _stat(ctx: RunContext, side: Side, path: str) -> ObjectInfo | None:
    ctx.op()
    try:
        return with_retries(ctx, lambda: side.store.get_file_info(path))
    except NotFound:
        return None


def _match_renames(
    ctx: RunContext, news: list[Entry], extras: list[Entry], kind: str
) -> tuple[list[Action], set[str]]:
    """Rename actions for new source files whose size and ``kind`` hash equal an extra
    destination file's; the set of extras they consume."""
    by_size: dict[int, list[Entry]] = {}
    for entry in extras:
        if entry.size is not None:
            by_size.setdefault(entry.size, []).append(entry)
    actions: list[Action] = []
    used: set[str] = set()
    dst_hash: dict[str, str | None] = {}
    for entry in news:
        candidates = by_size.get(entry.size) if entry.size is not None else None
        if not candidates:
            continue
        try:
            src_digest = side_hash(ctx, ctx.src, entry.path, entry, kind)
        except Exception as exc:  # noqa: BLE001 - no rename for this file; it is copied
            ctx.recorder.fail(entry.path, "check", exc)
            continue
        if src_digest is None:
            continue
        for candidate in candidates:
            if candidate.path in used:
                continue
            if candidate.path not in dst_hash:
                try:
                    dst_hash[candidate.path] = side_hash(
                        ctx, ctx.dst, candidate.path, candidate, kind
                    )
                except Exception as exc:  # noqa: BLE001 - that extra is then just deleted
                    ctx.recorder.fail(candidate.path, "check", exc)
                    dst_hash[candidate.path] = None
            if dst_hash[candidate.path] == src_digest:
                used.add(candidate.path)
                actions.append(
                    Action(
                        "rename",
                        entry.path,
                        f"renamed (same size and {kind})",
                        entry.size,
                        source=candidate.path,
                        entry=candidate,
                    )
                )
                break
    return actions, used


# ---------------------------------------------------------------- running


def run_tree(mode: str, src: Store, dst: Store, opts: SyncOptions, *, dry_run: bool) -> SyncReport:
    """sync / copy / move (streaming), or their dry run (a plan in the report)."""
    check_stores(mode, src, dst, opts)
    started = time.monotonic()
    report = SyncReport(mode=mode, dry_run=dry_run)
    ctx = RunContext.create(src, dst, opts, report)
    try:
        if dry_run:
            made = _plan(mode, ctx)
            report.plan = made
        else:
            _stream(mode, ctx)
    finally:
        ctx.close()
        ctx.recorder.finish()
        report.duration = time.monotonic() - started
        ctx.progress.phase("done")
    return report


def make_plan(mode: str, src: Store, dst: Store, opts: SyncOptions) -> Plan:
    check_stores(mode, src, dst, opts)
    report = SyncReport(mode=mode, dry_run=True)
    ctx = RunContext.create(src, dst, opts, report)
    try:
        return _plan(mode, ctx)
    finally:
        ctx.close()
        ctx.progress.phase("done")


def _plan(mode: str, ctx: RunContext) -> Plan:
    report = ctx.recorder.report
    made = Plan(
        mode=mode,
        src=ctx.src.store,
        dst=ctx.dst.store,
        options=ctx.opts.decision_dict(),
        settings=ctx.opts,
    )
    listings = load_listings(ctx, (ctx.src.store, ctx.dst.store), ("source", "destination"))
    if listings is not None:
        policy = make_policy(ctx)
        actions: list[Action] = []
        lock = threading.Lock()

        def emit(action: Action) -> None:
            with lock:
                actions.append(action)

        checks = Executor(ctx, mode)
        marcher = Marcher(ctx, mode, policy, emit, checks.check)
        marcher.collisions = name_collisions(ctx, listings, ctx.dst.store)
        ctx.progress.phase("checking")
        try:
            marcher.run(*listings, transfers=True, deletes=True)
            checks.drain()
            marcher.finish_renames()
        except Cancelled:
            report.cancelled = True
            ctx.recorder.fail(None, "sync", SyncError("cancelled", op="sync"))
        finally:
            checks.shutdown()
            for listing in listings:
                listing.close()
        actions.sort(key=lambda a: (a.op == "delete", a.path))
        made.actions = actions
    made.skipped = dict(report.skipped)
    made.errors = list(report.errors)
    made.listed = dict(report.listed)
    made.warnings = list(report.warnings)
    return made


def _stream(mode: str, ctx: RunContext) -> None:
    opts = ctx.opts
    report = ctx.recorder.report
    listings = load_listings(ctx, (ctx.src.store, ctx.dst.store), ("source", "destination"))
    if listings is None:
        report.cancelled = ctx.cancelled()
        return
    policy = make_policy(ctx)
    executor = Executor(ctx, mode)
    pending_deletes: list[Action] = []
    delete_mode = opts.delete_mode if mode == "sync" else "after"

    lock = threading.Lock()
    planned = [0, 0]  # actions, bytes to transfer

    def emit(action: Action) -> None:
        nbytes = (action.size or 0) if action.op in ("copy", "update") else 0
        with lock:
            planned[0] += 1
            planned[1] += nbytes
        ctx.progress.add_planned(1, nbytes)
        if action.op == "delete":
            if delete_mode == "during":
                if executor.deletes_allowed(1, action.size or 0):
                    executor.delete(action)
            else:
                with lock:
                    pending_deletes.append(action)
        else:
            executor.transfer(action)

    marcher = Marcher(ctx, mode, policy, emit, executor.check)
    try:
        marcher.collisions = name_collisions(ctx, listings, ctx.dst.store)
        ctx.progress.phase("checking")
        if delete_mode == "before":
            marcher.run(*listings, transfers=False, deletes=True)
            executor.run_deletes(pending_deletes)
            pending_deletes.clear()
            ctx.progress.phase("checking")
            marcher.run(*listings, transfers=True, deletes=False)
        else:
            marcher.run(*listings, transfers=True, deletes=True)
        executor.drain()
        if opts.track_renames:
            marcher.finish_renames()
        ctx.progress.phase("transferring")
        ctx.progress.set_totals(planned[0], planned[1])
        executor.drain()
        if pending_deletes:
            executor.run_deletes(pending_deletes)
    except Cancelled:
        executor.cancelled = True
    finally:
        executor.shutdown()
        for listing in listings:
            listing.close()
    if executor.cancelled or ctx.cancelled():
        report.cancelled = True
        if pending_deletes:
            ctx.recorder.skip("not deleted: cancelled", len(pending_deletes))
        ctx.recorder.fail(None, "sync", SyncError("cancelled", op="sync"))


def execute_plan(made: Plan, runtime: dict[str, object]) -> SyncReport:
    """Carry out ``made`` (see :func:`omnistorage.sync.execute`)."""
    base = made.settings or SyncOptions()
    opts = replace(base, **runtime)  # type: ignore[arg-type]
    mode = made.mode
    check_stores(mode, made.src, made.dst, opts)
    started = time.monotonic()
    report = SyncReport(mode=mode)
    report.errors.extend(made.errors)
    report.listed = dict(made.listed)
    report.warnings = list(made.warnings)
    ctx = RunContext.create(made.src, made.dst, opts, report)
    ctx.recorder.error_count = len(report.errors)
    executor = Executor(ctx, mode)
    delete_mode = opts.delete_mode if mode == "sync" else "after"
    deletes = [a for a in made.actions if a.op == "delete"]
    others = [a for a in made.actions if a.op != "delete"]
    total = sum(a.size or 0 for a in others if a.op in ("copy", "update"))
    ctx.progress.set_totals(len(made.actions), total)
    try:
        if delete_mode == "before":
            executor.run_deletes(deletes)
        ctx.progress.phase("transferring")
        for action in others:
            if ctx.cancelled():
                raise Cancelled
            executor.transfer(action)
        executor.drain()
        if delete_mode != "before":
            executor.run_deletes(deletes)
    except Cancelled:
        executor.cancelled = True
    finally:
        executor.shutdown()
        ctx.close()
        ctx.recorder.finish()
        report.duration = time.monotonic() - started
        ctx.progress.phase("done")
    if executor.cancelled or ctx.cancelled():
        report.cancelled = True
        ctx.recorder.fail(None, "sync", SyncError("cancelled", op="sync"))
    return report
