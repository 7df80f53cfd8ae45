"""The block-blob writer: one ``Put Blob`` for small objects, staged blocks + one commit else.

Blocks are cut and staged by the shared upload machinery (:mod:`omnistorage._upload`):
a full block goes out once more data follows it, so an object of at most one block is
one ``Put Blob``; blocks are staged on a small thread pool with at most
``max_concurrency`` in flight; nothing is visible before the ``commit_block_list`` in
:meth:`BlockBlobWriter.close`. The block size doubles every
:data:`~omnistorage.backends.azure._limits.GROW_EVERY` blocks so a blob stays
under Azure's block limit. An abort commits nothing: the staged blocks stay
invisible until the service drops them. A create-only write that meets a
conflict after the SDK retried checks whether the blob there is its own
(its block ids, or its size and Content-MD5) and then reports success.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from typing import Any

from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobBlock, BlobClient, ContentSettings

from omnistorage._upload import PartPool, PartStream
from omnistorage.backends.azure._errors import IF_MISSING, create_only, error_code
from omnistorage.backends.azure._limits import GROW_EVERY, MAX_BLOCK_SIZE
from omnistorage.driver import WriteOptions, Writer

__all__ = ["BlockBlobWriter", "commit_blocks"]

_PUT_ATTEMPTS = 3  # a create-only Put Blob: the first try and two after a lost connection


class BlockBlobWriter(Writer):
    """One ``Put Blob`` for small objects; staged blocks + one commit for the rest."""

    def __init__(
        self,
        blob: BlobClient,
        key: str,
        options: WriteOptions,
        metadata: dict[str, str] | None,
        *,
        block_size: int,
        max_concurrency: int,
    ) -> None:
        self._blob = blob
        self._key = key
        self._overwrite = options.overwrite
        self._content_type = options.content_type
        self._metadata = metadata
        self._block_size = block_size
        self._max_in_flight = max_concurrency
        self._stream = PartStream(self._size_of, self._stage)
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._block_ids: list[str] = []
        self._pool: PartPool[Any] = PartPool(max_concurrency, "omnistorage-azure")
        self._token = uuid.uuid4().hex  # block ids never collide with a racing writer's
        self._size = 0
        self._put_md5: bytes | None = None
        self._retried = False  # a create-only Put Blob was sent again after a lost reply
        self._done = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._done:
            raise ValueError("write to a finished writer")
        view = memoryview(data).cast("B")
        self._size += view.nbytes
        self._stream.feed(view)
        return view.nbytes

    def _size_of(self, number: int) -> int:
        """Block ``number``'s size (from 1): doubled every GROW_EVERY blocks, capped."""
        return min(self._block_size << ((number - 1) // GROW_EVERY), MAX_BLOCK_SIZE)

    def close(self) -> None:
        if self._done:
            raise ValueError("writer already finished")
        self._done = True
        try:
            if not self._block_ids:
                self._put(bytes(self._stream.take()))
            else:
                self._stream.flush_part()
                self._pool.drain()
                self._commit()
        except (FileExistsError, ResourceExistsError):
            if self._overwrite or not self._is_ours():
                raise
            # Our first attempt was stored and the SDK's retry met our own blob.
        finally:
            self._stream.take()
            self._pool.stop()

    def flush(self) -> None:
        """Wait until every block handed over so far is staged on the service.

        Staged blocks stay invisible until ``close`` commits them; this only
        makes the staging synchronous (and raises a failed block's error now).
        """
        self._pool.drain()

    def abort(self) -> None:
        # Nothing was committed; the staged blocks stay invisible until the service drops them.
        self._done = True
        self._stream.take()
        self._pool.stop()

    # ------------------------------------------------------------ internals

    def _stage(self, number: int, body: bytes | bytearray) -> None:
        block = bytes(body)
        self._md5.update(block)
        block_id = base64.b64encode(f"{self._token}{number - 1:06d}".encode()).decode()
        self._block_ids.append(block_id)
        blob = self._blob
        self._pool.submit(number, lambda: blob.stage_block(block_id, block, length=len(block)))

    def _commit(self) -> None:
        self.version = commit_blocks(
            self._blob,
            self._key,
            self._block_ids,
            self._md5.digest(),
            self._content_type,
            self._metadata,
            overwrite=self._overwrite,
        )

    def stage(self) -> dict[str, Any]:
        """Stage every byte as blocks (none for an empty object) and commit nothing:
        ``Put Block List`` is the publish (:func:`commit_blocks`). Returns the block ids,
        the content MD5, and the content type and metadata the commit sets."""
        if self._done:
            raise ValueError("writer already finished")
        self._done = True
        try:
            self._stream.flush_part()
            self._pool.drain()
            return {
                "key": self._key,
                "blocks": list(self._block_ids),
                "md5": base64.b64encode(self._md5.digest()).decode(),
                "content_type": self._content_type,
                "metadata": dict(self._metadata or {}),
            }
        finally:
            self._stream.take()
            self._pool.stop()

    def _is_ours(self) -> bool:
        """After a create-only conflict: is the blob there the one this writer sent?

        A committed block list is ours when its block ids are ours (they carry
        this writer's random token); a single Put Blob when the SDK retried it
        (a conflict on the first attempt is another writer's blob) and the
        size and Content-MD5 are those of what we sent.
        """
        try:
            props = self._blob.get_blob_properties()
            if props.size != self._size:
                return False
            if self._block_ids:
                committed, _ = self._blob.get_block_list("committed")
                ours = [block.id for block in committed] == self._block_ids
                self.version = _etag(props) if ours else None
                return ours
        except HttpResponseError:
            return False
        if not self._retried:
            return False  # no retry: the conflict can only be another writer's blob
        md5 = props.content_settings.content_md5
        ours = md5 is not None and bytes(md5) == self._put_md5
        self.version = _etag(props) if ours else None
        return ours

    def _put(self, data: bytes) -> None:
        self._put_md5 = hashlib.md5(data, usedforsecurity=False).digest()
        settings = ContentSettings(
            content_type=self._content_type, content_md5=bytearray(self._put_md5)
        )
        if self._overwrite:
            reply = self._blob.upload_blob(
                data,
                length=len(data),
                overwrite=True,
                metadata=self._metadata,
                content_settings=settings,
                max_concurrency=self._max_in_flight,
            )
            self.version = _etag(reply)
            return
        # Create-only: retried here rather than inside the SDK, so that a conflict
        # is known to follow an attempt whose reply was lost (see _is_ours).
        delay = 0.2
        for attempt in range(_PUT_ATTEMPTS):
            try:
                with create_only(self._key, True):
                    reply = self._blob.upload_blob(
                        data,
                        length=len(data),
                        overwrite=False,
                        metadata=self._metadata,
                        content_settings=settings,
                        max_concurrency=self._max_in_flight,
                        retry_total=0,
                    )
                self.version = _etag(reply)
                return
            except (ServiceRequestError, ServiceResponseError):
                if attempt == _PUT_ATTEMPTS - 1:
                    raise
                self._retried = True
                time.sleep(delay)
                delay *= 2


def commit_blocks(
    blob: BlobClient,
    key: str,
    block_ids: list[str],
    md5: bytes,
    content_type: str | None,
    metadata: dict[str, str] | None,
    *,
    overwrite: bool,
) -> str | None:
    """``Put Block List`` of ``block_ids`` (``If-None-Match: *`` unless ``overwrite``);
    return the published ETag. A racing writer that committed first discards our staged
    blocks before the service looks at the condition: for create-only that is
    ``FileExistsError`` too."""
    settings = ContentSettings(content_type=content_type, content_md5=bytearray(md5))
    conditions: dict[str, Any] = {} if overwrite else {"match_condition": IF_MISSING}
    blocks = [BlobBlock(block_id=block_id) for block_id in block_ids]
    try:
        with create_only(key, not overwrite):
            reply = blob.commit_block_list(
                blocks, content_settings=settings, metadata=metadata, **conditions
            )
        return _etag(reply)
    except HttpResponseError as exc:
        if not overwrite and error_code(exc) == "InvalidBlockList" and blob.exists():
            raise FileExistsError(f"blob {key!r} already exists") from exc
        raise


def _etag(reply: Any) -> str | None:
    """The ETag of a publish reply (a dict) or of blob properties: the version token."""
    etag = reply.get("etag") if isinstance(reply, dict) else getattr(reply, "etag", None)
    return str(etag) if etag else None
