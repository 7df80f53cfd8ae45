"""Deferred publish on Azure: a staged write is a set of uncommitted blocks, committed
later with ``Put Block List``.

:meth:`~omnistorage.backends.azure._writer.BlockBlobWriter.stage` stages every byte as
blocks whose ids carry the writer's random token and hands out the ids, the content MD5,
and the content type and metadata the commit sets. Publishing commits exactly those
blocks (``If-None-Match: *`` for create-only). A publish that fails because the blocks
are gone, or meets a blob there, succeeds when the committed block list is our own ids
(a retry after a lost reply); otherwise another writer's blob is ``FileExistsError`` and
gone blocks are ``FileNotFoundError``.

Discarding: Azure cannot drop one writer's uncommitted blocks. When the name has no
committed blob and every uncommitted block there is ours, the uncommitted blob is
deleted (on the condition that nothing was committed since); when the name holds a
committed blob, or another writer's blocks too, the blocks stay until the name is next
committed (which drops them), ``Store.cleanup`` removes the name, or Azure drops them
after 7 days. Job commits stage each attempt under names of its own, so their discards
always remove the blocks.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobClient, ContainerClient

from omnistorage._staging import TokenRejected, list_field, str_field
from omnistorage.backends.azure._errors import error_code
from omnistorage.backends.azure._limits import MAX_BLOCKS
from omnistorage.backends.azure._writer import commit_blocks

__all__ = ["abort_staged", "publish_staged"]

_BLOCK_ID = re.compile(r"[A-Za-z0-9+/]{51}=")
_MD5 = re.compile(r"[A-Za-z0-9+/]{22}==")
_META_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,255}")
_META_VALUE = re.compile(r"[ -~]{0,8192}")
_CONTENT_TYPE = re.compile(r"[ -~]{1,255}")


def _fields(
    key: str, staged: Mapping[str, Any]
) -> tuple[list[str], bytes, str | None, dict[str, str]]:
    if staged.get("key") != key:
        raise TokenRejected("the staged blocks belong to another key")
    blocks = list_field(staged, "blocks", MAX_BLOCKS)
    token = None
    for index, block in enumerate(blocks):
        if not isinstance(block, str) or _BLOCK_ID.fullmatch(block) is None:
            raise TokenRejected("staged field 'blocks' holds a malformed block id")
        try:
            raw = base64.b64decode(block, validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError):
            raise TokenRejected("staged field 'blocks' holds a malformed block id") from None
        if raw[32:] != f"{index:06d}" or (token is not None and raw[:32] != token):
            raise TokenRejected("staged field 'blocks' is not one writer's blocks in order")
        token = raw[:32]
    md5 = base64.b64decode(str_field(staged, "md5", _MD5))
    content_type = staged.get("content_type")
    if content_type is not None and (
        not isinstance(content_type, str) or _CONTENT_TYPE.fullmatch(content_type) is None
    ):
        raise TokenRejected("staged field 'content_type' is malformed")
    metadata = staged.get("metadata")
    if not isinstance(metadata, Mapping) or len(metadata) > 64:
        raise TokenRejected("staged field 'metadata' is malformed")
    for name, value in metadata.items():
        if not (isinstance(name, str) and _META_NAME.fullmatch(name)):
            raise TokenRejected("staged field 'metadata' holds a malformed name")
        if not (isinstance(value, str) and _META_VALUE.fullmatch(value)):
            raise TokenRejected("staged field 'metadata' holds a malformed value")
    return blocks, md5, content_type, dict(metadata)


def _ours(blob: BlobClient, blocks: list[str]) -> str | None:
    """The blob's ETag when its committed block list is exactly ``blocks``."""
    try:
        committed, _ = blob.get_block_list("committed")
        props = blob.get_blob_properties()
    except ResourceNotFoundError:
        return None
    if [b.id for b in committed] != blocks:
        return None
    etag = props.etag
    return str(etag) if etag else None


def publish_staged(
    container: ContainerClient, key: str, staged: Mapping[str, Any], *, overwrite: bool
) -> str | None:
    """Commit the staged blocks of ``key`` (see the module docstring)."""
    blocks, md5, content_type, metadata = _fields(key, staged)
    blob = container.get_blob_client(key)
    try:
        return commit_blocks(
            blob, key, blocks, md5, content_type, metadata or None, overwrite=overwrite
        )
    except (FileExistsError, ResourceExistsError):
        version = _ours(blob, blocks) if blocks else None
        if version is None:
            raise
        return version  # published by our earlier try whose reply was lost
    except HttpResponseError as exc:
        if error_code(exc) != "InvalidBlockList":
            raise
        version = _ours(blob, blocks)
        if version is None:
            raise FileNotFoundError(f"the staged blocks of {key!r} are gone") from exc
        return version


def abort_staged(container: ContainerClient, key: str, staged: Mapping[str, Any]) -> None:
    """Drop the staged blocks of ``key`` where Azure allows (see the module docstring)."""
    blocks, _, _, _ = _fields(key, staged)
    if not blocks:
        return
    blob = container.get_blob_client(key)
    mine = base64.b64decode(blocks[0])[:32]
    try:
        committed, uncommitted = blob.get_block_list("all")
    except ResourceNotFoundError:
        return
    if committed or any(base64.b64decode(b.id)[:32] != mine for b in uncommitted):
        return  # not ours alone to remove: they go at the next commit or in 7 days
    # An uncommitted-only name has no properties; the listing that includes such names
    # gives its time, and the delete is conditional on nothing committed since.
    listed = container.list_blobs(name_starts_with=key, include=["uncommittedblobs"])
    since = next((b.last_modified for b in listed if b.name == key), None)
    if since is None:
        return
    try:
        blob.delete_blob(if_unmodified_since=since)
    except (ResourceNotFoundError, ResourceModifiedError):
        return
