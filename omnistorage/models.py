"""Plain data types the Store returns: object and folder info, write results, plans."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "CleanupReport",
    "FolderInfo",
    "HashType",
    "Leftover",
    "ObjectInfo",
    "ResolutionPlan",
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
    """

    path: str
    size: int | None = 0
    modified: datetime | None = None
    is_dir: bool = False
    content_type: str | None = None
    etag: str | None = None
    hashes: Mapping[HashType, str] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The last segment of ``path``."""
        return self.path[self.path.rfind("/") + 1 :]


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
