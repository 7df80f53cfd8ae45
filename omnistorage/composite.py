"""CompositeStore: one Store over tiers of stores (hot, warm, archive …).

>>> from omnistorage import MemoryBackend, Store
>>> from omnistorage.composite import CompositeStore, Tier
>>> hot, cold = Store(MemoryBackend()), Store(MemoryBackend())
>>> cold.write("report.csv", b"old,data") and None
>>> tiers = CompositeStore([Tier("hot", hot), Tier("cold", cold)])
>>> tiers.read_bytes("report.csv")      # falls through to the cold tier
b'old,data'
>>> tiers.resolve("report.csv").steps
('hot: not found', 'cold: resolved')

- **Reads** fall through the tiers in order, among the tiers whose ``match``
  glob matches the key (a tier without ``match`` takes every key); the first
  tier holding the file answers. ``exists``, stats and ranged/pinned reads
  follow the same rule.
- **Writes** go to one tier: ``write_tier`` if given, else the first
  matching tier. They never touch other tiers, unless ``write_through=True``,
  which copies each published object to the other matching tiers that can be
  written (a failure there raises after the primary publish; the primary copy
  stands).
- **Create-only** (``write``, ``open_atomic``, ``copy``/``move`` with
  ``overwrite=False``) consults every tier a read would see, not only the write
  tier: a key that exists in any matching tier is ``AlreadyExists``. The write
  tier's own create-only check stays the atomic one; the other tiers are asked
  when the write opens and again right after it published, and a key that
  appeared in one of them meanwhile (a ``migrate`` into it, another client) makes the write undo its
  publish with a conditional delete of its own version (``AlreadyExists``), or,
  where the write tier has no conditional delete, raise ``PartialPublish``
  naming both tiers.
- **Deletes** remove the key from every matching tier that can delete, so a
  lower tier's older copy cannot reappear through fallthrough.
- **Listings** are the union of the matching tiers that can list, deduplicated,
  the first tier winning; ``list_files(..., tier="name")`` scopes to one tier.
- ``migrate(key, from_tier, to_tier)`` copies between tiers (then deletes the
  source unless ``keep_source=True``).
- **Capabilities**: writes (ATOMIC_WRITE, CONDITIONAL_WRITE, metadata …) are
  the write tier's; reads declare RANGE_READ / PINNED_READ / METADATA only
  when every tier does; the other facts combine by
  :func:`~omnistorage.capabilities.combine_replicas` (``overwrite_may_conflict``
  when any tier declares it). CONDITIONAL_DELETE is the write tier's (a version
  names an object a write put there), except with ``write_through``, whose copies
  are other versions.
- ``resolve(key)`` lists the tiers tried and the one that answered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO

from omnistorage import paths
from omnistorage._delegate import StorePinned, ranged_reader
from omnistorage._glob import compile_glob
from omnistorage._io import AtomicWriter
from omnistorage._listing import Listing, OnInvalid, relay_skipped
from omnistorage._times import ModTime
from omnistorage.capabilities import (
    MUTATING_CAPABILITIES,
    Capability,
    Features,
    combine_replicas,
)
from omnistorage.driver import ExtendedBackend, PinnedReader, WriteOptions, Writer
from omnistorage.errors import (
    Classification,
    ConfigurationError,
    ErrorKind,
    PreconditionFailed,
    StorageError,
    classify_builtin,
)
from omnistorage.models import Leftover, Location, ObjectInfo, SkippedEntry
from omnistorage.multi._report import PartialPublish, detach
from omnistorage.store import Store

__all__ = ["CompositeStore", "Tier"]

# The write tier's changes, but for server-side copy and move: the composite has no
# copy() or move() of its own (a key's source and target may be on different tiers), and
# no staged publish (create-only across tiers is checked at close, not at a later publish).
_WRITE_SIDE = MUTATING_CAPABILITIES - {
    Capability.COPY,
    Capability.MOVE,
    Capability.DEFERRED_PUBLISH,
}
_READ_SIDE = (Capability.METADATA, Capability.RANGE_READ, Capability.PINNED_READ)
_KINDS = sorted(ErrorKind, key=lambda kind: -len(kind.value.__mro__))


@dataclass(frozen=True)
class Tier:
    """One tier: a name, a store, and optionally a glob (``"hot/**"``) of the keys it holds."""

    name: str
    store: Store
    match: str | None = None

    def takes(self, key: str) -> bool:
        return self.match is None or compile_glob(self.match).fullmatch(key) is not None


@contextlib.contextmanager
def _detached() -> Iterator[None]:
    """Re-raise a tier store's error without its tier-relative path (the composite Store
    fills in its own), chained to the native cause."""
    try:
        yield
    except StorageError as exc:
        error = detach(exc)
        raise error from error.__cause__


class _TierBackend(ExtendedBackend):
    """The driver behind :class:`CompositeStore` (see the module docstring)."""

    name = "composite"
    may_declare = frozenset({Capability.READ, Capability.LIST, *_WRITE_SIDE, *_READ_SIDE})

    def __init__(self, tiers: Sequence[Tier], write_tier: str | None, write_through: bool) -> None:
        names = [tier.name for tier in tiers]
        if not tiers or len(set(names)) != len(names):
            raise ConfigurationError("a composite needs one or more tiers with distinct names")
        if write_tier is not None and write_tier not in names:
            raise ConfigurationError(f"write_tier {write_tier!r} is not one of {names}")
        self.tiers = tuple(tiers)
        self._write_tier = write_tier
        self._write_through = write_through
        self._features = self._compute_features()
        self.folders_are_markers = any(
            getattr(tier.store.unwrap(), "folders_are_markers", False) for tier in self.tiers
        )

    def __repr__(self) -> str:
        return "CompositeStore([" + ", ".join(f"{t.name}={t.store!r}" for t in self.tiers) + "])"

    def _compute_features(self) -> Features:
        writer = self._tier_named(self._write_tier) if self._write_tier else self.tiers[0]
        caps = {Capability.READ}
        if any(t.store.supports(Capability.LIST) for t in self.tiers):
            caps.add(Capability.LIST)  # the union of the tiers that list
        caps |= {c for c in _WRITE_SIDE if writer.store.supports(c)}
        if self._write_through:
            caps.discard(Capability.CONDITIONAL_DELETE)
        caps |= {c for c in _READ_SIDE if all(t.store.supports(c) for t in self.tiers)}
        return combine_replicas((t.store.features for t in self.tiers), caps)

    def features(self) -> Features:
        return self._features

    def locations(self) -> tuple[Location, ...]:
        return tuple(place for tier in self.tiers for place in tier.store.locations)

    def classify_error(self, exc: BaseException) -> Classification:
        if isinstance(exc, StorageError):
            for kind in _KINDS:
                if isinstance(exc, kind.value):
                    return Classification(kind, exc.temporary)
        return classify_builtin(exc)

    def close(self) -> None:
        for tier in self.tiers:
            tier.store.close()
        self.closed = True

    # ------------------------------------------------------------ routing

    def _tier_named(self, name: str | None) -> Tier:
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise ConfigurationError(f"no tier named {name!r}")

    def _candidates(self, key: str) -> list[Tier]:
        return [tier for tier in self.tiers if tier.takes(key)]

    def _writer_for(self, key: str) -> Tier:
        if self._write_tier is not None:
            return self._tier_named(self._write_tier)
        candidates = self._candidates(key)
        if not candidates:
            raise PermissionError(f"no tier takes {key!r}")
        return candidates[0]

    def _holder(self, key: str) -> Tier:
        for tier in self._candidates(key):
            if tier.store.is_file(key):
                return tier
        raise FileNotFoundError(f"{key!r} is in no tier")

    def resolution_steps(self, key: str) -> tuple[str, ...]:
        steps = []
        for tier in self.tiers:
            if not tier.takes(key):
                steps.append(f"{tier.name}: skipped (match {tier.match!r})")
            elif tier.store.is_file(key):
                steps.append(f"{tier.name}: resolved")
                break
            else:
                steps.append(f"{tier.name}: not found")
        return tuple(steps)

    # ------------------------------------------------------------ reads

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        with _detached():
            tier = self._holder(key)
            if offset == 0 and length is None:
                return tier.store.read(key)
            return ranged_reader(tier.store, key, offset, length)

    def open_pinned(self, key: str) -> PinnedReader:
        with _detached():
            return StorePinned(self._holder(key).store, key)

    def exists(self, key: str) -> bool:
        with _detached():
            return any(tier.store.is_file(key) for tier in self._candidates(key))

    def stat(self, key: str) -> ObjectInfo:
        with _detached():
            return self._stat(key)

    def _stat(self, key: str) -> ObjectInfo:
        for tier in self._candidates(key):
            if tier.store.is_file(key):
                info = tier.store.get_file_info(key)
                return ObjectInfo(
                    key,
                    info.size,
                    info.modified,
                    False,
                    info.content_type,
                    info.etag,
                    info.hashes,
                    info.metadata,
                    info.modified_ns,
                )
        if any(
            tier.store.is_folder(key) for tier in self.tiers if tier.store.supports(Capability.LIST)
        ):
            return ObjectInfo(path=key, is_dir=True)
        raise FileNotFoundError(f"{key!r} is in no tier")

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        with _detached():
            yield from self._union(self.tiers, prefix, recursive)

    def _union(self, tiers: Sequence[Tier], prefix: str, recursive: bool) -> Iterator[ObjectInfo]:
        folder = prefix[:-1]
        seen: set[str] = set()
        for tier in tiers:
            if not tier.store.supports(Capability.LIST):
                continue  # a tier that cannot list adds nothing to the union
            # What a tier's listing skipped is passed on (and counts up there).
            why = f"tier {tier.name!r} skipped it"
            files = partial(tier.store.list_files, folder, recursive=recursive)
            for info in relay_skipped(files, why):
                if isinstance(info, SkippedEntry):
                    yield info
                elif info.path not in seen and tier.takes(info.path):
                    seen.add(info.path)
                    yield info
            if not recursive:
                folders = partial(tier.store.list_folders, folder)
                for sub in relay_skipped(folders, why, folders=True):
                    if isinstance(sub, SkippedEntry):
                        yield sub
                    elif sub + "/" not in seen:
                        seen.add(sub + "/")
                        yield ObjectInfo(path=sub, is_dir=True)

    # ------------------------------------------------------------ writes

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        with _detached():
            return self._new_writer(key, options)

    def _new_writer(self, key: str, options: WriteOptions) -> Writer:
        tier = self._writer_for(key)
        shadowed = [t for t in self._candidates(key) if t is not tier]
        if not options.overwrite:
            self._refuse_if_held(shadowed, key)  # fail fast; checked again at the publish
        inner = tier.store.open_writer(
            key,
            overwrite=options.overwrite,
            content_type=options.content_type,
            metadata=dict(options.metadata) or None,
            modified=options.modified_ns,
            size_hint=options.size_hint,
        )
        others = (
            [
                t
                for t in self._candidates(key)
                if t is not tier and t.store.supports(Capability.WRITE)
            ]
            if self._write_through
            else []
        )
        return _TierWriter(self, inner, tier, others, key, options, shadowed)

    @staticmethod
    def _refuse_if_held(tiers: Sequence[Tier], key: str) -> None:
        """Create-only: a key any of ``tiers`` holds exists for every reader."""
        for other in tiers:
            if other.store.is_file(key):
                raise FileExistsError(f"{key!r} exists in tier {other.name!r}")

    def delete(self, key: str) -> None:
        with _detached():
            for tier in self._candidates(key):
                if tier.store.supports(Capability.DELETE):
                    tier.store.delete(key, missing_ok=True)

    def delete_version(self, key: str, version: str) -> None:
        """Only the write tier holds a version a write put there; copies of the key in
        other tiers are other objects and stay."""
        with _detached():
            self._writer_for(key).store.delete(key, missing_ok=True, if_version=version)

    def mkdir(self, key: str) -> None:
        with _detached():
            self._writer_for(key).store.make_folder(key)

    def rmdir(self, key: str) -> None:
        with _detached():
            for tier in self.tiers:
                if tier.store.supports(Capability.MKDIR) and tier.store.is_folder(key):
                    tier.store.delete_folder(key)

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        for index, tier in enumerate(self.tiers):
            ext = tier.store.unwrap()
            inner = paths.folder_prefix(paths.join(tier.store.root, prefix[:-1]))
            for item in ext.list_leftovers(inner):
                key = item.key
                if tier.store.root and paths.is_within(key, tier.store.root):
                    key = paths.relative_to(key, tier.store.root)
                yield Leftover(
                    item.kind,
                    key,
                    item.native,
                    item.size,
                    item.started,
                    f"{index}\x00{item.key}\x00{item.handle}",
                )

    def remove_leftover(self, leftover: Leftover) -> None:
        index, key, handle = leftover.handle.split("\x00", 2)
        self.tiers[int(index)].store.unwrap().remove_leftover(
            Leftover(leftover.kind, key, leftover.native, leftover.size, leftover.started, handle)
        )


class _TierWriter(Writer):
    """Writes to the write tier; with write-through, copies the published object on.
    Create-only checks the ``shadowed`` tiers again once published (see the module
    docstring)."""

    def __init__(
        self,
        owner: _TierBackend,
        inner: AtomicWriter,
        tier: Tier,
        others: list[Tier],
        key: str,
        options: WriteOptions,
        shadowed: list[Tier],
    ) -> None:
        self._owner = owner
        self._inner = inner
        self._tier = tier
        self._others = others
        self._key = key
        self._options = options
        self._shadowed = [] if options.overwrite else shadowed

    def write(self, data: bytes | bytearray | memoryview) -> int:
        with _detached():
            return self._inner.write(data)

    def flush(self) -> None:
        with _detached():
            self._inner.drain()

    def close(self) -> None:
        with _detached():
            self.version = self._inner.close().version
            self._check_after_publish()
            for other in self._others:
                with self._tier.store.read(self._key) as source:
                    other.store.write(self._key, source, overwrite=True)

    def _check_after_publish(self) -> None:
        """A key that appeared in another tier while we published: undo our own copy."""
        held = [t for t in self._shadowed if t.store.is_file(self._key)]
        if not held:
            return
        store, version = self._tier.store, self.version
        names = ", ".join(repr(t.name) for t in held)
        if version is not None and store.supports(Capability.CONDITIONAL_DELETE):
            with contextlib.suppress(PreconditionFailed):  # replaced since: not ours
                store.delete(self._key, missing_ok=True, if_version=version)
            raise FileExistsError(f"{self._key!r} appeared in tier {names} during the write")
        tiers = self._owner.tiers
        error = PartialPublish(
            f"write {self._key!r}: published in tier {self._tier.name!r} while it appeared "
            f"in tier {names}; the write tier cannot delete conditionally, so the new copy "
            "stays and shadows it",
            op="write",
        )
        error.new = (tiers.index(self._tier),)
        error.old = tuple(tiers.index(t) for t in held)
        raise error

    def abort(self) -> None:
        with _detached():
            self._inner.abort()


class CompositeStore(Store):
    """A Store over tiers (see the module docstring).

    Args:
        tiers: the tiers, in read priority order.
        write_tier: the tier writes go to (default: the first tier that takes the key).
        write_through: also copy each published object to the other matching tiers.
        root: a folder inside every tier, as for any Store.
    """

    __slots__ = ()

    def __init__(
        self,
        tiers: Sequence[Tier],
        *,
        write_tier: str | None = None,
        write_through: bool = False,
        root: str = "",
    ) -> None:
        super().__init__(_TierBackend(tiers, write_tier, write_through), root)

    @property
    def tiers(self) -> tuple[Tier, ...]:
        return self._tier_backend().tiers

    def _tier_backend(self) -> _TierBackend:
        backend = self.unwrap()
        assert isinstance(backend, _TierBackend)
        return backend

    def child(self, path: str) -> CompositeStore:
        """A composite rooted at ``path`` below this one, over the same tiers."""
        self._check_open()
        child = object.__new__(CompositeStore)
        Store.__init__(child, self.unwrap(), paths.join(self.root, paths.validate_folder(path)))
        return child

    def tier(self, name: str) -> Store:
        """The store of tier ``name``, scoped to this composite's root."""
        store = self._tier_backend()._tier_named(name).store
        return store.child(self.root) if self.root else store

    def list_files(
        self,
        path: str = "",
        *,
        recursive: bool = False,
        pattern: str | None = None,
        max_depth: int | None = None,
        on_invalid: OnInvalid | None = None,
        tier: str | None = None,
    ) -> Listing[ObjectInfo]:
        """As :meth:`Store.list_files`; ``tier=`` scopes the listing to one tier."""
        if tier is not None:
            return self.tier(tier).list_files(
                path,
                recursive=recursive,
                pattern=pattern,
                max_depth=max_depth,
                on_invalid=on_invalid,
            )
        return super().list_files(
            path, recursive=recursive, pattern=pattern, max_depth=max_depth, on_invalid=on_invalid
        )

    def migrate(
        self,
        path: str,
        from_tier: str,
        to_tier: str,
        *,
        keep_source: bool = False,
        modified: ModTime | None = None,
    ) -> None:
        """Copy ``path`` from one tier to another (overwriting there), then delete it from
        the source tier unless ``keep_source``. ``CapabilityNotSupported`` before any I/O
        when the target cannot be written or the source cannot delete (use
        ``keep_source=True`` to copy out of a read-only tier)."""
        source, target = self.tier(from_tier), self.tier(to_tier)
        target._require(Capability.WRITE, "migrate", path)
        if not keep_source:
            source._require(Capability.DELETE, "migrate", path)
        with source.read(path) as stream:
            written = target.write(
                path,
                stream,
                overwrite=True,
                modified=modified if target.supports(Capability.SET_MOD_TIME) else None,
            )
        # Checked against the bytes that were read, not the source's stat: a size may be
        # unknown before the content is produced (ObjectInfo.size None, a query result).
        if target.get_file_info(path).size != written.size:
            raise StorageError(f"migrate {path!r}: the copy in {to_tier!r} has the wrong size")
        if not keep_source:
            source.delete(path)
