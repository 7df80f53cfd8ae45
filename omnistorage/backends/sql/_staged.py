"""Deferred publish in SQL tables (chunked layout): a staged row set, pointed at later.

:meth:`~omnistorage.backends.sql._chunked._SQLWriter.stage` leaves the object's chunk
rows under a fresh upload id, registered in the uploads table (where ``cleanup`` finds
them), and hands out the upload id with the object row's values. Publishing is the
writer's own publishing transaction: claim the upload (delete its uploads row, for this
key only), then point the key's row at it (create-only by the primary key). A publish
that finds the upload claimed already succeeds when the key's row points at this upload
(a retry after a lost reply); else the staged rows are gone (``FileNotFoundError``).
Discarding deletes the upload's rows while it is still unclaimed, never a published
object's chunks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete

from omnistorage._staging import TokenRejected, int_field, str_field

if TYPE_CHECKING:
    from omnistorage.backends.sql._chunked import ChunkedLayout

__all__ = ["abort_staged", "publish_staged"]

_UPLOAD = re.compile(r"[0-9a-f]{32}")
_MD5 = re.compile(r"[0-9a-f]{32}")
_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?\+00:00")


def _upload(layout: ChunkedLayout, key: str, staged: Mapping[str, Any]) -> str:
    if staged.get("key") != key:
        raise TokenRejected("the staged upload belongs to another key")
    if int_field(staged, "chunk_size", 1, 1 << 40) != layout._chunk:
        raise TokenRejected("the staged upload was made with another chunk size")
    return str_field(staged, "upload", _UPLOAD)


def _values(
    layout: ChunkedLayout, key: str, upload: str, staged: Mapping[str, Any]
) -> dict[str, Any]:
    content_type = staged.get("content_type")
    if content_type is not None and (not isinstance(content_type, str) or len(content_type) > 255):
        raise TokenRejected("staged field 'content_type' is malformed")
    metadata = staged.get("metadata")
    if not isinstance(metadata, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise TokenRejected("staged field 'metadata' is malformed")
    modified = datetime.fromisoformat(str_field(staged, "modified", _STAMP)).astimezone(UTC)
    return {
        "key": key,
        "upload": upload,
        "size": int_field(staged, "size", 0, 1 << 62),
        "chunk_size": layout._chunk,
        "modified": modified,
        "content_type": content_type,
        "metadata": json.dumps(dict(metadata)) if metadata else None,
        "md5": str_field(staged, "md5", _MD5),
    }


def publish_staged(
    layout: ChunkedLayout, key: str, staged: Mapping[str, Any], *, overwrite: bool
) -> str:
    """Point ``key`` at the staged upload (see the module docstring); return its id."""
    upload = _upload(layout, key, staged)
    values = _values(layout, key, upload, staged)
    uploads = layout._tables.uploads
    with layout._engine.begin() as conn:
        claim = delete(uploads).where(uploads.c.upload == upload, uploads.c.key == key)
        if conn.execute(claim).rowcount != 1:
            row = conn.execute(layout._select_upload, {"key": key}).first()
            if row is not None and row.upload == upload:
                return upload  # published already: a retry after a lost reply
            raise FileNotFoundError(f"nothing staged for {key!r} under that token")
        layout._put_row(conn, key, values, overwrite)
    return upload


def abort_staged(layout: ChunkedLayout, key: str, staged: Mapping[str, Any]) -> None:
    """Delete the staged upload's rows while it is unclaimed; gone is fine."""
    upload = _upload(layout, key, staged)
    uploads, chunks = layout._tables.uploads, layout._tables.chunks
    with layout._engine.begin() as conn:
        claim = delete(uploads).where(uploads.c.upload == upload, uploads.c.key == key)
        if conn.execute(claim).rowcount == 1:
            conn.execute(delete(chunks).where(chunks.c.upload == upload))
