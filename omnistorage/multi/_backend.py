"""The mirror backend: one driver over N destination stores (DESIGN §4).

``Store(MirrorBackend([local_store, s3_store]))`` has the whole Store API, so
``open_writer``, ``RollingRecordWriter`` and the sync engine fan out through
it unchanged. Each destination is a :class:`~omnistorage.Store` with its own
root; a mirror key ``k`` is ``k`` inside every destination.

- **Writes** fan out in parallel with bounded memory and publish under the
  :class:`~omnistorage.multi.WritePolicy` (see :mod:`omnistorage.multi._writer`).
- **Reads** (``read_policy="first"``): the first destination that answers,
  failing over to the next on temporary errors (and on not-found with
  ``failover_on_not_found=True``). A stream that fails *midway* is not
  resumed elsewhere (another destination may hold another version).
  ``"fastest"`` opens the first two healthy destinations at once and keeps
  the first to answer. ``exists``/``stat`` follow the same rule.
- **Listings**: a union of every destination, deduplicated, first destination
  wins (``list_policy="union"``), or the first destination only
  (``"primary"``).
- **Deletes** go to every destination; the write policy says how many must
  succeed. A conditional delete (``delete(if_version=…)``, with a version a write
  through this mirror returned) removes, on each destination, only that write's
  version there.
- **Capabilities**: what every destination declares for writes (atomic,
  create-only, metadata, content type, mtime, folders, pinned reads,
  conditional deletes); copy
  and move are not native (the Store streams them through the mirror).
- **Crash leftovers** of every destination are listed and removed through it.
- **Repair**: :meth:`MirrorBackend.repair` brings replicas that missed writes in
  line with the sync engine (:mod:`omnistorage.multi._repair`).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Any, BinaryIO, TypeVar

from omnistorage import paths
from omnistorage._delegate import StorePinned, ranged_reader
from omnistorage._listing import relay_skipped
from omnistorage.capabilities import BASIC_FEATURES, Capability, Features, combine_replicas
from omnistorage.driver import ExtendedBackend, PinnedReader, WriteOptions, Writer
from omnistorage.errors import (
    Classification,
    ConfigurationError,
    ErrorKind,
    NotFound,
    PreconditionFailed,
    StorageError,
    VersionMismatch,
    classify_builtin,
)
from omnistorage.models import Leftover, Location, ObjectInfo, SkippedEntry
from omnistorage.multi._policy import ALL, ReadPolicy, WritePolicy
from omnistorage.multi._repair import RepairReport, repair
from omnistorage.multi._report import MirrorReport, MirrorWriteError, detach
from omnistorage.multi._writer import MirrorWriter
from omnistorage.store import Store

__all__ = ["MirrorBackend"]

T = TypeVar("T")

_SHARED = (
    Capability.ATOMIC_WRITE,
    Capability.CONDITIONAL_WRITE,
    Capability.METADATA,
    Capability.RANGE_READ,
    Capability.MKDIR,
    Capability.SET_MOD_TIME,
    Capability.USER_METADATA,
    Capability.CONTENT_TYPE,
    Capability.PINNED_READ,
    Capability.CONDITIONAL_DELETE,
)

# Most specific first: a ChangedDuringRead is also a PreconditionFailed.
_KINDS = sorted(ErrorKind, key=lambda kind: -len(kind.value.__mro__))


class MirrorBackend(ExtendedBackend):
    """Mirror writes to N destination stores; read from the first healthy one.

    Args:
        destinations: the stores (any backends, each with its own root). One is allowed: a
            mirror being assembled or cut down to one member keeps working, and a
            one-member mirror runs every code path of the mirror (lanes, the publish
            order, rollbacks, listings, failover) over one backend, which is how the
            conformance suite proves the mirror carries each backend's promises.
        policy: ``ALL`` (default), ``quorum(k)`` or ``BEST_EFFORT``.
        read_policy: ``"first"`` (default) or ``"fastest"``.
        list_policy: ``"union"`` (default) or ``"primary"``.
        failover_on_not_found: let reads and stats fall over to the next destination
            when one says not-found (for a lagging replica).
        queue_chunks: chunks buffered per destination before the writer blocks.
        max_lag: under ``quorum``/``best_effort``, seconds a destination may block the
            writer before it is dropped from that write (``None``: never drop).
        on_report: called with the :class:`MirrorReport` of every finished write.
    """

    name = "mirror"
    may_declare = frozenset({*BASIC_FEATURES.capabilities, *_SHARED})

    def __init__(
        self,
        destinations: Sequence[Store],
        *,
        policy: WritePolicy = ALL,
        read_policy: ReadPolicy = "first",
        list_policy: str = "union",
        failover_on_not_found: bool = False,
        queue_chunks: int = 4,
        max_lag: float | None = None,
        on_report: Callable[[MirrorReport], None] | None = None,
    ) -> None:
        stores = tuple(destinations)
        if not stores or not all(isinstance(s, Store) for s in stores):
            raise ConfigurationError("a mirror needs one or more destination Stores")
        for i, store in enumerate(stores):
            for j in range(i):
                if store.overlaps(stores[j]):
                    # One place given twice (or one inside the other) would count as two
                    # copies for quorum while holding one, and list its own replicas.
                    raise ConfigurationError(
                        f"mirror destinations {j} and {i} are one place or one lies inside "
                        f"the other ({stores[j]!r}, {store!r})"
                    )
        if policy.kind == "quorum" and not 1 <= policy.k <= len(stores):
            raise ConfigurationError(f"quorum({policy.k}) needs 1..{len(stores)} destinations")
        if read_policy not in ("first", "fastest"):
            raise ConfigurationError(
                f"read_policy must be 'first' or 'fastest', not {read_policy!r}"
            )
        if list_policy not in ("union", "primary"):
            raise ConfigurationError(
                f"list_policy must be 'union' or 'primary', not {list_policy!r}"
            )
        if queue_chunks < 1:
            raise ConfigurationError("queue_chunks must be >= 1")
        self._stores = stores
        self._policy = policy
        self._read_policy = read_policy
        self._list_policy = list_policy
        self._failover_not_found = failover_on_not_found
        self._queue_chunks = queue_chunks
        self._max_lag = max_lag
        self._on_report = on_report
        self._features = self._shared_features()
        self.folders_are_markers = any(
            getattr(store.unwrap(), "folders_are_markers", False) for store in stores
        )
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        inner = ", ".join(repr(store) for store in self._stores)
        return f"MirrorBackend([{inner}], policy={self._policy})"

    @property
    def destinations(self) -> tuple[Store, ...]:
        """The destination stores, in order (the first is the primary)."""
        return self._stores

    def repair(
        self,
        *,
        reference: int | None = None,
        delete: bool = False,
        dry_run: bool = False,
        **options: Any,
    ) -> RepairReport:
        """Bring lagging destinations in line with the sync engine (see
        :func:`omnistorage.multi.repair`): with ``reference=i`` every other destination
        gets destination ``i``'s files (``delete=True`` also removes what it lacks);
        without one, a union in which the newer copy of each file wins."""
        return repair(self._stores, reference=reference, delete=delete, dry_run=dry_run, **options)

    def _shared_features(self) -> Features:
        common = set(_SHARED)
        for store in self._stores:
            common &= set(store.features.capabilities)
        basics = {Capability.READ, Capability.WRITE, Capability.DELETE, Capability.LIST}
        return combine_replicas((store.features for store in self._stores), basics | common)

    def features(self) -> Features:
        return self._features

    def locations(self) -> tuple[Location, ...]:
        return tuple(place for store in self._stores for place in store.locations)

    def close(self) -> None:
        for store in self._stores:
            store.close()
        self.closed = True

    def classify_error(self, exc: BaseException) -> Classification:
        if isinstance(exc, StorageError):
            for kind in _KINDS:
                if isinstance(exc, kind.value):
                    return Classification(kind, exc.temporary)
        return classify_builtin(exc)

    # ------------------------------------------------------------ writes

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return MirrorWriter(
            self._stores,
            key,
            options,
            policy=self._policy,
            queue_chunks=self._queue_chunks,
            max_lag=self._max_lag,
            on_report=self._on_report,
        )

    # ------------------------------------------------------------ reads

    def _fails_over(self, exc: StorageError) -> bool:
        return exc.temporary or (self._failover_not_found and isinstance(exc, NotFound))

    def _first(self, call: Callable[[Store], T]) -> T:
        """``call`` on the destinations in order until one answers (see ``read_policy``)."""
        if self._read_policy == "fastest":
            return self._fastest(call)
        last: StorageError | None = None
        for store in self._stores:
            try:
                return call(store)
            except StorageError as exc:
                if not self._fails_over(exc):
                    error = detach(exc)
                    raise error from error.__cause__
                last = exc
        assert last is not None
        raise detach(last)

    def _fastest(self, call: Callable[[Store], T]) -> T:
        """The first two destinations race; the first *successful* answer wins (the other is
        closed when it arrives); then the rest in order; else the first error."""
        pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="omnistorage-mirror-read")
        error: StorageError | None = None
        try:
            pending: set[Future[T]] = {pool.submit(call, s) for s in self._stores[:2]}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    try:
                        result = future.result()
                    except StorageError as exc:
                        error = error or exc
                        continue
                    for other in pending:
                        other.add_done_callback(_close_result)
                    return result
        finally:
            pool.shutdown(wait=False)
        for store in self._stores[2:]:
            try:
                return call(store)
            except StorageError as exc:
                error = error or exc
        assert error is not None
        raise detach(error)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        if offset == 0 and length is None:
            return self._first(lambda store: store.read(key))
        return self._first(lambda store: ranged_reader(store, key, offset, length))

    def open_pinned(self, key: str) -> PinnedReader:
        return self._first(lambda store: StorePinned(store, key))

    def exists(self, key: str) -> bool:
        return self._first(lambda store: store.is_file(key))

    def stat(self, key: str) -> ObjectInfo:
        def one(store: Store) -> ObjectInfo:
            if store.is_file(key):
                return store.get_file_info(key)
            if store.is_folder(key):
                return ObjectInfo(path=key, is_dir=True)
            raise NotFound(f"{key!r} not found", path=key)

        return _with_path(self._first(one), key)

    # ------------------------------------------------------------ listing

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        folder = prefix[:-1]
        stores = self._stores[:1] if self._list_policy == "primary" else self._stores
        seen: set[str] = set()
        for index, store in enumerate(stores):
            # What a destination's listing skipped is passed on (and counts up there).
            why = f"destination {index} of the mirror skipped it"
            files = partial(store.list_files, folder, recursive=recursive)
            for info in relay_skipped(files, why):
                if isinstance(info, SkippedEntry):
                    yield info
                elif info.path not in seen:
                    seen.add(info.path)
                    yield info
            if not recursive:
                folders = partial(store.list_folders, folder)
                for sub in relay_skipped(folders, why, folders=True):
                    if isinstance(sub, SkippedEntry):
                        yield sub
                    elif sub + "/" not in seen:
                        seen.add(sub + "/")
                        yield ObjectInfo(path=sub, is_dir=True)

    # ------------------------------------------------------------ changes

    def delete(self, key: str) -> None:
        self._on_all(lambda store: store.delete(key, missing_ok=True), f"delete {key!r}")

    def delete_version(self, key: str, version: str) -> None:
        try:
            pairs = [(int(index), str(token)) for index, token in json.loads(version)]
        except (ValueError, TypeError) as exc:
            raise VersionMismatch(f"{version!r} is not a version this mirror wrote") from exc
        if not all(0 <= index < len(self._stores) for index, _ in pairs):
            raise VersionMismatch(f"{version!r} is not a version this mirror wrote")
        changed: list[int] = []
        for index, token in pairs:
            try:
                self._stores[index].delete(key, missing_ok=True, if_version=token)
            except PreconditionFailed:
                changed.append(index)  # another writer's version: left alone
        if changed:
            raise VersionMismatch(
                f"{key!r}: destinations {changed} hold another writer's version, left alone"
            )

    def mkdir(self, key: str) -> None:
        self._on_all(lambda store: store.make_folder(key), f"mkdir {key!r}")

    def rmdir(self, key: str) -> None:
        def one(store: Store) -> None:
            if store.is_folder(key):
                store.delete_folder(key)

        self._on_all(one, f"rmdir {key!r}")

    def _on_all(self, call: Callable[[Store], None], what: str) -> None:
        errors: list[StorageError] = []
        for store in self._stores:
            try:
                call(store)
            except StorageError as exc:
                errors.append(exc)
        done = len(self._stores) - len(errors)
        if errors and done < self._policy.required(len(self._stores)):
            if len(errors) == len(self._stores):
                raise detach(errors[0])
            raise MirrorWriteError(
                f"{what}: failed on {len(errors)} of {len(self._stores)} destinations "
                f"({errors[0]})",
                temporary=all(e.temporary for e in errors),
            ) from errors[0]

    # ------------------------------------------------------------ crash leftovers

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        for index, store in enumerate(self._stores):
            ext = store.unwrap()
            inner_prefix = paths.folder_prefix(paths.join(store.root, prefix[:-1]))
            for item in ext.list_leftovers(inner_prefix):
                key = item.key
                if store.root and paths.is_within(key, store.root):
                    key = paths.relative_to(key, store.root)
                yield Leftover(
                    kind=item.kind,
                    key=key,
                    native=item.native,
                    size=item.size,
                    started=item.started,
                    handle=f"{index}\x00{item.key}\x00{item.handle}",
                )

    def remove_leftover(self, leftover: Leftover) -> None:
        index, key, handle = leftover.handle.split("\x00", 2)
        store = self._stores[int(index)]
        store.unwrap().remove_leftover(
            Leftover(
                kind=leftover.kind,
                key=key,
                native=leftover.native,
                size=leftover.size,
                started=leftover.started,
                handle=handle,
            )
        )


def _close_result(future: Future[Any]) -> None:
    with contextlib.suppress(Exception):
        result = future.result()
        close = getattr(result, "close", None)
        if callable(close):
            close()


def _with_path(info: ObjectInfo, key: str) -> ObjectInfo:
    if info.path == key:
        return info
    return ObjectInfo(
        key,
        info.size,
        info.modified,
        info.is_dir,
        info.content_type,
        info.etag,
        info.hashes,
        info.metadata,
        info.modified_ns,
    )
