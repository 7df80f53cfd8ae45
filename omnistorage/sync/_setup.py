"""Set-up shared by every operation: store checks, the comparison policy, the listings.

- :func:`check_stores` refuses, before any I/O, stores that lack a needed
  capability or that overlap (one root inside the other, by location: see
  :meth:`omnistorage.Store.overlaps`).
- :func:`make_policy` fixes the comparison window (the coarser mtime precision
  of the two sides, or ``modify_window``) and, for ``compare="checksum"``, the
  strongest hash type both sides can produce.
- :func:`load_listings` lists the sides in parallel; a listing failure stops the
  run, and every foreign key is recorded as an error (so nothing is deleted).
- :func:`name_collisions` finds the paths a folding destination would merge
  (see :mod:`omnistorage.sync._collide`) and records each as an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

from omnistorage.capabilities import Capability
from omnistorage.errors import CapabilityNotSupported
from omnistorage.store import Store
from omnistorage.sync._collide import colliding_names, folding
from omnistorage.sync._context import RunContext
from omnistorage.sync._conventions import HASH_STRENGTH
from omnistorage.sync._decide import Policy
from omnistorage.sync._entry import Entry, from_us
from omnistorage.sync._errors import SyncError
from omnistorage.sync._filters import Filters
from omnistorage.sync._limits import Cancelled
from omnistorage.sync._march import SortedListing
from omnistorage.sync._options import SyncOptions

__all__ = [
    "check_stores",
    "entry_filter",
    "load_listings",
    "make_policy",
    "name_collisions",
    "overlapping",
]


def check_stores(mode: str, src: Store, dst: Store, opts: SyncOptions) -> None:
    """Refuse, before any I/O, stores that cannot do the job or that overlap."""
    need = [(src, Capability.READ, "read"), (src, Capability.LIST, "list")]
    need += [(dst, Capability.WRITE, "write"), (dst, Capability.LIST, "list")]
    if mode == "sync":
        need.append((dst, Capability.DELETE, "delete"))
    if mode == "move":
        need.append((src, Capability.DELETE, "delete"))
    if opts.backup_dir is not None:
        need.append((opts.backup_dir, Capability.WRITE, "backup"))
    for store, capability, op in need:
        if not store.supports(capability):
            raise CapabilityNotSupported(
                f"{mode}: {store!r} does not support {capability.value}",
                backend=store.unwrap().name,
                op=op,
            )
    if overlapping(src, dst):
        raise ValueError(f"{mode}: the source and destination overlap ({src!r}, {dst!r})")
    if opts.backup_dir is not None and (
        overlapping(opts.backup_dir, dst) or overlapping(opts.backup_dir, src)
    ):
        raise ValueError(f"{mode}: backup_dir overlaps the source or destination")


def overlapping(a: Store, b: Store) -> bool:
    """One store's folder is the other's or lies inside it, on any of their locations
    (judged by :class:`~omnistorage.models.Location`: two handles opened separately on one
    place overlap; a mirror or composite overlaps each of its members)."""
    return a.overlaps(b)


def make_policy(ctx: RunContext) -> Policy:
    """The comparison policy of a run (window, checksum type), with its warnings."""
    opts = ctx.opts
    src, dst = ctx.src, ctx.dst
    window = max(src.precision_us, dst.precision_us)
    if opts.modify_window is not None:
        window = max(1, opts.modify_window // timedelta(microseconds=1))
    kind: str | None = None
    if opts.compare == "checksum":
        kind = next((k for k in HASH_STRENGTH if src.can_hash(k) and dst.can_hash(k)), None)
        if kind is not None:
            ctx.stream_hash = kind
            ctx.hash_always = True
        else:
            ctx.recorder.warn(
                "compare='checksum': the two sides share no hash type; "
                "files are compared by size and mtime"
            )
    return Policy(
        src=src,
        dst=dst,
        compare=opts.compare,
        ignore_existing=opts.ignore_existing,
        update=opts.update,
        window_us=window,
        checksum_kind=kind,
    )


def load_listings(
    ctx: RunContext, stores: Iterable[Store], labels: Iterable[str]
) -> list[SortedListing] | None:
    """List the stores in parallel; record listing errors and foreign keys. ``None`` when a
    listing failed (the run must stop)."""
    stores = list(stores)
    labels = list(labels)
    opts = ctx.opts
    listings = [
        SortedListing(store, run_size=opts.listing_buffer, spill_dir=opts.spill_dir)
        for store in stores
    ]
    counts = [0] * len(listings)
    progress = ctx.progress
    progress.phase("listing")

    def loader(index: int) -> Callable[[], None]:
        def on_progress(count: int) -> None:
            counts[index] = count
            progress.listed(sum(counts))

        return lambda: listings[index].load(ctx.cancelled, on_progress)

    # Listings of remote stores wait on the network: run them side by side. Listings of
    # stores that read locally are CPU-bound Python: threads would only fight for the GIL.
    in_process = all(_in_process(store) for store in stores)
    futures: list[Future[None]] = []
    pool = None
    if not in_process:
        pool = ThreadPoolExecutor(len(listings), thread_name_prefix="omnistorage-sync-list")
        futures = [pool.submit(loader(i)) for i in range(len(listings))]
    failed = False
    try:
        for index, (label, listing) in enumerate(zip(labels, listings, strict=True)):
            try:
                if pool is None:
                    loader(index)()
                else:
                    futures[index].result()
            except Cancelled:
                failed = True
            except Exception as exc:  # noqa: BLE001 - a listing failure stops the run, recorded
                failed = True
                ctx.recorder.fail(None, "list", _labelled(exc, f"listing the {label}"))
            ctx.recorder.report.listed[label] = listing.count
            _record_foreign(ctx, label, listing)
            if failed and pool is None:
                break
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    if failed:
        for listing in listings:
            listing.close()
        return None
    return listings


def name_collisions(
    ctx: RunContext, listings: list[SortedListing], *destinations: Store
) -> dict[str, tuple[str, ...]]:
    """The paths of ``listings`` that are one name on a destination that folds names
    (``Features.case_insensitive``/``normalizes_unicode``), each recorded as an error of
    the run (so nothing is deleted); empty when no destination folds."""
    fold = folding(*(store.features for store in destinations))
    if fold is None:
        return {}
    opts = ctx.opts
    found = colliding_names(listings, fold, run_size=opts.listing_buffer, spill_dir=opts.spill_dir)
    for path, group in sorted(found.items()):
        others = ", ".join(repr(name) for name in group if name != path)
        ctx.recorder.fail(
            path,
            "copy",
            SyncError(
                f"{path!r} and {others} are one name on the destination (it ignores case or "
                "Unicode form): none of them was copied or deleted; rename one, and nothing "
                "is deleted in this run",
                op="copy",
            ),
        )
    return found


def _in_process(store: Store) -> bool:
    """The store's listing is CPU-bound Python (``Features.reads_local``)."""
    return store.features.reads_local


def _labelled(exc: BaseException, what: str) -> BaseException:
    return SyncError(f"{what} failed: {exc}", op="list") if str(exc) else exc


def _record_foreign(ctx: RunContext, label: str, listing: SortedListing) -> None:
    for name in listing.invalid:
        ctx.recorder.fail(
            name,
            "list",
            SyncError(
                f"the {label} lists {name!r}, which is not a valid key: it was skipped, "
                "and nothing is deleted in this run",
                op="list",
            ),
        )
    hidden = listing.invalid_count - len(listing.invalid)
    if hidden > 0:
        ctx.recorder.fail(
            None, "list", SyncError(f"the {label} lists {hidden} more foreign keys", op="list")
        )


def entry_filter(filters: Filters | None, now: datetime) -> Callable[[Entry], bool] | None:
    if filters is None or not filters.active:
        return None
    if (
        filters.min_size is None
        and filters.max_size is None
        and filters.min_age is None
        and filters.max_age is None
    ):
        return lambda entry: filters.path_matches(entry[0])
    return lambda entry: filters.matches(
        entry[0], entry[1], None if entry[2] is None else from_us(entry[2]), now=now
    )
