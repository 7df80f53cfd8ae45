"""Object info from a ``HeadObject`` or ``GetObject`` response (the same headers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from omnistorage.models import HashType, ObjectInfo

__all__ = ["response_info"]


def response_info(key: str, response: Any, size: int | None = None) -> ObjectInfo:
    """The :class:`ObjectInfo` of ``key`` from a HEAD or GET response: size (``size`` when
    the response was for a range), upload time, content type, ETag, user metadata, and the
    MD5 when the ETag is one (a single-part upload without SSE-KMS/SSE-C encryption)."""
    etag = str(response.get("ETag", "")).strip('"') or None
    hashes: dict[HashType, str] = {}
    if etag is not None and _is_plain_md5(etag, response):
        hashes[HashType.MD5] = etag
    return ObjectInfo(
        path=key,
        size=int(response.get("ContentLength", 0)) if size is None else size,
        modified=utc(response.get("LastModified")),
        content_type=response.get("ContentType"),
        etag=etag,
        hashes=hashes,
        metadata=dict(response.get("Metadata", {})),
    )


def utc(when: datetime | None) -> datetime | None:
    """botocore's timestamps (``tzutc`` or ``tzlocal``) as ``datetime.UTC``."""
    return None if when is None else when.astimezone(UTC)


def _is_plain_md5(etag: str, response: Any) -> bool:
    if len(etag) != 32 or any(c not in "0123456789abcdef" for c in etag):
        return False
    encryption = str(response.get("ServerSideEncryption") or "")
    return not encryption.startswith("aws:kms") and not response.get("SSECustomerAlgorithm")
