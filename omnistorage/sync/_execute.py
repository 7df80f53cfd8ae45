"""Execute: worker pools that carry out actions, with retries, limits and the delete rules.

- **Pools.** ``checkers`` threads gather evidence and run deletes,
  ``transfers`` threads copy. Each pool takes at most four tasks per worker
  ahead, so the march blocks instead of queueing millions of actions.
  Between two stores that both read locally (``Features.reads_local``), files
  under 1 MiB are copied by the thread that planned them (the march, or the
  checker that settled the file), at once and one at a time: such a copy is a
  dozen short system calls, each of which hands the GIL over, and threads
  doing them only trade the GIL back and forth (5,000 small files: 0.9 s with
  one thread, 1.25 s with two, 1.7-2.0 s with sixteen; a thread of their own
  fed by the march still cost 12 % more than copying where they are planned).
  Larger files still go to the ``transfers`` threads, whose long reads and
  writes run without the GIL.
- **Retries.** A failure is retried only when it is a ``StorageError`` with
  ``temporary`` set, up to ``retries`` times per file, with exponential
  backoff (``retry_backoff`` seconds, doubled each time, with jitter). Other
  failures are recorded at once.
- **Deletes.** None at all once any error happened in the run (listing
  errors and foreign keys included); none beyond ``max_delete`` files or
  ``max_delete_size`` bytes (going over stops the deletes with a
  :class:`~omnistorage.sync.SyncError`). With ``backup_dir`` a file about to
  be deleted is moved there instead, and a file about to be overwritten is
  copied there first (server-side when both stores share a backend). A
  backup that fails (a missing bucket or folder, a refused permission, any
  error of the backup store) fails that file: it is neither overwritten nor
  deleted, and the run reports the error (so no later delete runs either).
  Only a file the destination no longer holds has nothing to keep.
- **move** deletes a source file only after its copy was verified (size, and
  a hash both sides share), or, when the destination already held it, after
  the two were compared by size and, where one is shared, by hash.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from omnistorage import paths
from omnistorage.errors import NotFound, StorageError
from omnistorage.models import HashType
from omnistorage.sync._context import RunContext, same_backend
from omnistorage.sync._conventions import HASH_STRENGTH, Side, etag_md5, metadata_md5
from omnistorage.sync._entry import Entry
from omnistorage.sync._errors import SyncError
from omnistorage.sync._limits import Cancelled, MaxTransferReached, sleep_unless
from omnistorage.sync._plan import Action
from omnistorage.sync._transfer import transfer_file, verify_copy

__all__ = ["Executor", "with_retries"]

T = TypeVar("T")

_AHEAD = 4
_TRANSFER_BATCH = 16
_TRANSFER_BATCH_BYTES = 4 << 20
_CHECK_BATCH = 8
_LOCAL_SMALL = 1 << 20  # below this, a local-to-local copy is system calls, not bytes
_MAX_BACKOFF = 30.0


def with_retries(ctx: RunContext, fn: Callable[[], T]) -> T:
    """``fn()``, retried on temporary ``StorageError`` (see the module docstring)."""
    attempt = 0
    while True:
        try:
            return fn()
        except StorageError as exc:
            if not exc.temporary or attempt >= ctx.opts.retries or isinstance(exc, SyncError):
                raise
            delay = min(_MAX_BACKOFF, ctx.opts.retry_backoff * (2**attempt))
            attempt += 1
            sleep_unless(delay * random.uniform(0.5, 1.0), ctx.cancelled)


class Pool:
    """A thread pool fed in batches, that blocks submitters once ``workers * 4`` batches wait.

    A task is small (one file of a few KiB is copied in tens of microseconds), so handing
    each one to a thread costs more than doing it: tasks are grouped into batches of up to
    ``batch`` tasks or ``batch_weight`` (bytes), each batch run by one thread in order.
    :meth:`flush` hands over a partial batch; :meth:`drain` flushes and waits.
    """

    def __init__(self, workers: int, name: str, *, batch: int = 1, batch_weight: int = 0) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._slots = threading.BoundedSemaphore(workers * _AHEAD)
        self._idle = threading.Condition()
        self._pending = 0
        self._batch_size = max(1, batch)
        self._batch_weight = batch_weight
        self._batch: list[Callable[[], None]] = []
        self._weight = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], None], weight: int = 0) -> None:
        """Queue ``fn``; its batch goes to a thread once full (or on :meth:`flush`)."""
        with self._lock:
            self._batch.append(fn)
            self._weight += weight
            if len(self._batch) < self._batch_size and (
                not self._batch_weight or self._weight < self._batch_weight
            ):
                return
            batch, self._batch, self._weight = self._batch, [], 0
        self._dispatch(batch)

    def flush(self) -> None:
        with self._lock:
            batch, self._batch, self._weight = self._batch, [], 0
        if batch:
            self._dispatch(batch)

    def _dispatch(self, batch: list[Callable[[], None]]) -> None:
        self._slots.acquire()
        with self._idle:
            self._pending += 1
        try:
            self._executor.submit(self._run, batch)
        except BaseException:
            self._release()
            raise

    def _run(self, batch: list[Callable[[], None]]) -> None:
        try:
            for fn in batch:
                fn()
        finally:
            self._release()

    def _release(self) -> None:
        self._slots.release()
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    def drain(self) -> None:
        self.flush()
        with self._idle:
            while self._pending:
                self._idle.wait()

    def shutdown(self) -> None:
        self.drain()
        self._executor.shutdown(wait=True)


class Executor:
    """Carries out the actions of one run (``mode``: sync, copy or move)."""

    def __init__(self, ctx: RunContext, mode: str) -> None:
        self.ctx = ctx
        self.mode = mode
        opts = ctx.opts
        self._transfers = Pool(
            opts.transfers,
            "omnistorage-sync-transfer",
            batch=_TRANSFER_BATCH,
            batch_weight=_TRANSFER_BATCH_BYTES,
        )
        self._checkers = Pool(opts.checkers, "omnistorage-sync-check", batch=_CHECK_BATCH)
        self._small_here = ctx.src.reads_local and ctx.dst.reads_local and opts.transfers > 1
        self._small_lock = threading.Lock()  # one small copy at a time, as one thread did
        self._lock = threading.Lock()
        self._cutoff_reported = False
        self.cancelled = False
        self._deleted = 0
        self._deleted_bytes = 0
        self._deletes_stopped = False

    # ------------------------------------------------------------ scheduling

    def check(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` (evidence gathering) on a checker thread."""
        self._checkers.submit(fn)

    def transfer(self, action: Action) -> None:
        """Run a copy, update, rename or delete_src on a transfer thread (a small file
        between local stores: here and now, see the module docstring)."""
        size = action.size or 0
        if self._small_here and size < _LOCAL_SMALL:
            with self._small_lock:
                self._guarded(action)
            return
        self._transfers.submit(lambda: self._guarded(action), size)

    def delete(self, action: Action) -> None:
        """Run a delete on a checker thread (the caller checked the delete rules)."""
        self._checkers.submit(lambda: self._guarded(action))

    def drain(self) -> None:
        """Wait until every scheduled task finished (checkers first: they schedule transfers)."""
        self._checkers.drain()
        self._transfers.drain()
        self._checkers.drain()

    def shutdown(self) -> None:
        self.drain()
        self._checkers.shutdown()
        self._transfers.shutdown()

    # ------------------------------------------------------------ delete rules

    def deletes_allowed(self, count: int, total: int) -> bool:
        """Whether a batch of ``count`` deletes of ``total`` bytes may run now (no error so
        far, within ``max_delete`` and ``max_delete_size``); records why not."""
        ctx = self.ctx
        recorder = ctx.recorder
        if not count:
            return True
        with self._lock:
            if self._deletes_stopped:
                recorder.skip("not deleted: deletes stopped", count)
                return False
            if recorder.failed or self.cancelled or ctx.cancelled():
                recorder.skip("not deleted: errors in this run", count)
                recorder.warn("no files were deleted because of errors in this run")
                return False
            max_delete = ctx.opts.max_delete
            max_size = ctx.opts.max_delete_size
            if max_delete is not None and self._deleted + count > max_delete:
                self._stop_deletes(f"more than max_delete={max_delete} files to delete", count)
                return False
            if max_size is not None and self._deleted_bytes + total > max_size:
                self._stop_deletes(f"more than max_delete_size={max_size} bytes to delete", count)
                return False
            self._deleted += count
            self._deleted_bytes += total
            return True

    def _stop_deletes(self, why: str, count: int) -> None:
        self._deletes_stopped = True
        self.ctx.recorder.fail(None, "delete", SyncError(f"deletes stopped: {why}", op="delete"))
        self.ctx.recorder.skip("not deleted: deletes stopped", count)

    def run_deletes(self, actions: Iterable[Action]) -> None:
        """Carry out a batch of deletes collected until now (``delete_mode`` after/before)."""
        batch = list(actions)
        total = sum(a.size or 0 for a in batch)
        if not self.deletes_allowed(len(batch), total):
            return
        self.ctx.progress.phase("deleting")
        for action in batch:
            if self.ctx.cancelled():
                break
            self.delete(action)
        self._checkers.drain()

    # ------------------------------------------------------------ one action

    def _guarded(self, action: Action) -> None:
        ctx = self.ctx
        recorder = ctx.recorder
        if self.cancelled or ctx.cancelled():
            self.cancelled = True
            recorder.skip("cancelled")
            return
        ctx.progress.add(current=action.path)
        try:
            with_retries(ctx, lambda: self._perform(action))
        except Cancelled:
            self.cancelled = True
            recorder.skip("cancelled")
        except MaxTransferReached as exc:
            self._cutoff(exc)
        except Exception as exc:  # noqa: BLE001 - any failure of one file is recorded, not raised
            recorder.fail(action.source or action.path, _op_name(action), exc)
            ctx.progress.add(errors=1)

    def _cutoff(self, exc: BaseException | None = None) -> None:
        with self._lock:
            first = not self._cutoff_reported
            self._cutoff_reported = True
        self.ctx.recorder.skip("max_transfer reached")
        if first:
            limit = self.ctx.opts.max_transfer
            self.ctx.recorder.fail(
                None,
                "transfer",
                exc or SyncError(f"max_transfer of {limit} bytes reached", op="transfer"),
            )

    def _perform(self, action: Action) -> None:
        op = action.op
        if op in ("copy", "update"):
            self._copy(action)
        elif op == "delete":
            self._delete(action)
        elif op == "rename":
            self._rename(action)
        elif op == "delete_src":
            self._delete_source(action)
        else:  # pragma: no cover - Action.op is a closed set
            raise ValueError(f"unknown action {op!r}")

    def _copy(self, action: Action) -> None:
        ctx = self.ctx
        budget = ctx.budget
        if not budget.start(action.size):
            self._cutoff()
            return
        try:
            if action.op == "update" and ctx.backup is not None:
                self.backup(action.path, move=False)
            result = transfer_file(
                ctx,
                ctx.src,
                action.path,
                ctx.dst,
                action.path,
                action.entry,
                planned=action.size or 0,
            )
        finally:
            budget.finish(action.size)
        ctx.recorder.done("copied" if action.op == "copy" else "updated", action.path)
        ctx.recorder.add_bytes(result.size)
        ctx.progress.add(files=1)
        if self.mode == "move" and action.entry is not None:
            problem = verify_copy(
                ctx, ctx.src, action.path, ctx.dst, action.path, result, action.entry
            )
            if problem is not None:
                raise SyncError(
                    f"move {action.path!r}: the source was kept because the copy could not "
                    f"be verified ({problem})",
                    op="move",
                )
            self._remove_source(action.path)

    def _remove_source(self, path: str) -> None:
        ctx = self.ctx
        ctx.op()
        ctx.src.store.delete(path, missing_ok=True)
        ctx.recorder.done("moved", path)

    def _delete(self, action: Action) -> None:
        ctx = self.ctx
        if ctx.backup is not None:
            if not self.backup(action.path, move=True):
                ctx.recorder.skip("not deleted: gone before its backup")
                return
        else:
            ctx.op()
            ctx.dst.store.delete(action.path, missing_ok=True)
        ctx.recorder.done("deleted", action.path)
        ctx.progress.add(files=1)

    def _rename(self, action: Action) -> None:
        ctx = self.ctx
        assert action.source is not None
        ctx.op()
        ctx.dst.store.move(action.source, action.path, overwrite=False)
        ctx.recorder.renamed(action.source, action.path)
        ctx.progress.add(files=1)

    def _delete_source(self, action: Action) -> None:
        ctx = self.ctx
        problem = identical(ctx, action)
        if problem is not None:
            raise SyncError(f"move {action.path!r}: the source was kept: {problem}", op="move")
        self._remove_source(action.path)
        ctx.progress.add(files=1)

    def backup(self, path: str, *, move: bool) -> bool:
        """Copy (or move) the destination file ``path`` into ``backup_dir``.

        True when the file was kept there; False when the destination no longer holds it
        (nothing to keep). A backup that fails for any other reason raises
        :class:`BackupFailed` (a backup store that cannot take the file: a missing bucket
        or folder, a refused permission …), so the caller neither overwrites nor deletes
        a file whose backup was not made.
        """
        try:
            return self._backup(path, move)
        except (Cancelled, MaxTransferReached, BackupFailed):
            raise
        except Exception as exc:
            temporary = isinstance(exc, StorageError) and exc.temporary
            raise BackupFailed(
                f"backup of {path!r} into backup_dir failed ({exc}); the file was left as it is",
                path=path,
                op="backup",
                temporary=temporary,
            ) from exc

    def _backup(self, path: str, move: bool) -> bool:
        ctx = self.ctx
        backup = ctx.backup
        assert backup is not None
        dst = ctx.dst
        if move and same_backend(dst.store, backup.store):
            root = ctx.root_store(dst)
            ctx.op()
            try:
                root.move(
                    paths.join(dst.store.root, path),
                    paths.join(backup.store.root, path),
                    overwrite=True,
                )
            except NotFound as exc:
                return self._gone(path, exc)
            return True
        try:
            transfer_file(ctx, dst, path, backup, path, None)
        except NotFound as exc:
            return self._gone(path, exc)
        if move:
            ctx.op()
            dst.store.delete(path, missing_ok=True)
        return True

    def _gone(self, path: str, exc: NotFound) -> bool:
        """False when ``path`` is really gone from the destination; else ``exc`` came from
        the backup side (re-raised: the backup failed)."""
        ctx = self.ctx
        ctx.op()
        if ctx.dst.store.exists(path):
            raise exc
        return False


class BackupFailed(StorageError):
    """A file could not be kept in ``backup_dir``; it was neither overwritten nor deleted."""


def _op_name(action: Action) -> str:
    return {"copy": "copy", "update": "copy", "delete": "delete", "rename": "rename"}.get(
        action.op, "move"
    )


def side_hash(ctx: RunContext, side: Side, path: str, entry: Entry, kind: str) -> str | None:
    """``kind`` of a file without downloading it: listing, local read (cached), or stat."""
    listed = (entry.hashes or {}).get(kind)
    if listed is not None:
        return listed
    hashes = ctx.hashes_for(side)
    if hashes is not None:
        return hashes.compute(path, kind)
    if kind == HashType.MD5.value and side.etag_md5_candidate:
        candidate = etag_md5(entry.etag)
        if candidate is not None:
            return candidate
    if side.has_metadata:
        ctx.op()
        info = side.store.get_file_info(path)
        found = info.hashes.get(HashType(kind))
        if found is None and kind == HashType.MD5.value:
            found = metadata_md5(info.metadata)
        return found
    return None


def identical(ctx: RunContext, action: Action) -> str | None:
    """Why the destination copy of a ``delete_src`` file cannot be trusted, or ``None``."""
    src_entry, dst_entry = action.entry, action.other
    if src_entry is None or dst_entry is None:
        return "no listing to verify against"
    if src_entry.size is None or src_entry.size != dst_entry.size:
        return "its size is unknown or differs on the destination"
    src, dst = ctx.src, ctx.dst
    for kind in HASH_STRENGTH:
        if src.can_hash(kind) and dst.can_hash(kind):
            s_hash = side_hash(ctx, src, action.path, src_entry, kind)
            d_hash = side_hash(ctx, dst, action.path, dst_entry, kind)
            if s_hash is None or d_hash is None:
                continue
            return None if s_hash == d_hash else f"its {kind} differs on the destination"
    return None
