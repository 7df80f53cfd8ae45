"""One file from one store to another: server-side where it keeps the mtime, else streamed.

A streamed copy reads the source in 1 MiB chunks and writes them to an
atomic writer on the destination, so memory stays bounded and nothing is
published until the last byte is in and checked:

- the byte count must equal the listed size, and the hash computed on the
  way (``hash_type``, MD5 by default) must equal a hash the source listed;
  otherwise the writer is aborted (the source changed while it was read);
- the source is read as one version: a backend's read that finds its object
  changed underneath (a local file rewritten in place at the same size, seen
  by its version token at the end of the read; an object replaced under a
  pinned read) raises ``ChangedDuringRead``, and the writer is aborted. All
  three are :class:`SourceChanged` errors, temporary: the file is read again
  (``retries``), else it fails and nothing is deleted in the run;
- cancellation and a ``hard`` ``max_transfer`` cutoff abort the writer too;
- ``bwlimit`` paces the chunks.

What the destination keeps: the source's mtime (``modified=`` where the
destination has ``SET_MOD_TIME``; rclone's ``mtime`` metadata entry where it
only has ``USER_METADATA``), content type and user metadata where the
destination stores them, and, for files of 5 MiB and more going to a
metadata-mtime store (S3), rclone's ``md5chksum`` when the source's MD5 is
known before the upload starts (local files are hashed first, as rclone
does), so ``rclone check`` can verify multipart objects.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass

from omnistorage import paths
from omnistorage._hashing import new_hasher
from omnistorage.capabilities import Capability
from omnistorage.errors import ChangedDuringRead, StorageError
from omnistorage.models import HashType, ObjectInfo
from omnistorage.sync._context import RunContext
from omnistorage.sync._conventions import (
    MD5_KEY,
    MTIME_KEY,
    Side,
    encode_md5chksum,
    format_mtime_seconds,
    metadata_md5,
    metadata_mtime,
    multipart_kind,
    user_metadata,
)
from omnistorage.sync._entry import Entry, entry_of, from_us
from omnistorage.sync._hashcache import FileId
from omnistorage.sync._limits import Cancelled

__all__ = ["SourceChanged", "TransferResult", "transfer_file"]

_CHUNK = 1 << 20
_MD5_AHEAD_MIN = 5 << 20
"""From this size an S3 upload may be multipart: know the MD5 first (``md5chksum``)."""


class SourceChanged(StorageError):
    """The source's bytes did not match its listing (it changed while being copied)."""


@dataclass(frozen=True, slots=True)
class TransferResult:
    """What a transfer moved: bytes, the digest computed on the way (``hash_type``), and
    whether it ran server-side."""

    size: int
    digest: str | None
    server_side: bool


@dataclass(frozen=True, slots=True)
class _Details:
    mtime: int | None
    content_type: str | None
    metadata: dict[str, str]
    md5: str | None
    size: int | None


def _source_details(ctx: RunContext, frm: Side, to: Side, path: str, entry: Entry) -> _Details:
    store = frm.store
    info: ObjectInfo | None = None
    wants_type = to.store.supports(Capability.CONTENT_TYPE) and entry.content_type is None
    wants_meta = to.store.supports(Capability.USER_METADATA) and entry.metadata is None
    if frm.has_metadata and (
        frm.mtime_in_metadata
        or (wants_type and store.supports(Capability.CONTENT_TYPE))
        or (wants_meta and store.supports(Capability.USER_METADATA))
    ):
        ctx.op()
        info = store.get_file_info(path)
    metadata = dict(entry.metadata or {})
    content_type = entry.content_type
    mtime = entry.mtime
    md5 = (entry.hashes or {}).get(HashType.MD5.value)
    size = entry.size
    if info is not None:
        metadata = dict(info.metadata) or metadata
        content_type = info.content_type or content_type
        size = info.size if info.size is not None else size
        md5 = md5 or info.hashes.get(HashType.MD5) or metadata_md5(info.metadata)
        if frm.mtime_in_metadata:
            kept = metadata_mtime(info.metadata)
            mtime = kept if kept is not None else entry.mtime
    if (
        content_type is None
        and not store.supports(Capability.CONTENT_TYPE)
        and to.store.supports(Capability.CONTENT_TYPE)
    ):  # a source that keeps no content type: guess it from the name
        content_type = mimetypes.guess_type(path, strict=False)[0]
    return _Details(mtime, content_type, metadata, md5, size)


def _write_args(to: Side, details: _Details) -> tuple[dict[str, str], str | None, int | None]:
    """(metadata, content type, mtime for ``modified=``) to write on ``to``."""
    metadata: dict[str, str] = {}
    if to.store.supports(Capability.USER_METADATA):
        metadata = user_metadata(details.metadata)
        if to.mtime_in_metadata:
            if details.mtime is not None:
                metadata[MTIME_KEY] = format_mtime_seconds(details.mtime)
            if details.md5 is not None and (details.size or 0) >= _MD5_AHEAD_MIN:
                metadata[MD5_KEY] = encode_md5chksum(details.md5)
    content_type = details.content_type if to.store.supports(Capability.CONTENT_TYPE) else None
    modified = details.mtime if to.settable_mtime else None
    return metadata, content_type, modified


def transfer_file(
    ctx: RunContext,
    frm: Side,
    from_path: str,
    to: Side,
    to_path: str,
    entry: Entry | None,
    *,
    overwrite: bool = True,
) -> TransferResult:
    """Copy ``from_path`` of ``frm`` to ``to_path`` of ``to`` (see the module docstring).

    Raises the Store's errors, :class:`SourceChanged`, :class:`Cancelled` and
    ``MaxTransferReached``; in every case nothing partial is published.
    """
    if entry is None:
        ctx.op()
        entry = entry_of(frm.store.get_file_info(from_path))
    details = _source_details(ctx, frm, to, from_path, entry)
    metadata, content_type, mtime = _write_args(to, details)
    if ctx.server_side_copy(frm, to) and (
        frm.settable_mtime
        or not to.keeps_mtime
        or MTIME_KEY in {k.lower() for k in details.metadata}
    ):
        return _server_side(ctx, frm, from_path, to, to_path, details, overwrite)
    ahead: FileId | None = None
    if to.mtime_in_metadata and details.md5 is None and (details.size or 0) >= _MD5_AHEAD_MIN:
        hashes = ctx.hashes_for(frm)
        if hashes is not None:  # a local file going to S3: know its MD5 before the upload
            ahead = hashes.identity(from_path)
            kinds: tuple[str, ...] = (HashType.MD5.value,)
            layout = to.multipart
            if layout is not None and layout.lengths(details.size or 0):
                # In the same read: the ETag S3 will list, so a later no-op sync
                # settles this file from the listing.
                kinds += (multipart_kind(layout),)
            md5 = hashes.compute_all(from_path, kinds)[HashType.MD5.value]
            metadata[MD5_KEY] = encode_md5chksum(md5)
            details = _Details(
                details.mtime, details.content_type, details.metadata, md5, details.size
            )
    return _stream(
        ctx, frm, from_path, to, to_path, details, metadata, content_type, mtime, overwrite, ahead
    )


def _server_side(
    ctx: RunContext,
    frm: Side,
    from_path: str,
    to: Side,
    to_path: str,
    details: _Details,
    overwrite: bool,
) -> TransferResult:
    if ctx.cancelled():
        raise Cancelled
    size = details.size or 0
    ctx.budget.add(size)
    root = ctx.root_store(frm)
    ctx.op()
    root.copy(
        paths.join(frm.store.root, from_path),
        paths.join(to.store.root, to_path),
        overwrite=overwrite,
    )
    ctx.progress.add(nbytes=size)
    return TransferResult(size, None, True)


def _stream(
    ctx: RunContext,
    frm: Side,
    from_path: str,
    to: Side,
    to_path: str,
    details: _Details,
    metadata: dict[str, str],
    content_type: str | None,
    mtime: int | None,
    overwrite: bool,
    ahead: FileId | None = None,
) -> TransferResult:
    """Stream the bytes. ``ahead``: the local source's identity when its MD5 (in
    ``details``) was computed just before; an unchanged identity at the end proves the
    streamed bytes are those, so they are not hashed again."""
    kind = ctx.stream_hash
    expected_size = details.size
    md5_known = ahead is not None and kind == HashType.MD5.value
    listed_digest = details.md5 if kind == HashType.MD5.value and not md5_known else None
    from_hashes = ctx.hashes_for(frm)
    to_hashes = ctx.hashes_for(to)
    # Hash on the way only where it serves: checking the bytes against a listed hash, or
    # filling the local hash cache for later comparisons with a side that keeps no mtime.
    hasher = (
        new_hasher(HashType(kind))
        if not md5_known
        and (
            listed_digest is not None
            or ctx.hash_always
            or (from_hashes is not None and not to.settable_mtime)
            or (to_hashes is not None and not frm.settable_mtime)
        )
        else None
    )
    before = (
        from_hashes.identity(from_path) if from_hashes is not None and hasher is not None else None
    )
    cancelled = ctx.cancelled
    budget = ctx.budget
    bandwidth = ctx.bandwidth
    progress = ctx.progress
    ctx.op()
    reader = frm.store.read(from_path)
    try:
        ctx.op()
        writer = to.store.open_writer(
            to_path,
            overwrite=overwrite,
            content_type=content_type,
            metadata=metadata or None,
            modified=from_us(mtime) if mtime is not None else None,
            size_hint=expected_size,
        )
        with writer:
            total = 0
            while True:
                if cancelled():
                    raise Cancelled
                # Ask for what is left (+1 to see the end): a read allocates what it asks
                # for, and a 1 MiB buffer per small file costs more than the copy itself.
                want = _CHUNK if expected_size is None else min(_CHUNK, expected_size - total + 1)
                try:
                    chunk = reader.read(max(want, 1))
                except ChangedDuringRead as exc:
                    raise SourceChanged(
                        f"copy {from_path!r}: the source changed while it was read ({exc}); "
                        "nothing was written",
                        path=from_path,
                        op="read",
                        temporary=True,
                    ) from exc
                if not chunk:
                    break
                n = len(chunk)
                budget.add(n)
                if bandwidth is not None:
                    bandwidth.take(n)
                if hasher is not None:
                    hasher.update(chunk)
                writer.write(chunk)
                total += n
                progress.add(nbytes=n)
            digest = hasher.hexdigest() if hasher is not None else None
            if md5_known:
                digest = details.md5
                assert from_hashes is not None
                if from_hashes.identity(from_path) != ahead:
                    raise SourceChanged(
                        f"copy {from_path!r}: the source changed while it was read; "
                        "nothing was written",
                        path=from_path,
                        op="read",
                        temporary=True,
                    )
            if expected_size is not None and total != expected_size:
                raise SourceChanged(
                    f"copy {from_path!r}: the source changed while it was read "
                    f"(listed {expected_size} bytes, read {total}); nothing was written",
                    path=from_path,
                    op="read",
                    temporary=True,
                )
            if listed_digest is not None and digest != listed_digest:
                raise SourceChanged(
                    f"copy {from_path!r}: the bytes read do not match the source's {kind} "
                    "(it changed while it was read); nothing was written",
                    path=from_path,
                    op="read",
                    temporary=True,
                )
            if cancelled():
                raise Cancelled
            writer.close()
    finally:
        reader.close()
    if digest is None or md5_known:
        return TransferResult(total, digest, False)
    if (
        from_hashes is not None
        and before is not None
        and before.size == total
        and from_hashes.identity(from_path) == before
    ):
        from_hashes.remember(before, kind, digest)
    if to_hashes is not None:
        after = to_hashes.identity(to_path)
        if (
            after is not None
            and after.size == total
            and (mtime is None or (after.mtime_us is not None and abs(after.mtime_us - mtime) <= 1))
        ):
            to_hashes.remember(after, kind, digest)
    return TransferResult(total, digest, False)


def verify_copy(
    ctx: RunContext,
    src: Side,
    src_path: str,
    dst: Side,
    dst_path: str,
    result: TransferResult,
    entry: Entry,
) -> str | None:
    """Why the copy of ``src_path`` cannot be trusted, or ``None`` when size (and a hash both
    sides share) match. Used before ``move`` deletes a source."""
    if entry.size is not None and result.size != entry.size:
        return f"copied {result.size} bytes, the source has {entry.size}"
    if result.server_side:
        ctx.op()
        info = dst.store.get_file_info(dst_path)
        if entry.size is not None and info.size != entry.size:
            return f"the copy has {info.size} bytes, the source {entry.size}"
        for kind, value in info.hashes.items():
            listed = (entry.hashes or {}).get(str(kind))
            if listed is not None and listed != value:
                return f"the copy's {kind} differs from the source's"
    return None
