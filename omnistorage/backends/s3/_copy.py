"""Server-side copies: ``CopyObject``, or ``UploadPartCopy`` parts above the threshold.

Create-only copies (``overwrite=False``) check the destination with ``HEAD``
and also send ``If-None-Match: *`` — on ``CopyObject``, or on the
``CompleteMultipartUpload`` of a multipart copy. AWS S3 enforces that header
atomically; a service that ignores it on ``CopyObject`` (moto does) leaves a
race between the ``HEAD`` and the copy, in which a concurrent writer's object
can be overwritten. A multipart copy pins every part to the source's ETag
(``CopySourceIfMatch``), so it never assembles two versions of the source,
and is aborted on any failure.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from omnistorage.backends.s3._config import MAX_PARTS, MIN_PART_SIZE, MiB
from omnistorage.backends.s3._errors import (
    ObjectChangedError,
    ObjectExistsError,
    classify,
    is_precondition_failed,
    retry_temporary,
)
from omnistorage.errors import ErrorKind

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["CopySettings", "copy_object"]

_COPY_PART_CAP = 512 * MiB
_ABORT_ATTEMPTS = 5
_COPIED_HEADERS = (
    "ContentType",
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "Metadata",
)


@dataclass(frozen=True, slots=True)
class CopySettings:
    """What a copy needs from its backend."""

    client: S3Client
    bucket: str
    threshold: int
    """Objects larger than this are copied in parts."""
    concurrency: int


def copy_object(s: CopySettings, src: str, dst: str, *, overwrite: bool) -> None:
    """Copy ``src`` to ``dst`` in the bucket, server-side (see the module docstring)."""
    head = s.client.head_object(Bucket=s.bucket, Key=src)
    if not overwrite and _exists(s, dst):
        raise ObjectExistsError(f"an object exists at {dst!r}")
    size = int(head.get("ContentLength", 0))
    if size > s.threshold:
        _multipart_copy(s, src, dst, head, size, overwrite)
        return
    # A fresh full-object CRC32 for the copy: a multipart source's composite checksum does
    # not describe the single-part copy (moto keeps it, and every read of the copy then
    # fails botocore's checksum validation).
    kwargs: dict[str, Any] = {"ChecksumAlgorithm": "CRC32"}
    if not overwrite:
        kwargs["IfNoneMatch"] = "*"
    try:
        s.client.copy_object(
            Bucket=s.bucket, Key=dst, CopySource={"Bucket": s.bucket, "Key": src}, **kwargs
        )
    except botocore.exceptions.ClientError as exc:
        if not overwrite and is_precondition_failed(exc):
            raise ObjectExistsError(f"an object exists at {dst!r}") from exc
        raise


def _exists(s: CopySettings, key: str) -> bool:
    try:
        s.client.head_object(Bucket=s.bucket, Key=key)
    except botocore.exceptions.ClientError as exc:
        if classify(exc).kind is ErrorKind.NOT_FOUND:
            return False
        raise
    return True


def _multipart_copy(
    s: CopySettings, src: str, dst: str, head: Any, size: int, overwrite: bool
) -> None:
    client, bucket = s.client, s.bucket
    extra = {name: head[name] for name in _COPIED_HEADERS if head.get(name)}
    etag = head.get("ETag", "")
    part = max(MIN_PART_SIZE, math.ceil(size / MAX_PARTS), min(s.threshold, _COPY_PART_CAP))
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=dst, **extra)["UploadId"]

    def copy_part(number: int) -> dict[str, Any]:
        start = (number - 1) * part
        stop = min(size, start + part)
        try:
            response = client.upload_part_copy(
                Bucket=bucket,
                Key=dst,
                UploadId=upload_id,
                PartNumber=number,
                CopySource={"Bucket": bucket, "Key": src},
                CopySourceRange=f"bytes={start}-{stop - 1}",
                CopySourceIfMatch=etag,
            )
        except botocore.exceptions.ClientError as exc:
            if is_precondition_failed(exc):
                raise ObjectChangedError(f"{src!r} changed while it was copied") from exc
            raise
        return {"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]}

    try:
        with ThreadPoolExecutor(
            max_workers=s.concurrency, thread_name_prefix="omnistorage-s3-copy"
        ) as pool:
            parts: Any = list(pool.map(copy_part, range(1, math.ceil(size / part) + 1)))
        kwargs: dict[str, Any] = {}
        if not overwrite:
            kwargs["IfNoneMatch"] = "*"
        try:
            client.complete_multipart_upload(
                Bucket=bucket,
                Key=dst,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                **kwargs,
            )
        except botocore.exceptions.ClientError as exc:
            if not overwrite and is_precondition_failed(exc):
                raise ObjectExistsError(f"an object exists at {dst!r}") from exc
            raise
    except BaseException as exc:
        try:
            retry_temporary(
                lambda: client.abort_multipart_upload(Bucket=bucket, Key=dst, UploadId=upload_id),
                _ABORT_ATTEMPTS,
            )
        except Exception as cleanup:  # noqa: BLE001 - the copy error is the one raised
            exc.add_note(f"aborting the multipart copy failed too: {cleanup!r}")
        raise
