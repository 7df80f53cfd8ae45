"""Blob metadata and properties: the write-side metadata, and :class:`ObjectInfo` from a blob.

The modification time is kept rclone-style in the ``mtime`` metadata entry
(RFC 3339); ``mtime`` and Data Lake's ``hdi_isfolder`` are reserved names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from azure.storage.blob import BlobProperties

from omnistorage._times import format_rfc3339, parse_rfc3339, to_ns
from omnistorage.driver import WriteOptions
from omnistorage.models import HashType, ObjectInfo

__all__ = ["blob_metadata", "info", "is_directory", "listed"]

_MTIME = "mtime"
_HDI_FOLDER = "hdi_isfolder"
_RESERVED = frozenset({_MTIME, _HDI_FOLDER})
_METADATA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def blob_metadata(options: WriteOptions) -> dict[str, str] | None:
    """The blob metadata for a write: checked user metadata plus the rclone-style ``mtime``."""
    metadata: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in options.metadata.items():
        if not _METADATA_NAME.match(name):
            raise ValueError(
                f"Azure metadata names must be C# identifiers (ASCII letters, digits, '_'), "
                f"got {name!r}"
            )
        lowered = name.lower()
        if lowered in _RESERVED:
            raise ValueError(f"the metadata name {name!r} is reserved by the azure backend")
        if lowered in seen:
            raise ValueError(f"Azure metadata names ignore case: {name!r} is given twice")
        seen.add(lowered)
        if not (value.isascii() and value.isprintable()) or value != value.strip():
            raise ValueError(
                f"Azure metadata values must be printable ASCII without surrounding blanks, "
                f"got {value!r} for {name!r}"
            )
        metadata[name] = value
    if options.modified_ns is not None:
        # rclone's Azure format: RFC 3339 in UTC with nine fraction digits.
        metadata[_MTIME] = format_rfc3339(options.modified_ns, fixed=True)
    return metadata or None


def _parse_mtime(value: str) -> int | None:
    """Nanoseconds of an ``mtime`` entry: RFC 3339 (rclone's, ours), else any ISO 8601
    time ``datetime`` reads (a time without an offset is UTC)."""
    found = parse_rfc3339(value)
    if found is not None:
        return found
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return to_ns(when.replace(tzinfo=UTC) if when.tzinfo is None else when)


def is_directory(metadata: Mapping[str, str] | None) -> bool:
    items = (metadata or {}).items()
    return any(k.lower() == _HDI_FOLDER and v.lower() == "true" for k, v in items)


def info(key: str, props: BlobProperties) -> ObjectInfo:
    user: dict[str, str] = {}
    modified: datetime | None = None
    modified_ns: int | None = None
    for name, value in (props.metadata or {}).items():
        lowered = name.lower()
        if lowered == _MTIME:
            modified_ns = _parse_mtime(value)
        elif lowered not in _RESERVED:
            user[name] = value
    if modified_ns is None and props.last_modified is not None:
        last = props.last_modified
        modified = last.replace(tzinfo=UTC) if last.tzinfo is None else last.astimezone(UTC)
    settings = props.content_settings
    md5 = settings.content_md5 if settings is not None else None
    return ObjectInfo(
        path=key,
        size=int(props.size or 0),
        modified=modified,
        modified_ns=modified_ns,
        content_type=settings.content_type if settings is not None else None,
        etag=props.etag,
        hashes={HashType.MD5: bytes(md5).hex()} if md5 else {},
        metadata=user,
    )


def listed(props: BlobProperties) -> ObjectInfo | None:
    name = props.name
    if not name or is_directory(props.metadata):
        return None  # Data Lake directories are not files (markers are the driver's)
    return info(name, props)
