"""What each side of a sync can tell and keep: mtimes, hashes, and rclone's metadata names.

Modification times travel three ways:

- **settable** (``SET_MOD_TIME``: local, memory, SFTP, GCS, Azure, SQL): a
  write takes ``modified=`` and listings return it. GCS and Azure keep it in
  an ``mtime`` metadata entry in RFC 3339, as rclone does.
- **in metadata** (no ``SET_MOD_TIME`` but ``USER_METADATA``: S3): the sync
  engine writes an ``mtime`` metadata entry in rclone's S3 format (decimal
  seconds since the epoch, ``"1614834367.123456"``; rclone writes and reads
  ``X-Amz-Meta-Mtime`` this way), which only ``stat`` (``HEAD``) returns.
  Listings carry the server's upload time instead. This is a convention of
  the sync engine, not of the S3 driver: ``stat`` and listings of the S3
  driver keep reporting the server's time, so ``SET_MOD_TIME`` stays honest.
- **none** (neither capability): the time cannot be kept.

Hashes: ``md5chksum`` is rclone's metadata entry for the MD5 of an S3 object
whose ETag is not one (multipart uploads): base64 of the 16 raw bytes. The
engine writes it when it knows the MD5 before the upload starts, so
``rclone check`` verifies our multipart objects, and reads it from ``stat``.
An S3 listing's ETag is an MD5 *candidate*: equal to the source's MD5 proves
equal content; different proves nothing (multipart uploads and SSE-KMS have
other ETags), so the engine then looks further (``stat``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from omnistorage._parts import PartLayout
from omnistorage.capabilities import Capability, ETagKind
from omnistorage.models import HashType
from omnistorage.store import Store

__all__ = [
    "HASH_STRENGTH",
    "MD5_KEY",
    "MTIME_KEY",
    "MultipartEtag",
    "Side",
    "decode_md5chksum",
    "describe",
    "encode_md5chksum",
    "format_mtime_seconds",
    "metadata_md5",
    "metadata_mtime",
    "multipart_candidate",
    "multipart_kind",
    "parse_mtime_text",
    "user_metadata",
]

MTIME_KEY = "mtime"
MD5_KEY = "md5chksum"
_CONVENTION_KEYS = frozenset({MTIME_KEY, MD5_KEY})

HASH_STRENGTH: tuple[str, ...] = (
    HashType.SHA256.value,
    HashType.SHA1.value,
    HashType.MD5.value,
    HashType.CRC32C.value,
)
"""Hash types, strongest first (``compare="checksum"`` uses the strongest both sides have)."""

_HEX32 = re.compile(r"[0-9a-f]{32}\Z")
_MULTIPART_ETAG = re.compile(r"([0-9a-f]{32})-([1-9][0-9]{0,4})\Z")
_MULTIPART_PREFIX = "s3-multipart-etag:"


@dataclass(frozen=True, slots=True)
class Side:
    """One store of a sync, described once: what its listings and writes can carry.

    Attributes:
        store: the store.
        name: the backend type name (``"s3"``, ``"local"`` …), for messages only: nothing
            is decided by it.
        settable_mtime: writes take ``modified=`` and listings return it.
        mtime_in_metadata: the engine keeps the mtime in an ``mtime`` metadata entry that
            only ``stat`` returns (S3).
        precision_us: how finely a kept mtime survives, in microseconds.
        hash_types: hash types the backend declares (listings or ``stat`` carry them).
        reads_local: the backend reads from this machine (``Features.reads_local``):
            hashes are computed by reading the file, and cached by its strong version.
        etag_md5_candidate: a listed ETag of 32 hex digits may be the MD5 (S3).
        has_metadata: ``stat`` works (``METADATA``).
        multipart: the part layout of the store's multipart uploads (``Features.multipart``
            of an S3-like store), with which a local file's multipart ETag can be computed.
        copy_keeps_mtime: a server-side copy keeps the source's mtime (``Features``).
    """

    store: Store
    name: str
    settable_mtime: bool
    mtime_in_metadata: bool
    precision_us: int
    hash_types: frozenset[str]
    reads_local: bool
    etag_md5_candidate: bool
    has_metadata: bool
    multipart: PartLayout | None = None
    copy_keeps_mtime: bool = True

    @property
    def keeps_mtime(self) -> bool:
        """The mtime of a written file can be kept (settable, or in metadata)."""
        return self.settable_mtime or self.mtime_in_metadata

    def can_hash(self, kind: str) -> bool:
        """``kind`` can be had for a file of this side without downloading it."""
        if self.reads_local or kind in self.hash_types:
            return True
        return kind == HashType.MD5.value and (self.etag_md5_candidate or self.mtime_in_metadata)


def describe(store: Store) -> Side:
    """Describe ``store`` for the engine (no I/O)."""
    features = store.features
    name = store.unwrap().name
    settable = store.supports(Capability.SET_MOD_TIME)
    md5_candidate = features.etag is ETagKind.MD5_OR_MULTIPART
    return Side(
        store=store,
        name=name,
        settable_mtime=settable,
        mtime_in_metadata=not settable and store.supports(Capability.USER_METADATA),
        # The engine's own metadata entry keeps microseconds; settable times keep what the
        # backend declares.
        precision_us=max(1, -(-features.mtime_precision_ns // 1000)) if settable else 1,
        hash_types=frozenset(kind.value for kind in features.hash_types),
        reads_local=features.reads_local,
        etag_md5_candidate=md5_candidate,
        has_metadata=store.supports(Capability.METADATA),
        multipart=features.multipart if md5_candidate else None,
        copy_keeps_mtime=features.copy_keeps_mtime,
    )


def copy_keeps_mtime(side: Side) -> bool:
    """A server-side copy on this backend keeps the source's mtime (and metadata)."""
    return side.copy_keeps_mtime


def etag_md5(etag: str | None) -> str | None:
    """The listed ETag as an MD5 candidate (32 lowercase hex digits), or ``None``."""
    if etag is None:
        return None
    etag = etag.strip('"').lower()
    return etag if _HEX32.match(etag) else None


# ---------------------------------------------------------------- multipart ETags
#
# S3 lists a multipart object's ETag as the MD5 of its parts' MD5 digests, then
# "-" and the part count. For an object our S3 writer uploaded, the parts follow
# from its size and the store's part size, so a local file's multipart ETag can
# be computed (one read, then cached like its MD5) and compared with the listing:
# a no-op sync of large files needs no HEAD. An ETag made with other parts (another
# tool, another part size) simply does not match, and the engine asks for metadata.


def multipart_kind(layout: PartLayout) -> str:
    """The hash-cache kind of a local file's multipart ETag under ``layout``."""
    return (
        f"{_MULTIPART_PREFIX}{layout.part_size}:{layout.max_parts}:{layout.max_part_size}:"
        f"{layout.growth_interval}"
    )


def _layout_of(kind: str) -> PartLayout:
    part_size, max_parts, max_part_size, growth = kind.removeprefix(_MULTIPART_PREFIX).split(":")
    return PartLayout(int(part_size), int(max_parts), int(max_part_size), int(growth))


def multipart_candidate(etag: str | None) -> tuple[str, int] | None:
    """A listed multipart ETag as (normalized ETag, part count), or ``None``."""
    if etag is None:
        return None
    etag = etag.strip('"').lower()
    match = _MULTIPART_ETAG.match(etag)
    return (etag, int(match.group(2))) if match else None


class MultipartEtag:
    """Computes the multipart ETag of content streamed through :meth:`update`."""

    def __init__(self, kind: str, size: int) -> None:
        parts = _layout_of(kind).lengths(size) or [size]
        self._lengths = iter(parts)
        self._count = len(parts)
        self._left = next(self._lengths)
        self._part = hashlib.md5(usedforsecurity=False)
        self._digests: list[bytes] = []
        self._overflow = False

    @staticmethod
    def handles(kind: str) -> bool:
        return kind.startswith(_MULTIPART_PREFIX)

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        view = memoryview(data).cast("B")
        while view:
            if self._left <= 0:
                self._overflow = True  # more content than its size said
                return
            take = min(len(view), self._left)
            self._part.update(view[:take])
            view = view[take:]
            self._left -= take
            if self._left == 0:
                self._digests.append(self._part.digest())
                self._part = hashlib.md5(usedforsecurity=False)
                self._left = next(self._lengths, 0)

    def hexdigest(self) -> str:
        """The ETag; a content longer or shorter than its size gives ``"-"``, which no
        listed ETag equals."""
        if self._overflow or len(self._digests) != self._count:
            return "-"
        whole = hashlib.md5(b"".join(self._digests), usedforsecurity=False).hexdigest()
        return f"{whole}-{self._count}"


# ---------------------------------------------------------------- mtime in metadata


def format_mtime_seconds(us: int) -> str:
    """rclone's S3 ``mtime`` format: decimal seconds, trailing zeros of the fraction dropped."""
    seconds, micros = divmod(us, 1_000_000)
    if not micros:
        return str(seconds)
    return f"{seconds}.{micros:06d}".rstrip("0")


_FLOAT_RE = re.compile(r"(-?\d+)(?:\.(\d+))?\Z")
_RFC3339_RE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)\Z")


def parse_mtime_text(text: str) -> int | None:
    """Microseconds for an ``mtime`` metadata value: rclone's decimal seconds (S3, Swift)
    or RFC 3339 (GCS, Azure); ``None`` when it is neither. Nanoseconds round to the
    nearest microsecond."""
    text = text.strip()
    match = _FLOAT_RE.match(text)
    if match is not None:
        whole, fraction = match.groups()
        nanos = int((fraction or "")[:9].ljust(9, "0"))
        sign = -1 if whole.startswith("-") else 1
        total_ns = int(whole) * 1_000_000_000 + sign * nanos
        return (total_ns + 500) // 1000
    match = _RFC3339_RE.match(text)
    if match is None:
        return None
    base, fraction, zone = match.groups()
    try:
        when = datetime.fromisoformat(f"{base}{'+00:00' if zone == 'Z' else zone}")
    except ValueError:
        return None
    nanos = int((fraction or "").ljust(9, "0"))
    seconds = round(when.astimezone(UTC).timestamp())
    return (seconds * 1_000_000_000 + nanos + 500) // 1000


def _get(metadata: Mapping[str, str] | None, key: str) -> str | None:
    if not metadata:
        return None
    value = metadata.get(key)
    if value is None:  # S3 returns names lowercased; others may keep a case
        for name, candidate in metadata.items():
            if name.lower() == key:
                return candidate
    return value


def metadata_mtime(metadata: Mapping[str, str] | None) -> int | None:
    """The ``mtime`` entry of user metadata, in microseconds, if present and readable."""
    value = _get(metadata, MTIME_KEY)
    return None if value is None else parse_mtime_text(value)


def encode_md5chksum(md5_hex: str) -> str:
    """rclone's ``md5chksum`` value for an MD5 in hex: base64 of the raw 16 bytes."""
    return base64.b64encode(bytes.fromhex(md5_hex)).decode("ascii")


def decode_md5chksum(value: str) -> str | None:
    """The hex MD5 in an ``md5chksum`` value, or ``None`` if it is not one."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 16 else None


def metadata_md5(metadata: Mapping[str, str] | None) -> str | None:
    """The MD5 recorded in an ``md5chksum`` metadata entry, if any."""
    value = _get(metadata, MD5_KEY)
    return None if value is None else decode_md5chksum(value)


def user_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """``metadata`` without the engine's convention entries (``mtime``, ``md5chksum``)."""
    if not metadata:
        return {}
    return {k: v for k, v in metadata.items() if k.lower() not in _CONVENTION_KEYS}
