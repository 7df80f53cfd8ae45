"""Object info from a blob, the ``mtime`` metadata key, and GCS's hash encodings.

``etag`` is the object's generation (:func:`version`). A modification time set
on write is stored as the custom metadata key ``mtime`` (RFC 3339, as rclone
does) and reported as ``modified``; hashes
arrive base64-encoded and are reported in lowercase hex. The ``X-Goog-Hash``
helpers read and write the CRC32C that guards uploads and downloads.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any

from omnistorage.models import HashType, ObjectInfo

__all__ = [
    "MTIME_KEY",
    "crc32c_from_header",
    "crc32c_header",
    "format_mtime",
    "info",
    "version",
]

MTIME_KEY = "mtime"


def info(blob: Any) -> ObjectInfo:
    metadata: dict[str, str] = dict(blob.metadata or {})
    modified: datetime | None = blob.updated
    stamp = metadata.get(MTIME_KEY)
    if stamp is not None:
        parsed = _parse_mtime(stamp)
        if parsed is not None:
            modified = parsed
            del metadata[MTIME_KEY]
    hashes: dict[HashType, str] = {}
    for kind, value in ((HashType.MD5, blob.md5_hash), (HashType.CRC32C, blob.crc32c)):
        digest = _b64_hex(value)
        if digest:
            hashes[kind] = digest
    return ObjectInfo(
        path=blob.name,
        size=int(blob.size or 0),
        modified=modified,
        content_type=blob.content_type,
        etag=version(blob),
        hashes=hashes,
        metadata=metadata,
    )


def version(blob: Any) -> str | None:
    """The object's version token: its generation, as text. GCS gives every write of an
    object a new generation (a metadata update keeps it, and changes the service's own
    ``etag``), and pinned reads ask for exactly this generation, so ``stat``'s ``etag``
    and a pinned reader's ``version`` are one strong token."""
    generation = getattr(blob, "generation", None)
    return None if generation is None else str(generation)


def _b64_hex(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return None


_MTIME_RE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")


def format_mtime(when: datetime) -> str:
    """RFC 3339 in UTC with trailing fraction zeros dropped (Go's RFC3339Nano, as rclone)."""
    when = when.astimezone(UTC)  # a naive time is local time, as datetime.timestamp() takes it
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += "." + f"{when.microsecond:06d}".rstrip("0")
    return text + "Z"


def _parse_mtime(text: str) -> datetime | None:
    match = _MTIME_RE.fullmatch(text.strip())
    if match is None:
        return None
    base, fraction, zone = match.groups()
    micros = (fraction or "").ljust(6, "0")[:6]
    try:
        parsed = datetime.fromisoformat(f"{base}.{micros}{'+00:00' if zone == 'Z' else zone}")
    except ValueError:
        return None
    return parsed.astimezone(UTC)


def crc32c_from_header(header: str | None) -> int | None:
    """The CRC32C in an ``X-Goog-Hash`` header (``crc32c=<b64>,md5=<b64>``), if any."""
    if not header:
        return None
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "crc32c":
            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return None
            return int.from_bytes(raw, "big") if len(raw) == 4 else None
    return None


def crc32c_header(crc: int) -> str:
    return "crc32c=" + base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")
