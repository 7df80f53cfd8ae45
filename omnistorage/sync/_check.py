"""check: compare two trees file by file, as ``rclone check`` does.

Each side is listed once and the listings are marched in lock step. A file
on both sides is compared by the strongest hash type both sides can produce
without downloading (listing hashes, a local file's hash, an S3 ETag that is
an MD5, rclone's ``md5chksum`` metadata via ``stat``); where a file's hash
cannot be had, or the sides share no hash type, by size. ``download=True``
reads both files and compares the bytes. Results are sorted by path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from omnistorage.capabilities import Capability
from omnistorage.errors import CapabilityNotSupported
from omnistorage.store import Store
from omnistorage.sync._context import RunContext
from omnistorage.sync._conventions import HASH_STRENGTH
from omnistorage.sync._entry import Entry
from omnistorage.sync._errors import SyncError
from omnistorage.sync._execute import Pool, side_hash, with_retries
from omnistorage.sync._filters import Filters
from omnistorage.sync._limits import Cancelled
from omnistorage.sync._march import march
from omnistorage.sync._options import SyncOptions
from omnistorage.sync._report import CheckReport, SyncReport, error_entry
from omnistorage.sync._setup import entry_filter, load_listings

__all__ = ["check", "check_march", "compare_entries", "require_listable", "shared_hash"]

_CHUNK = 1 << 20


def check(
    src: Store,
    dst: Store,
    *,
    one_way: bool = False,
    download: bool = False,
    filters: Filters | None = None,
    checkers: int = 8,
    cancel: Any = None,
    progress: Any = None,
    hash_cache: Any = True,
    retries: int = 3,
    retry_backoff: float = 0.5,
) -> CheckReport:
    """Compare ``src`` and ``dst`` (see the module docstring) and return a :class:`CheckReport`.

    ``one_way=True`` ignores files only on ``dst`` for ``ok`` (they are still listed in
    ``missing_on_src``, and left out of ``combined()`` as rclone does). Failures are
    recorded in ``errors``, never raised; bad options raise ``TypeError``/``ValueError``
    and stores that cannot be listed or read raise ``CapabilityNotSupported``, before
    any I/O.
    """
    opts = SyncOptions(
        filters=filters,
        checkers=checkers,
        cancel=cancel,
        progress=progress,
        hash_cache=hash_cache,
        retries=retries,
        retry_backoff=retry_backoff,
    )
    require_listable(src, dst)
    started = time.monotonic()
    report = CheckReport(one_way=one_way)
    ctx = RunContext.create(src, dst, opts, SyncReport(mode="check"))
    try:
        _run(ctx, report, download=download)
    finally:
        ctx.close()
        ctx.progress.phase("done")
    report.errors = list(ctx.recorder.report.errors) + report.errors
    for name in ("match", "differ", "missing_on_src", "missing_on_dst"):
        getattr(report, name).sort()
    report.errors.sort(key=lambda e: (e.path is None, e.path or ""))
    report.duration = time.monotonic() - started
    return report


def _run(ctx: RunContext, report: CheckReport, *, download: bool) -> None:
    listings = load_listings(ctx, (ctx.src.store, ctx.dst.store), ("source", "destination"))
    if listings is None:
        report.cancelled = ctx.cancelled()
        return
    kind = shared_hash(ctx, download)
    lock = threading.Lock()
    include = entry_filter(ctx.opts.filters, datetime.now(UTC))
    pool = Pool(ctx.opts.checkers, "omnistorage-check")

    def add(name: str, path: str, how: str | None = None) -> None:
        with lock:
            getattr(report, name).append(path)
            if how is not None:
                report.compared_by[how] = report.compared_by.get(how, 0) + 1

    def compare(s: Entry, d: Entry) -> Callable[[], None]:
        def run() -> None:
            if ctx.cancelled():
                return
            try:
                name, how = compare_entries(ctx, s, d, kind, download)
            except Cancelled:
                return
            except Exception as exc:  # noqa: BLE001 - recorded as this path's error
                with lock:
                    report.errors.append(error_entry(s.path, "check", exc))
                ctx.progress.add(errors=1)
                ctx.progress.add_checked(1)
                return
            add(name, s.path, how)
            ctx.progress.add_checked(1, current=s.path)

        return run

    ctx.progress.phase("checking")
    try:
        for s, d in check_march(listings[0], listings[1], include):
            if ctx.cancelled():
                raise Cancelled
            if d is None:
                assert s is not None
                add("missing_on_dst", s.path)
            elif s is None:
                add("missing_on_src", d.path)
            else:
                pool.submit(compare(s, d))
        pool.drain()
    except Cancelled:
        pass
    finally:
        pool.drain()
        pool.shutdown()
        for listing in listings:
            listing.close()
    if ctx.cancelled():
        report.cancelled = True
        report.errors.append(error_entry(None, "check", SyncError("cancelled", op="check")))


def require_listable(*stores: Store) -> None:
    """``CapabilityNotSupported`` (before any I/O) unless every store can list and read."""
    for store in stores:
        for capability in (Capability.LIST, Capability.READ):
            if not store.supports(capability):
                raise CapabilityNotSupported(
                    f"check: {store!r} does not support {capability.value}",
                    backend=store.unwrap().name,
                    op="check",
                )


def check_march(
    src: Iterable[Entry], dst: Iterable[Entry], include: Callable[[Entry], bool] | None
) -> Iterator[tuple[Entry | None, Entry | None]]:
    """The paths check looks at, from two path-sorted listings: ``(s, None)`` only on the
    source, ``(None, d)`` only on the destination, ``(s, d)`` on both. Filtered as sync
    filters: a path whose source file a filter hides is left out; a hidden destination
    file is compared with an included source file."""
    for s, d in march(src, dst):
        if include is not None:
            if s is not None and not include(s):
                continue
            if s is None and d is not None and not include(d):
                continue
        if s is not None or d is not None:
            yield s, d


def shared_hash(ctx: RunContext, download: bool) -> str | None:
    """The strongest hash type both sides produce without downloading (``None`` with
    ``download`` or when they share none)."""
    if download:
        return None
    return next((k for k in HASH_STRENGTH if ctx.src.can_hash(k) and ctx.dst.can_hash(k)), None)


def compare_entries(
    ctx: RunContext, s: Entry, d: Entry, kind: str | None, download: bool
) -> tuple[str, str]:
    """Compare a file on both sides: (``"match"`` or ``"differ"``, how it was decided).
    Raises what the comparison raised (after ``ctx``'s retries)."""
    if s.size is not None and d.size is not None and s.size != d.size:
        return "differ", "size"
    if download:
        same = with_retries(ctx, lambda: _same_bytes(ctx, s.path, d.path))
        return ("match" if same else "differ"), "download"
    if kind is not None:
        s_hash = with_retries(ctx, lambda: side_hash(ctx, ctx.src, s.path, s, kind))
        if s_hash is not None:
            d_hash = with_retries(ctx, lambda: side_hash(ctx, ctx.dst, d.path, d, kind))
            if d_hash is not None:
                return ("match" if s_hash == d_hash else "differ"), f"hash:{kind}"
    if s.size is None or d.size is None:
        raise SyncError(
            f"check {s.path!r}: the size is unknown and no hash is available: use download=True",
            op="check",
        )
    return "match", "size"


def _same_bytes(ctx: RunContext, src_path: str, dst_path: str) -> bool:
    ctx.op()
    with ctx.src.store.read(src_path) as left, ctx.dst.store.read(dst_path) as right:
        while True:
            if ctx.cancelled():
                raise Cancelled
            a = left.read(_CHUNK)
            b = _read_exactly(right, len(a)) if a else right.read(1)
            if a != b:
                return False
            if not a:
                return True


def _read_exactly(stream: Any, size: int) -> bytes:
    parts = []
    left = size
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)
