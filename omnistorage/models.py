"""Plain data types the Store returns: object and folder info, write results, plans."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from omnistorage._times import from_ns, to_ns

__all__ = [
    "CleanupReport",
    "FolderInfo",
    "HashType",
    "Leftover",
    "Location",
    "ObjectInfo",
    "ResolutionPlan",
    "SkippedEntry",
    "WriteResult",
]


class HashType(enum.StrEnum):
    """Content hashes a backend may report. Values are lowercase hex digests."""

    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    CRC32C = "crc32c"


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What is known about one file (or, in shallow listings, one folder).

    ``path`` is relative to the Store that returned it (drivers use keys
    relative to the backend root; the Store rewrites them). ``modified`` is
    timezone-aware UTC when known. ``hashes`` holds only what the backend
    returns without reading the content (lowercase hex). ``etag`` is the
    backend's opaque version tag, when it has one. ``size`` is ``None`` when the
    size is not known without producing the content (a query result that is
    materialized on read, see ``SQLQueryBackend``); callers that need a number
    must treat ``None`` as "unknown", never as zero.

    The modification time is one value, seen two ways: ``modified_ns`` is the time
    in integer nanoseconds since the Unix epoch, as finely as the backend keeps it
    (``Features.mtime_precision_ns``), and ``modified`` is the same instant as a UTC
    ``datetime``, truncated to the microsecond. A driver gives either (the other is
    derived) or both, which must then agree (``ValueError`` otherwise), so the two
    can never tell different times. Code that compares or copies times uses
    ``modified_ns``.
    """

    path: str
    size: int | None = 0
    modified: datetime | None = None
    is_dir: bool = False
    content_type: str | None = None
    etag: str | None = None
    hashes: Mapping[HashType, str] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)
    modified_ns: int | None = None

    def __post_init__(self) -> None:
        ns, when = self.modified_ns, self.modified
        if ns is None:
            if when is not None:
                ns = to_ns(when)
                object.__setattr__(self, "modified_ns", ns)
                if when.tzinfo is not UTC:
                    object.__setattr__(self, "modified", from_ns(ns))
        elif when is None:
            object.__setattr__(self, "modified", from_ns(ns))
        elif to_ns(when) != ns - ns % 1000:
            raise ValueError(
                f"ObjectInfo {self.path!r}: modified {when.isoformat()} and modified_ns {ns} "
                "are different times"
            )

    @property
    def name(self) -> str:
        """The last segment of ``path``."""
        return self.path[self.path.rfind("/") + 1 :]


@dataclass(frozen=True, slots=True)
class SkippedEntry(ObjectInfo):
    """A listing entry that a wrapper's inner listing skipped, passed on as data.

    Drivers that list through other stores (a mirror's destinations, a composite's
    tiers) or that drop rows of their own (a query listing whose keys break the
    grammar) yield one of these for every entry they did not list, so that what was
    skipped counts at every level like a foreign key of one's own (DESIGN §2,
    guarantee 8). ``path`` is the native name as the inner listing saw it (for logs
    and reports, never a key); ``reason`` says why it was skipped. The Store never
    yields these: it counts them on the :class:`~omnistorage._listing.Listing`.
    """

    reason: str = ""


@dataclass(frozen=True, slots=True)
class Location:
    """Where a store points, so that overlaps are judged by location, never by handle.

    Two stores opened separately (two ``open_store`` calls, two named memory handles,
    a profile and a URL) on one place have equal locations.

    Attributes:
        scheme: the kind of system: ``file``, ``s3``, ``gs``, ``az``, ``sftp``,
            ``memory``, ``sql``, ``http`` …
        authority: which one, canonical and free of credentials: an endpoint and a
            bucket, ``host:port``, a database URL without its password, a named memory
            space; ``instance:<id>`` when a backend can say nothing better than its own
            handle.
        path: the folder inside it, ``/``-separated, without leading or trailing ``/``
            (``""``: all of it). For local files, the real absolute path.
        case_insensitive: paths differing only in case are one place there.
    """

    scheme: str
    authority: str
    path: str = ""
    case_insensitive: bool = False

    def child(self, sub: str) -> Location:
        """The location of the folder ``sub`` (a relative ``/`` path) below this one."""
        sub = sub.strip("/")
        if not sub:
            return self
        path = f"{self.path}/{sub}" if self.path else sub
        return Location(self.scheme, self.authority, path, self.case_insensitive)

    def contains(self, other: Location) -> bool:
        """``other`` is this location or lies below it."""
        if (self.scheme, self.authority) != (other.scheme, other.authority):
            return False
        mine, theirs = self.path, other.path
        if self.case_insensitive or other.case_insensitive:
            mine, theirs = mine.casefold(), theirs.casefold()
        return not mine or theirs == mine or theirs.startswith(mine + "/")

    def overlaps(self, other: Location) -> bool:
        """One location lies inside the other (or they are the same)."""
        return self.contains(other) or other.contains(self)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}/{self.path}"


@dataclass(frozen=True, slots=True)
class FolderInfo:
    """A folder's summary: files under it (recursively), their total size, latest mtime."""

    path: str
    file_count: int
    total_size: int
    modified: datetime | None = None


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a published write produced."""

    path: str
    size: int
    hashes: Mapping[HashType, str] = field(default_factory=dict)
    """Hex digests of the published bytes, for the hash types the write asked for."""
    version: str | None = None
    """The version this write published (an ETag, a generation, an inode token …), as the
    backend names it for ``delete(path, if_version=…)``; ``None`` where the backend cannot
    tell (it does not declare ``CONDITIONAL_DELETE``)."""


@dataclass(frozen=True, slots=True)
class ResolutionPlan:
    """Where a store-relative path goes: which backend, which backend key, which native path.

    Composite stores add one step per tier they would consult, in order.
    """

    path: str
    backend: str
    key: str
    native_path: str
    steps: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Leftover:
    """Something a crashed or abandoned writer left behind, invisible to the Store API.

    Drivers report these from :meth:`~omnistorage.driver.ExtendedBackend.list_leftovers`
    and remove them with :meth:`~omnistorage.driver.ExtendedBackend.remove_leftover`.

    Attributes:
        kind: what it is: ``"temp-file"`` (local, SFTP), ``"multipart-upload"`` (S3),
            ``"uncommitted-blocks"`` (Azure), ``"resumable-upload"`` (GCS) …
        key: the backend-relative key the write was for (the Store rebases it), or
            the folder the leftover lies in when the target cannot be known.
        native: the backend's own name for the leftover (temp path, upload id …),
            for logs and reports; never contains secrets.
        size: bytes it holds, when known.
        started: when the write started (or the leftover was last modified), UTC.
        handle: opaque driver data that identifies it for removal.
    """

    kind: str
    key: str
    native: str
    size: int | None = None
    started: datetime | None = None
    handle: str = ""


@dataclass(frozen=True, slots=True)
class CleanupReport:
    r"""What :meth:`omnistorage.Store.cleanup` found and did.

    Attributes:
        removed: leftovers removed (or, with ``dry_run``, that would be), with
            store-relative ``key``\ s.
        kept: leftovers younger than ``older_than`` (possibly live writers), left alone.
        errors: ``(native name, error message)`` for leftovers that could not be removed.
    """

    removed: tuple[Leftover, ...] = ()
    kept: tuple[Leftover, ...] = ()
    errors: tuple[tuple[str, str], ...] = ()

    @property
    def bytes_removed(self) -> int:
        """Total size of the removed leftovers whose size is known."""
        return sum(item.size or 0 for item in self.removed)
