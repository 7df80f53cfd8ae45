"""bisync: two-way sync with the previous listings kept as state.

Each run lists both sides and merges the two listings with the state of the
last good run, path by path (all three sorted, so memory stays bounded). Per
side, a path is *new* (not in the state), *modified* (size, or ETag — else
mtime — differs from the state), *deleted* (in the state, gone now) or
unchanged. Then:

- changed on one side only: copied to the other;
- deleted on one side, unchanged on the other: deleted there too (the state
  proves the deletion); deleted on one side and changed on the other: the
  change wins and is copied back;
- new or changed on both sides: nothing if the two files compare equal (the
  rule of :func:`~omnistorage.sync.sync`), else a **conflict**, resolved by
  ``conflict``: ``"keep_both"`` (the default, as rclone's bisync: both
  versions are kept on both sides, path1's as ``<path>..path1`` and path2's
  as ``<path>..path2``, or ``..path1-2``/``..path2-2`` … when those names
  are taken; no edit is ever dropped), ``"newer"`` (later mtime wins; a tie
  goes to path1), ``"larger"`` (a tie goes to path1), ``"path1"``,
  ``"path2"``, ``"skip"`` (left alone and reported again next run) or
  ``"error"`` (an error for that path). Every conflict is reported loudly:
  in ``report.conflicts``, as a warning in ``report.warnings`` and in the
  ``omnistorage.sync`` log (WARNING), whatever the strategy.
- **filters never become deletions**: a path whose file a filter hides on
  either side (a path rule, ``min_size``/``max_size``, ``min_age``/``max_age``)
  is left alone on both sides, and the state keeps what it proved about it.
  Only the state proves a deletion: a file absent from a listing because a
  filter hid it is never "deleted".

Without a state (the first run) nothing is deleted: files on one side are
copied to the other and files on both that differ are conflicts.

Safety: no deletes after any error in the run, none beyond ``max_delete``
files, ``max_delete_size`` bytes or ``max_delete_percent`` of a side's files
(default 50 %, as rclone's bisync). The new state is saved only after a run
without errors (the next run then starts from the old state, which is safe:
copies already made compare equal). A state is outside input: every line is
checked against its schema (a valid key, sizes and mtimes as integers, an
ETag and an MD5 as text); a damaged state is a run-level error, so it proves
nothing and nothing is deleted. ``dry_run`` changes nothing, saves no state
and puts the plan of each direction in its report.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from omnistorage.capabilities import Capability
from omnistorage.errors import CapabilityNotSupported
from omnistorage.store import Store
from omnistorage.sync._context import Recorder, RunContext
from omnistorage.sync._conventions import HASH_STRENGTH, Side
from omnistorage.sync._engine import settle
from omnistorage.sync._entry import Entry, entry_of
from omnistorage.sync._errors import SyncError
from omnistorage.sync._execute import Pool, with_retries
from omnistorage.sync._limits import Cancelled
from omnistorage.sync._march import SortedListing, march
from omnistorage.sync._options import SyncOptions
from omnistorage.sync._plan import Action, Plan
from omnistorage.sync._report import BisyncReport, Conflict, SyncReport
from omnistorage.sync._setup import (
    entry_filter,
    load_listings,
    make_policy,
    name_collisions,
    overlapping,
)
from omnistorage.sync._state import (
    StateRecord,
    check_location,
    read_state,
    state_lock,
    write_state,
)
from omnistorage.sync._transfer import transfer_file

__all__ = ["CONFLICT_STRATEGIES", "bisync", "conflict_names"]

_log = logging.getLogger("omnistorage.sync")

CONFLICT_STRATEGIES = ("keep_both", "newer", "larger", "path1", "path2", "skip", "error")

_BISYNC_OPTIONS = frozenset(
    {
        "compare",
        "filters",
        "checkers",
        "transfers",
        "retries",
        "retry_backoff",
        "bwlimit",
        "tpslimit",
        "max_transfer",
        "cutoff_mode",
        "cancel",
        "progress",
        "record_paths",
        "hash_cache",
        "hash_type",
        "modify_window",
        "max_delete",
        "max_delete_size",
        "listing_buffer",
        "spill_dir",
    }
)


def bisync(
    path1: Store,
    path2: Store,
    *,
    state: Any,
    conflict: str = "keep_both",
    dry_run: bool = False,
    max_delete_percent: float = 50.0,
    **opts: Any,
) -> BisyncReport:
    """Two-way sync of ``path1`` and ``path2`` (see the module docstring).

    ``state`` is a local file path or a ``(Store, key)`` pair; it need not exist before the
    first run. Returns a :class:`BisyncReport`; failures are in its errors, never raised.
    Bad arguments raise ``TypeError``/``ValueError`` and stores that cannot list, read,
    write and delete raise ``CapabilityNotSupported``, before any I/O; a state made for
    other stores, or damaged, is a run-level error in the report.
    """
    location = check_location(state)
    if conflict not in CONFLICT_STRATEGIES:
        raise ValueError(
            f"bisync(conflict=...) must be one of {', '.join(CONFLICT_STRATEGIES)}, "
            f"got {conflict!r}"
        )
    if not isinstance(max_delete_percent, (int, float)) or not 0 <= max_delete_percent <= 100:
        raise ValueError("bisync(max_delete_percent=...) must be between 0 and 100")
    options = SyncOptions.parse("bisync", opts, allowed=_BISYNC_OPTIONS)
    for store in (path1, path2):
        for capability in (Capability.LIST, Capability.READ, Capability.WRITE, Capability.DELETE):
            if not store.supports(capability):
                raise CapabilityNotSupported(
                    f"bisync: {store!r} does not support {capability.value}",
                    backend=store.unwrap().name,
                    op="bisync",
                )
    if overlapping(path1, path2):
        raise ValueError(f"bisync: {path1!r} and {path2!r} overlap")
    started = time.monotonic()
    report = BisyncReport(dry_run=dry_run)
    run_report = SyncReport(mode="bisync")
    ctx = RunContext.create(path1, path2, options, run_report)
    run = _Bisync(ctx, report, conflict, dry_run, max_delete_percent / 100.0)
    try:
        with state_lock(location):
            run.run(location)
    except Cancelled:
        report.cancelled = True
    except SyncError as exc:
        ctx.recorder.fail(None, "bisync", exc)
    finally:
        run.shutdown()
        ctx.close()
        run.to1.finish()
        run.to2.finish()
        ctx.progress.phase("done")
    if report.cancelled or ctx.cancelled():
        report.cancelled = True
        ctx.recorder.fail(None, "bisync", SyncError("cancelled", op="bisync"))
    report.errors = list(run_report.errors)
    report.conflicts.sort(key=lambda c: c.path)
    report.duration = time.monotonic() - started
    return report


_RESOLVED = {
    "path1": "path1's version won, path2's was replaced",
    "path2": "path2's version won, path1's was replaced",
    "keep_both": "both versions kept on both sides (..path1 and ..path2)",
    "skipped": "left alone on both sides",
    "error": "left alone on both sides, reported as an error",
}


def conflict_names(path: str, n: int) -> tuple[str, str]:
    """The names ``keep_both`` gives path1's and path2's versions of ``path`` (rclone's
    ``..path1``/``..path2``; ``-n`` added from the second pair on)."""
    suffix = "" if n == 1 else f"-{n}"
    return f"{path}..path1{suffix}", f"{path}..path2{suffix}"


def _changed(prior: Entry | None, now: Entry | None) -> str:
    if now is None:
        return "none" if prior is None else "deleted"
    if prior is None:
        return "new"
    if prior.size != now.size:
        return "modified"
    if prior.etag is not None and now.etag is not None:
        same = prior.etag == now.etag
    else:
        same = prior.mtime == now.mtime
    p_md5 = (prior.hashes or {}).get("md5")
    n_md5 = (now.hashes or {}).get("md5")
    if p_md5 is not None and n_md5 is not None and p_md5 != n_md5:
        same = False
    return "same" if same else "modified"


def _three_way(
    one: SortedListing, two: SortedListing, records: Iterator[StateRecord] | None
) -> Iterator[tuple[str, Entry | None, Entry | None, StateRecord | None]]:
    state = records if records is not None else iter(())
    record = next(state, None)
    for a, b in march(one, two):
        path = a.path if a is not None else b.path  # type: ignore[union-attr]
        while record is not None and record.path < path:
            yield record.path, None, None, record
            record = next(state, None)
        if record is not None and record.path == path:
            yield path, a, b, record
            record = next(state, None)
        else:
            yield path, a, b, None
    while record is not None:
        yield record.path, None, None, record
        record = next(state, None)


class _Bisync:
    def __init__(
        self,
        ctx: RunContext,
        report: BisyncReport,
        conflict: str,
        dry_run: bool,
        delete_fraction: float,
    ) -> None:
        self.ctx = ctx
        self.report = report
        self.conflict = conflict
        self.dry_run = dry_run
        self.delete_fraction = delete_fraction
        record = ctx.opts.record_paths
        self.to2 = Recorder(report.path1_to_path2, record_paths=record)
        self.to1 = Recorder(report.path2_to_path1, record_paths=record)
        self.transfers = Pool(ctx.opts.transfers, "omnistorage-bisync-transfer")
        self.checks = Pool(ctx.opts.checkers, "omnistorage-bisync-check")
        self.lock = threading.Lock()
        self.post: dict[str, tuple[Entry | None, Entry | None]] = {}
        self.keep_prior: dict[str, StateRecord] = {}
        self.deletes1: list[Entry] = []
        self.deletes2: list[Entry] = []
        self.plan1to2: list[Action] = []
        self.plan2to1: list[Action] = []
        self.planned = 0
        self.include: Callable[[Entry], bool] | None = None

    # ------------------------------------------------------------ errors

    @property
    def failed(self) -> bool:
        return self.ctx.recorder.failed or self.to1.failed or self.to2.failed

    def shutdown(self) -> None:
        self.checks.drain()
        self.transfers.drain()
        self.checks.shutdown()
        self.transfers.shutdown()

    # ------------------------------------------------------------ the run

    def run(self, location: Any) -> None:
        ctx = self.ctx
        names = (ctx.src.store.native_path(), ctx.dst.store.native_path())
        records = read_state(location, *names)
        self.report.first_run = records is None
        listings = load_listings(ctx, (ctx.src.store, ctx.dst.store), ("path1", "path2"))
        if listings is None:
            if records is not None:
                records.close()  # type: ignore[attr-defined]
            return
        self.policy = make_policy(ctx)
        # Files changed on both sides are compared by content where a hash can tell (an
        # mtime difference alone is no conflict when the bytes are the same).
        kind = next((k for k in HASH_STRENGTH if ctx.src.can_hash(k) and ctx.dst.can_hash(k)), None)
        if kind is not None and self.policy.compare == "default":
            self.policy = dataclasses.replace(self.policy, compare="checksum", checksum_kind=kind)
        include = self.include = entry_filter(ctx.opts.filters, datetime.now(UTC))
        counts = [listings[0].count, listings[1].count]
        ctx.progress.phase("checking")
        try:
            collisions = name_collisions(ctx, listings, ctx.src.store, ctx.dst.store)
            for path, c1, c2, record in _three_way(listings[0], listings[1], records):
                if ctx.cancelled():
                    raise Cancelled
                if collisions and path in collisions:  # reported: left alone on both sides
                    self._hidden(path, record, "name collision")
                    continue
                if include is not None and (
                    (c1 is not None and not include(c1)) or (c2 is not None and not include(c2))
                ):
                    self._hidden(path, record, "excluded")
                    continue
                self._path(path, c1, c2, record)
            self.checks.drain()
            ctx.progress.set_totals(self.planned + len(self.deletes1) + len(self.deletes2), None)
            ctx.progress.phase("transferring")
            self.transfers.drain()
            self.checks.drain()
            self.transfers.drain()
            self._deletes(counts)
            if self.dry_run:
                self._plans()
            elif not self.failed and not ctx.cancelled():
                write_state(location, *names, self._new_state(listings))
                self.report.state_saved = True
        finally:
            for listing in listings:
                listing.close()

    def _hidden(self, path: str, record: StateRecord | None, why: str) -> None:
        """A filter hides the file on one side or both: it is left alone on both sides
        (a hidden file is neither copied nor deleted), and the state keeps what it proved
        about the path, so a later run without the filter still knows the truth."""
        self.ctx.recorder.skip(why)
        if record is not None:
            with self.lock:
                self.keep_prior[path] = record

    def _path(
        self, path: str, c1: Entry | None, c2: Entry | None, record: StateRecord | None
    ) -> None:
        p1 = record.one if record is not None else None
        p2 = record.two if record is not None else None
        ch1, ch2 = _changed(p1, c1), _changed(p2, c2)
        if c1 is not None and c2 is not None:
            if ch1 == "same" and ch2 == "same":
                return
            if ch2 == "same":
                self._copy(c1, to_two=True, reason=f"{ch1} on path1")
            elif ch1 == "same":
                self._copy(c2, to_two=False, reason=f"{ch2} on path2")
            else:
                self.checks.submit(lambda: self._both_changed(path, c1, c2, record))
            return
        if c1 is not None:
            if p2 is not None and ch1 == "same":
                self.deletes1.append(c1)
            else:
                self._copy(c1, to_two=True, reason="missing on path2")
            return
        if c2 is not None:
            if p1 is not None and ch2 == "same":
                self.deletes2.append(c2)
            else:
                self._copy(c2, to_two=False, reason="missing on path1")

    def _both_changed(self, path: str, c1: Entry, c2: Entry, record: StateRecord | None) -> None:
        ctx = self.ctx
        try:
            verdict = settle(ctx, self.policy, c1, c2)
        except Cancelled:
            return
        except Exception as exc:  # noqa: BLE001 - recorded for this path
            ctx.recorder.fail(path, "check", exc)
            return
        if verdict.kind == "skip":  # changed the same way on both sides: no conflict
            self.to2.skip("identical on both sides")
            with self.lock:
                self.post[path] = (c1, c2)
            return
        strategy = self.conflict
        if strategy == "newer":
            winner = "path2" if (c2.mtime or 0) > (c1.mtime or 0) else "path1"
        elif strategy == "larger":
            winner = "path2" if (c2.size or 0) > (c1.size or 0) else "path1"
        else:
            winner = strategy
        detail = verdict.reason
        if winner == "path1":
            self._conflict(path, "path1", detail)
            self._copy(c1, to_two=True, reason="conflict: path1 wins")
        elif winner == "path2":
            self._conflict(path, "path2", detail)
            self._copy(c2, to_two=False, reason="conflict: path2 wins")
        elif winner == "skip":
            self._conflict(path, "skipped", detail)
            if record is not None:
                with self.lock:
                    self.keep_prior[path] = record
        elif winner == "error":
            self._conflict(path, "error", detail)
            ctx.recorder.fail(
                path, "bisync", SyncError(f"conflict on {path!r}: {detail}", op="bisync")
            )
        else:
            self._conflict(path, "keep_both", detail)
            if self.dry_run:
                first, second = conflict_names(path, 1)
                self._planned(Action("copy", first, "conflict: keep both"), True)
                self._planned(Action("copy", second, "conflict: keep both"), False)
            else:
                self.transfers.submit(lambda: self._keep_both(path, c1, c2))

    def _conflict(self, path: str, resolution: str, detail: str) -> None:
        message = f"conflict on {path!r} (changed on both sides: {detail}): {_RESOLVED[resolution]}"
        _log.warning("bisync %s", message)
        with self.lock:
            self.report.conflicts.append(Conflict(path, resolution, detail))
            self.report.warnings.append(message)

    def _planned(self, action: Action, to_two: bool) -> None:
        with self.lock:
            (self.plan1to2 if to_two else self.plan2to1).append(action)

    # ------------------------------------------------------------ transfers

    def _sides(self, to_two: bool) -> tuple[Side, Side, Recorder]:
        ctx = self.ctx
        return (ctx.src, ctx.dst, self.to2) if to_two else (ctx.dst, ctx.src, self.to1)

    def _copy(self, entry: Entry, *, to_two: bool, reason: str) -> None:
        op = "copy" if reason.startswith("missing") else "update"
        action = Action(op, entry.path, reason, entry.size, entry=entry)  # type: ignore[arg-type]
        if self.dry_run:
            self._planned(action, to_two)
            return
        with self.lock:
            self.planned += 1
        self.transfers.submit(lambda: self._do_copy(action, to_two))

    def _do_copy(self, action: Action, to_two: bool) -> None:
        ctx = self.ctx
        frm, to, recorder = self._sides(to_two)
        path = action.path
        if ctx.cancelled():
            return
        try:
            if not ctx.budget.start(action.size):
                raise SyncError(f"max_transfer of {ctx.opts.max_transfer} bytes reached")
            try:
                result = with_retries(
                    ctx, lambda: transfer_file(ctx, frm, path, to, path, action.entry)
                )
            finally:
                ctx.budget.finish(action.size)
            copied = entry_of(with_retries(ctx, lambda: to.store.get_file_info(path)))
        except Cancelled:
            return
        except Exception as exc:  # noqa: BLE001 - recorded for this path
            recorder.fail(path, "copy", exc)
            return
        recorder.done("copied" if action.op == "copy" else "updated", path)
        recorder.add_bytes(result.size)
        ctx.progress.add(files=1)
        with self.lock:
            self.post[path] = (action.entry, copied) if to_two else (copied, action.entry)

    def _keep_both(self, path: str, c1: Entry, c2: Entry) -> None:
        ctx = self.ctx
        one, two = ctx.src.store, ctx.dst.store
        try:
            n = 1
            while True:
                first, second = conflict_names(path, n)
                if not any(s.is_file(p) for s in (one, two) for p in (first, second)):
                    break
                n += 1
            one.move(path, first, overwrite=False)
            two.move(path, second, overwrite=False)
            transfer_file(ctx, ctx.src, first, ctx.dst, first, None, overwrite=False)
            self.to2.done("copied", first)
            transfer_file(ctx, ctx.dst, second, ctx.src, second, None, overwrite=False)
            self.to1.done("copied", second)
        except Cancelled:
            return
        except Exception as exc:  # noqa: BLE001 - recorded for this path
            ctx.recorder.fail(path, "bisync", exc)
            return
        with self.lock:
            self.post[path] = (None, None)

    # ------------------------------------------------------------ deletes

    def _deletes(self, counts: list[int]) -> None:
        ctx = self.ctx
        todo = [(self.deletes1, counts[0]), (self.deletes2, counts[1])]
        total = len(self.deletes1) + len(self.deletes2)
        if not total:
            return
        if self.failed or ctx.cancelled():
            ctx.recorder.skip("not deleted: errors in this run", total)
            return
        opts = ctx.opts
        size = sum(e.size or 0 for e in self.deletes1 + self.deletes2)
        why = None
        if opts.max_delete is not None and total > opts.max_delete:
            why = f"{total} deletes exceed max_delete={opts.max_delete}"
        elif opts.max_delete_size is not None and size > opts.max_delete_size:
            why = f"{size} bytes of deletes exceed max_delete_size={opts.max_delete_size}"
        else:
            for entries, listed in todo:
                if listed and len(entries) > self.delete_fraction * listed:
                    why = (
                        f"{len(entries)} of {listed} files of one side would be deleted, more "
                        f"than max_delete_percent={self.delete_fraction * 100:g}"
                    )
        if why is not None:
            ctx.recorder.fail(None, "delete", SyncError(f"deletes stopped: {why}", op="delete"))
            return
        ctx.progress.phase("deleting")
        for entry in self.deletes1:  # still on path1, deleted on path2 since the last run
            self._delete(entry, from_two=False)
        for entry in self.deletes2:
            self._delete(entry, from_two=True)
        self.checks.drain()

    def _delete(self, entry: Entry, *, from_two: bool) -> None:
        ctx = self.ctx
        store = ctx.dst.store if from_two else ctx.src.store
        recorder = self.to2 if from_two else self.to1
        action = Action("delete", entry.path, "deleted on the other side", entry.size)
        if self.dry_run:
            self._planned(action, from_two)
            return

        def run() -> None:
            try:
                ctx.op()
                with_retries(ctx, lambda: store.delete(entry.path, missing_ok=True))
            except Exception as exc:  # noqa: BLE001 - recorded for this path
                recorder.fail(entry.path, "delete", exc)
                return
            recorder.done("deleted", entry.path)
            with self.lock:
                self.post[entry.path] = (None, None)

        self.checks.submit(run)

    # ------------------------------------------------------------ results

    def _plans(self) -> None:
        ctx = self.ctx
        for actions, src, dst, report in (
            (self.plan1to2, ctx.src.store, ctx.dst.store, self.report.path1_to_path2),
            (self.plan2to1, ctx.dst.store, ctx.src.store, self.report.path2_to_path1),
        ):
            actions.sort(key=lambda a: (a.op == "delete", a.path))
            report.dry_run = True
            report.plan = Plan(mode="bisync", src=src, dst=dst, actions=actions)

    def _new_state(self, listings: list[SortedListing]) -> Iterator[StateRecord]:
        include = self.include
        post, keep = self.post, self.keep_prior
        for path, c1, c2, _ in _three_way(listings[0], listings[1], None):
            if path in keep:
                yield keep[path]
                continue
            if path in post:
                one, two = post[path]
            else:
                one, two = c1, c2
            if include is not None and ((one and not include(one)) or (two and not include(two))):
                continue
            if one is None and two is None:
                continue
            yield StateRecord(path, one, two)
