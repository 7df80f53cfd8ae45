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
from typing import BinaryIO

from omnistorage import paths
from omnistorage._hashing import Hasher, new_hasher
from omnistorage._io import AtomicWriter
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
from omnistorage.sync._entry import Entry, entry_of
from omnistorage.sync._hashcache import FileId, LocalHashes
from omnistorage.sync._limits import Cancelled
from omnistorage.sync._progress import ByteMeter

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


def _needs_stat(frm: Side, to: Side, entry: Entry) -> bool:
    """The listing lacks what the destination keeps: the mtime in metadata, the content
    type or the user metadata."""
    store = frm.store
    wants_type = to.store.supports(Capability.CONTENT_TYPE) and entry.content_type is None
    wants_meta = to.store.supports(Capability.USER_METADATA) and entry.metadata is None
    return frm.has_metadata and (
        frm.mtime_in_metadata
        or (wants_type and store.supports(Capability.CONTENT_TYPE))
        or (wants_meta and store.supports(Capability.USER_METADATA))
    )


def _open_with_info(
    ctx: RunContext, frm: Side, to: Side, path: str, entry: Entry
) -> BinaryIO | None:
    """The source opened for the copy, when its stream's ``info`` (``READ_INFO``: S3's
    GetObject headers) spares the ``stat`` the listing would need: one request per file
    instead of two, and the details describe exactly the version read."""
    if (
        not _needs_stat(frm, to, entry)
        or not frm.store.supports(Capability.READ_INFO)
        or ctx.server_side_copy(frm, to)
    ):
        return None
    ctx.op()
    return frm.store.read(path)


def _source_details(
    ctx: RunContext, frm: Side, to: Side, path: str, entry: Entry, opened: ObjectInfo | None
) -> _Details:
    """What to write besides the bytes; ``opened``: the info of the open source stream."""
    info = opened
    if info is None and _needs_stat(frm, to, entry):
        ctx.op()
        info = frm.store.get_file_info(path)
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
        and not frm.store.supports(Capability.CONTENT_TYPE)
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
    planned: int = 0,
) -> TransferResult:
    """Copy ``from_path`` of ``frm`` to ``to_path`` of ``to`` (see the module docstring).

    ``planned``: the bytes the run's progress total counted for this file (0 for work it
    did not plan, such as a backup copy); the bytes moved are counted against it, and a
    failed attempt's bytes are taken back out (:class:`~omnistorage.sync._progress.ByteMeter`).

    Raises the Store's errors, :class:`SourceChanged`, :class:`Cancelled` and
    ``MaxTransferReached``; in every case nothing partial is published.
    """
    if entry is None:
        ctx.op()
        entry = entry_of(frm.store.get_file_info(from_path))
    opened = _open_with_info(ctx, frm, to, from_path, entry)
    try:
        info = getattr(opened, "info", None)
        details = _source_details(ctx, frm, to, from_path, entry, info)
        metadata, content_type, mtime = _write_args(to, details)
        if (
            opened is None
            and ctx.server_side_copy(frm, to)
            and (
                frm.settable_mtime
                or not to.keeps_mtime
                or MTIME_KEY in {k.lower() for k in details.metadata}
            )
        ):
            return _server_side(ctx, frm, from_path, to, to_path, details, overwrite, planned)
        details, ahead = _md5_ahead(ctx, frm, to, from_path, details, metadata)
        meter = ctx.progress.meter(planned)
        try:
            job = _Copy(
                ctx,
                frm,
                from_path,
                to,
                to_path,
                details,
                (metadata, content_type, mtime),
                overwrite,
                meter,
                ahead,
            )
            return _stream(job, opened)
        except BaseException:
            meter.retract()  # nothing was published: a retry counts its bytes anew
            raise
    finally:
        if opened is not None:
            opened.close()


def _md5_ahead(
    ctx: RunContext, frm: Side, to: Side, path: str, details: _Details, metadata: dict[str, str]
) -> tuple[_Details, FileId | None]:
    """For a local file of 5 MiB and more going to S3: its MD5 known before the upload
    (``md5chksum`` in ``metadata``), as rclone does, and its identity when hashed."""
    if not to.mtime_in_metadata or details.md5 is not None or (details.size or 0) < _MD5_AHEAD_MIN:
        return details, None
    hashes = ctx.hashes_for(frm)
    if hashes is None:
        return details, None
    ahead = hashes.identity(path)
    kinds: tuple[str, ...] = (HashType.MD5.value,)
    layout = to.multipart
    if layout is not None and layout.lengths(details.size or 0):
        # In the same read: the ETag S3 will list, so a later no-op sync settles this
        # file from the listing.
        kinds += (multipart_kind(layout),)
    md5 = hashes.compute_all(path, kinds)[HashType.MD5.value]
    metadata[MD5_KEY] = encode_md5chksum(md5)
    return _Details(details.mtime, details.content_type, details.metadata, md5, details.size), ahead


def _server_side(
    ctx: RunContext,
    frm: Side,
    from_path: str,
    to: Side,
    to_path: str,
    details: _Details,
    overwrite: bool,
    planned: int,
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
    ctx.progress.meter(planned).add(size)
    return TransferResult(size, None, True)


@dataclass(slots=True)
class _Copy:
    """One streamed copy: what it reads, where it writes, and what it writes there.

    ``write_args``: metadata, content type and mtime to write. ``ahead``: the local
    source's identity when its MD5 (in ``details``) was computed just before the copy.
    """

    ctx: RunContext
    frm: Side
    from_path: str
    to: Side
    to_path: str
    details: _Details
    write_args: tuple[dict[str, str], str | None, int | None]
    overwrite: bool
    meter: ByteMeter
    ahead: FileId | None

    def changed(self, why: str = "") -> SourceChanged:
        """The error of a source that changed while it was read; ``why`` in parentheses."""
        detail = f" ({why})" if why else ""
        return SourceChanged(
            f"copy {self.from_path!r}: the source changed while it was read{detail}; "
            "nothing was written",
            path=self.from_path,
            op="read",
            temporary=True,
        )


@dataclass(frozen=True, slots=True)
class _HashPlan:
    """How a streamed copy hashes: ``hasher`` (``None``: not on the way), the digest the
    bytes must match (``listed``), whether the MD5 is known ahead (``md5_known``), the
    hash caches of both sides and the source's identity before the read (``before``)."""

    kind: str
    hasher: Hasher | None
    listed: str | None
    md5_known: bool
    from_hashes: LocalHashes | None
    to_hashes: LocalHashes | None
    before: FileId | None


def _hash_plan(job: _Copy) -> _HashPlan:
    """Hash on the way only where it serves: checking the bytes against a listed hash, or
    filling the local hash cache for later comparisons with a side that keeps no mtime."""
    ctx, frm, to = job.ctx, job.frm, job.to
    kind = ctx.stream_hash
    md5_known = job.ahead is not None and kind == HashType.MD5.value
    listed = job.details.md5 if kind == HashType.MD5.value and not md5_known else None
    from_hashes = ctx.hashes_for(frm)
    to_hashes = ctx.hashes_for(to)
    hasher = (
        new_hasher(HashType(kind))
        if not md5_known
        and (
            listed is not None
            or ctx.hash_always
            or (from_hashes is not None and not to.settable_mtime)
            or (to_hashes is not None and not frm.settable_mtime)
        )
        else None
    )
    before = (
        from_hashes.identity(job.from_path)
        if from_hashes is not None and hasher is not None
        else None
    )
    return _HashPlan(kind, hasher, listed, md5_known, from_hashes, to_hashes, before)


def _stream(job: _Copy, opened: BinaryIO | None = None) -> TransferResult:
    """Stream the bytes (``opened``: the source, already open; closed here). An unchanged
    identity of a source hashed ahead proves the streamed bytes are those, so they are not
    hashed again."""
    ctx = job.ctx
    plan = _hash_plan(job)
    metadata, content_type, mtime = job.write_args
    if opened is None:
        ctx.op()
        opened = job.frm.store.read(job.from_path)
    reader = opened
    try:
        ctx.op()
        writer = job.to.store.open_writer(
            job.to_path,
            overwrite=job.overwrite,
            content_type=content_type,
            metadata=metadata or None,
            modified=mtime,
            size_hint=job.details.size,
        )
        with writer:
            total = _pump(job, reader, writer, plan.hasher)
            digest = _checked_digest(job, plan, total)
            if ctx.cancelled():
                raise Cancelled
            writer.close()
    finally:
        reader.close()
    if digest is not None and not plan.md5_known:
        _remember(job, plan, total, digest)
    return TransferResult(total, digest, False)


def _pump(job: _Copy, reader: BinaryIO, writer: AtomicWriter, hasher: Hasher | None) -> int:
    """Copy ``reader`` into ``writer`` chunk by chunk, with cancellation, the transfer
    budget, bandwidth pacing, hashing and progress; the byte count."""
    ctx = job.ctx
    cancelled = ctx.cancelled
    budget = ctx.budget
    bandwidth = ctx.bandwidth
    meter = job.meter
    expected_size = job.details.size
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
            raise job.changed(str(exc)) from exc
        if not chunk:
            return total
        n = len(chunk)
        budget.add(n)
        if bandwidth is not None:
            bandwidth.take(n)
        if hasher is not None:
            hasher.update(chunk)
        writer.write(chunk)
        total += n
        meter.add(n)


def _checked_digest(job: _Copy, plan: _HashPlan, total: int) -> str | None:
    """The digest of the ``total`` bytes streamed, once they are proven to be the listed
    source's (size, listed hash, or the identity of a source hashed ahead); else
    :class:`SourceChanged`."""
    digest = plan.hasher.hexdigest() if plan.hasher is not None else None
    if plan.md5_known:
        digest = job.details.md5
        assert plan.from_hashes is not None
        if plan.from_hashes.identity(job.from_path) != job.ahead:
            raise job.changed()
    expected_size = job.details.size
    if expected_size is not None and total != expected_size:
        raise job.changed(f"listed {expected_size} bytes, read {total}")
    if plan.listed is not None and digest != plan.listed:
        raise SourceChanged(
            f"copy {job.from_path!r}: the bytes read do not match the source's {plan.kind} "
            "(it changed while it was read); nothing was written",
            path=job.from_path,
            op="read",
            temporary=True,
        )
    return digest


def _remember(job: _Copy, plan: _HashPlan, total: int, digest: str) -> None:
    """Keep ``digest`` in the hash caches of both sides, for files unchanged since."""
    before, from_hashes, to_hashes = plan.before, plan.from_hashes, plan.to_hashes
    if (
        from_hashes is not None
        and before is not None
        and before.size == total
        and from_hashes.identity(job.from_path) == before
    ):
        from_hashes.remember(before, plan.kind, digest)
    if to_hashes is not None:
        mtime = job.write_args[2]
        after = to_hashes.identity(job.to_path)
        if after is not None and after.size == total and (mtime is None or after.mtime_ns == mtime):
            to_hashes.remember(after, plan.kind, digest)


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
