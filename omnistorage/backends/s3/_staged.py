"""Deferred publish on S3: a staged write is a multipart upload with every part uploaded,
completed later (what Hadoop's S3A "magic" committer does).

:meth:`~omnistorage.backends.s3._writer.S3Writer.stage` uploads the parts (create-only
writes have checked with ``HEAD`` first, as a streamed write does) and hands out the
upload id and the parts' numbers, ETags and CRC32 checksums. Publishing is
``CompleteMultipartUpload`` through :func:`~omnistorage.backends.s3._writer.complete_upload`:
``If-None-Match: *`` for create-only, and a publish that finds the upload gone succeeds
only when the object at the key carries the ETag its parts produce. Nothing before the
complete is listed: an incomplete upload is a leftover ``Store.cleanup`` aborts.

An upload id is not a credential: every request that uses it is signed with the
backend's own keys, and S3 ties it to its key (another key's id is ``NoSuchUpload``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import botocore.exceptions

from omnistorage._staging import TokenRejected, list_field, str_field
from omnistorage.backends.s3._config import MAX_PARTS
from omnistorage.backends.s3._errors import error_code, retry_temporary
from omnistorage.backends.s3._writer import UploadSettings, complete_upload

__all__ = ["abort_staged", "publish_staged"]

_UPLOAD_ID = re.compile(r"[A-Za-z0-9._~+/=-]{1,1024}")
_ETAG = re.compile(r"[0-9a-f]{32}")
_CRC32 = re.compile(r"([A-Za-z0-9+/]{6}==)?")
_ABORT_ATTEMPTS = 5


def _upload_of(key: str, staged: Mapping[str, Any]) -> str:
    """The upload id, once the token is known to be for ``key``: S3 ties an upload to its
    key, but some servers (moto) complete an upload under any key they are given."""
    if staged.get("key") != key:
        raise TokenRejected("the staged upload belongs to another key")
    return str_field(staged, "upload", _UPLOAD_ID)


def _parts(staged: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, item in enumerate(list_field(staged, "parts", MAX_PARTS), start=1):
        if not (isinstance(item, list) and len(item) == 3) or item[0] != index:
            raise TokenRejected("staged field 'parts' is malformed")
        _, etag, crc = item
        if not (isinstance(etag, str) and _ETAG.fullmatch(etag)):
            raise TokenRejected("staged field 'parts' holds a malformed ETag")
        if not (isinstance(crc, str) and _CRC32.fullmatch(crc)):
            raise TokenRejected("staged field 'parts' holds a malformed checksum")
        part: dict[str, Any] = {"PartNumber": index, "ETag": f'"{etag}"'}
        if crc:
            part["ChecksumCRC32"] = crc
        out.append(part)
    if not out:
        raise TokenRejected("staged field 'parts' is empty")
    return out


def publish_staged(
    s: UploadSettings, key: str, staged: Mapping[str, Any], *, overwrite: bool
) -> str | None:
    """Complete the staged upload at ``key`` (see the module docstring)."""
    upload_id = _upload_of(key, staged)
    parts = _parts(staged)
    try:
        return complete_upload(s, key, upload_id, parts, overwrite=overwrite)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ("InvalidPart", "InvalidPartOrder", "InvalidArgument"):
            raise TokenRejected("the staged parts are not those of this upload") from None
        raise


def abort_staged(s: UploadSettings, key: str, staged: Mapping[str, Any]) -> None:
    """Abort the staged upload of ``key``; an upload gone already (completed or aborted)
    is fine, and a completed object is never touched."""
    upload_id = _upload_of(key, staged)
    _parts(staged)

    def abort() -> None:
        try:
            s.client.abort_multipart_upload(Bucket=s.bucket, Key=key, UploadId=upload_id)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "NoSuchUpload":
                raise

    retry_temporary(abort, _ABORT_ATTEMPTS)
