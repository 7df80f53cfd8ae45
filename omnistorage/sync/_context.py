"""The state one run shares between its threads: sides, limits, caches, report, progress."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from omnistorage.capabilities import Capability
from omnistorage.store import Store
from omnistorage.sync._conventions import Side, copy_keeps_mtime, describe
from omnistorage.sync._hashcache import LazyCache, LocalHashes
from omnistorage.sync._limits import TokenBucket, TransferBudget
from omnistorage.sync._options import SyncOptions, cancel_check
from omnistorage.sync._progress import ProgressTracker
from omnistorage.sync._report import SyncReport, error_entry

__all__ = ["Recorder", "RunContext", "same_backend"]


_log = logging.getLogger("omnistorage.sync")

# What each completed action is called in the INFO line logged for it (rclone -v's words).
_DONE_WORDS = {
    "copied": "Copied (new)",
    "updated": "Copied (replaced existing)",
    "deleted": "Deleted",
    "moved": "Moved (source deleted)",
}


def same_backend(a: Store, b: Store) -> bool:
    """Both stores sit on one backend object (server-side copies and moves between them)."""
    return a.unwrap() is b.unwrap()


class Recorder:
    """Thread-safe writes into a :class:`SyncReport` (paths kept only with ``record_paths``)."""

    def __init__(self, report: SyncReport, *, record_paths: bool) -> None:
        self.report = report
        self._record = record_paths
        self._lock = threading.Lock()
        self.error_count = 0

    def done(self, kind: str, path: str) -> None:
        _log.info("%s: %s", path, _DONE_WORDS.get(kind, kind))
        with self._lock:
            self.report.counts[kind] = self.report.counts.get(kind, 0) + 1
            if self._record:
                getattr(self.report, kind).append(path)

    def renamed(self, old: str, new: str) -> None:
        _log.info("%s: Renamed from %s", new, old)
        with self._lock:
            self.report.counts["renamed"] += 1
            if self._record:
                self.report.renamed.append(new)
                self.report.renames.append((old, new))

    def skip(self, reason: str, count: int = 1) -> None:
        with self._lock:
            skipped = self.report.skipped
            skipped[reason] = skipped.get(reason, 0) + count

    def fail(self, path: str | None, op: str, exc: BaseException) -> None:
        with self._lock:
            self.report.errors.append(error_entry(path, op, exc))
            self.error_count += 1

    def add_bytes(self, nbytes: int) -> None:
        with self._lock:
            self.report.bytes_transferred += nbytes

    def warn(self, message: str) -> None:
        with self._lock:
            if message not in self.report.warnings:
                self.report.warnings.append(message)

    @property
    def failed(self) -> bool:
        return self.error_count > 0

    def finish(self) -> None:
        """Sort the path lists (workers finish in any order)."""
        with self._lock:
            report = self.report
            for name in ("copied", "updated", "deleted", "moved", "renamed"):
                getattr(report, name).sort()
            report.renames.sort()


@dataclass
class RunContext:
    """What every worker of a run needs."""

    opts: SyncOptions
    src: Side
    dst: Side
    recorder: Recorder
    progress: ProgressTracker
    cancelled: Callable[[], bool]
    budget: TransferBudget
    bandwidth: TokenBucket | None
    rate: TokenBucket | None
    cache: LazyCache
    src_hashes: LocalHashes | None
    dst_hashes: LocalHashes | None
    backup: Side | None = None
    stream_hash: str = "md5"
    """The hash computed while streaming (``hash_type``, or the checksum type)."""
    hash_always: bool = False
    """Compute it on every streamed transfer (``compare="checksum"``: fills the cache)."""
    _roots: dict[int, Store] = field(default_factory=dict)

    @classmethod
    def create(cls, src: Store, dst: Store, opts: SyncOptions, report: SyncReport) -> RunContext:
        recorder = Recorder(report, record_paths=opts.record_paths)
        cancelled = cancel_check(opts.cancel)
        progress = ProgressTracker(opts.progress, lambda exc: recorder.fail(None, "progress", exc))
        src_side = describe(src)
        dst_side = describe(dst)
        cache = LazyCache(opts.hash_cache)
        return cls(
            opts=opts,
            src=src_side,
            dst=dst_side,
            recorder=recorder,
            progress=progress,
            cancelled=cancelled,
            budget=TransferBudget(opts.max_transfer, opts.cutoff_mode),
            bandwidth=TokenBucket(opts.bwlimit, cancelled) if opts.bwlimit else None,
            rate=TokenBucket(opts.tpslimit, cancelled) if opts.tpslimit else None,
            cache=cache,
            src_hashes=LocalHashes(src_side, cache) if src_side.reads_local else None,
            dst_hashes=LocalHashes(dst_side, cache) if dst_side.reads_local else None,
            backup=describe(opts.backup_dir) if opts.backup_dir is not None else None,
            stream_hash=opts.hash_type,
        )

    def hashes_for(self, side: Side) -> LocalHashes | None:
        if side is self.src:
            return self.src_hashes
        if side is self.dst:
            return self.dst_hashes
        return None

    def op(self) -> None:
        """Pace one per-file operation (``tpslimit``)."""
        if self.rate is not None:
            self.rate.take()

    def server_side_copy(self, frm: Side, to: Side) -> bool:
        """A copy from ``frm`` to ``to`` can run server-side and keep the mtime."""
        return (
            same_backend(frm.store, to.store)
            and frm.store.supports(Capability.COPY)
            and copy_keeps_mtime(frm)
        )

    def root_store(self, side: Side) -> Store:
        """A store at the backend's root (for server-side operations between two roots)."""
        backend = side.store.unwrap()
        found = self._roots.get(id(backend))
        if found is None:
            found = Store(backend)
            self._roots[id(backend)] = found
        return found

    def close(self) -> None:
        self.cache.close()
