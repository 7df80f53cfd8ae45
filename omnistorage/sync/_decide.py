"""Decide, per file present on both sides, whether it must be transferred. Pure: no I/O.

The rule (what the default ``compare="default"`` trusts), in order:

1. Sizes known on both sides and different: transfer.
2. A hash both sides carry (from listings, a local file's hash, or ``stat``):
   equal skips, different transfers. An S3 listing's ETag counts when it
   *equals* the other side's MD5 (a multipart or SSE-KMS ETag proves nothing).
3. Sizes equal and both modification times comparable (the destination keeps
   the source's mtime: ``SET_MOD_TIME``, or rclone's ``mtime`` metadata entry
   read with ``stat``): equal within the window skips, different transfers.
4. Otherwise ask for more evidence, cheapest first: the hash of a local file
   (read once, then cached), then ``stat`` of a side whose mtime or MD5 lives
   in metadata. With nothing left to ask: transfer.

So a file whose content changed at equal size is never skipped, unless its
mtime was also restored to the old value by hand (the same trust rclone and
rsync put in mtimes), or unless the caller chose ``compare="size"``. A size
of ``None`` (unknown until produced) never equals anything: only a matching
hash can skip such a file.

``compare="checksum"`` decides by the strongest hash type both sides can
produce (step 2 only); where a file's hash cannot be had without
downloading it, that file falls back to the default rule.
``ignore_existing`` skips every file present on the destination;
``update`` skips files whose destination copy is newer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from omnistorage.models import HashType, ObjectInfo
from omnistorage.sync._conventions import (
    HASH_STRENGTH,
    Side,
    etag_md5,
    metadata_md5,
    metadata_mtime,
    multipart_candidate,
    multipart_kind,
)
from omnistorage.sync._entry import Entry

__all__ = ["Facts", "Policy", "Verdict", "decide", "quick_decide"]

_MD5 = HashType.MD5.value

Kind = Literal["skip", "transfer", "need_hash", "need_meta"]


class Verdict(NamedTuple):
    """What to do with a file: ``skip`` or ``transfer`` (with a reason), or gather evidence
    (``need_hash`` of ``kind`` on ``side``, ``need_meta``: a ``stat`` of ``side``)."""

    kind: Kind
    reason: str
    side: Literal["src", "dst", ""] = ""
    hash_kind: str = ""


@dataclass(frozen=True, slots=True)
class Policy:
    """How to compare (fixed for a run)."""

    src: Side
    dst: Side
    compare: Literal["default", "size", "checksum"] = "default"
    ignore_existing: bool = False
    update: bool = False
    window_us: int = 1
    """Two mtimes this close (microseconds) are equal: the coarser precision of the sides."""
    checksum_kind: str | None = None
    """The hash type ``compare="checksum"`` uses (``None``: no shared type, default rule)."""


@dataclass(slots=True)
class Facts:
    """What is known about one side's file: the listing, plus evidence gathered for it."""

    entry: Entry
    hashes: dict[str, str] = field(default_factory=dict)
    """Authoritative hex digests (listing, computed, ``stat``), by hash type."""
    hashed: set[str] = field(default_factory=set)
    """Hash types already attempted (computed or found unavailable)."""
    meta: ObjectInfo | None = None
    meta_loaded: bool = False

    @classmethod
    def of(cls, entry: Entry) -> Facts:
        return cls(entry, dict(entry.hashes) if entry.hashes else {})

    def add_meta(self, info: ObjectInfo | None) -> None:
        """Fold a ``stat`` result in (``None``: the stat found nothing usable)."""
        self.meta_loaded = True
        self.meta = info
        if info is None:
            return
        for kind, value in info.hashes.items():
            self.hashes.setdefault(str(kind), value)
        md5 = metadata_md5(info.metadata)
        if md5 is not None:
            self.hashes.setdefault(_MD5, md5)


def _candidate(facts: Facts, side: Side) -> str | None:
    if not side.etag_md5_candidate:
        return None
    etag = facts.meta.etag if facts.meta is not None else facts.entry.etag
    return etag_md5(etag)


def _mtime(facts: Facts, side: Side, *, is_src: bool) -> int | None:
    """The side's mtime in the sense the other side keeps it, or ``None`` if unknown yet."""
    if side.settable_mtime:
        return facts.entry.mtime
    if side.mtime_in_metadata:
        if not facts.meta_loaded:
            return None
        kept = metadata_mtime(facts.meta.metadata) if facts.meta is not None else None
        if kept is not None:
            return kept
        # A source never stamped: its upload time is its mtime (rclone reads it so too).
        return facts.entry.mtime if is_src else None
    return facts.entry.mtime if is_src else None


def _multipart(facts: Facts, side: Side, other: Facts) -> tuple[str, str] | None:
    """(listed multipart ETag, the hash kind that computes it) when ``side``'s file has a
    multipart ETag that our writer would have made for a file of ``other``'s size."""
    if side.multipart is None:
        return None
    etag = facts.meta.etag if facts.meta is not None else facts.entry.etag
    found = multipart_candidate(etag)
    size = other.entry.size
    if found is None or size is None:
        return None
    parts = side.multipart.lengths(size)
    if parts is None or len(parts) != found[1]:
        return None
    return found[0], multipart_kind(side.multipart)


def _multipart_proof(src: Facts, dst: Facts, policy: Policy) -> bool:
    """True when one side's listed multipart ETag equals the one computed for the other
    side's local file (same parts, same MD5s: the same content)."""
    for facts, side, other in ((dst, policy.dst, src), (src, policy.src, dst)):
        found = _multipart(facts, side, other)
        if found is not None and other.hashes.get(found[1]) == found[0]:
            return True
    return False


def _md5_proof(src: Facts, dst: Facts, policy: Policy) -> bool:
    """True when an MD5 candidate (S3 ETag) on one side equals the other side's MD5."""
    s_md5 = src.hashes.get(_MD5)
    d_md5 = dst.hashes.get(_MD5)
    s_cand = _candidate(src, policy.src)
    d_cand = _candidate(dst, policy.dst)
    return bool(
        (s_cand is not None and s_cand in (d_md5, d_cand))
        or (d_cand is not None and d_cand == s_md5)
    )


def _common_hash(src: Facts, dst: Facts) -> str | None:
    if not src.hashes or not dst.hashes:
        return None
    for kind in HASH_STRENGTH:
        if kind in src.hashes and kind in dst.hashes:
            return kind
    return None


def quick_decide(s: Entry, d: Entry, policy: Policy) -> Verdict | None:
    """The common verdicts from listings alone, or ``None`` when :func:`decide` must look."""
    if policy.ignore_existing:
        return Verdict("skip", "exists on destination")
    if policy.update:
        return None
    s_size = s[1]
    d_size = d[1]
    if s_size is not None and d_size is not None and s_size != d_size:
        return Verdict("transfer", "size differs")
    compare = policy.compare
    if compare == "size":
        if s_size is None or d_size is None:
            return Verdict("transfer", "size unknown")
        return Verdict("skip", "same size")
    s_hashes = s[4]
    d_hashes = d[4]
    if compare == "default" and s_hashes and d_hashes:
        for kind in HASH_STRENGTH:
            if kind in s_hashes and kind in d_hashes:
                if s_hashes[kind] == d_hashes[kind]:
                    return Verdict("skip", "same hash")
                return Verdict("transfer", "hash differs")
    if (
        compare == "default"
        and s_size is not None
        and d_size is not None
        and policy.src.settable_mtime
        and policy.dst.settable_mtime
        and s[2] is not None
        and d[2] is not None
        and not (s[4] and d[4])  # both listings carry hashes: decide() compares them first
    ):
        if abs(s[2] - d[2]) <= policy.window_us:
            return Verdict("skip", "same size and mtime")
        return Verdict("transfer", "mtime differs")
    return None


def decide(src: Facts, dst: Facts, policy: Policy) -> Verdict:
    """The verdict for a file on both sides (see the module docstring)."""
    if policy.ignore_existing:
        return Verdict("skip", "exists on destination")
    s, d = src.entry, dst.entry
    window = policy.window_us
    if policy.update:
        s_time = _mtime(src, policy.src, is_src=True)
        d_time = _mtime(dst, policy.dst, is_src=False)
        if d_time is None and _meta_pending(dst, policy.dst):
            return Verdict("need_meta", "destination mtime", "dst")
        if s_time is None and _meta_pending(src, policy.src):
            return Verdict("need_meta", "source mtime", "src")
        if s_time is not None and d_time is not None and d_time > s_time + window:
            return Verdict("skip", "newer on destination")
    sizes_known = s.size is not None and d.size is not None
    if sizes_known and s.size != d.size:
        return Verdict("transfer", "size differs")
    if policy.compare == "size":
        return Verdict("skip", "same size") if sizes_known else Verdict("transfer", "size unknown")
    if policy.compare == "checksum" and policy.checksum_kind is not None:
        verdict = _by_checksum(src, dst, policy, policy.checksum_kind)
        if verdict is not None:
            return verdict
    kind = _common_hash(src, dst)
    if kind is not None:
        if src.hashes[kind] == dst.hashes[kind]:
            return Verdict("skip", "same hash")
        return Verdict("transfer", "hash differs")
    if _md5_proof(src, dst, policy) or _multipart_proof(src, dst, policy):
        return Verdict("skip", "same hash")
    if sizes_known:
        s_time = _mtime(src, policy.src, is_src=True)
        d_time = _mtime(dst, policy.dst, is_src=False)
        if s_time is not None and d_time is not None:
            if abs(s_time - d_time) <= window:
                return Verdict("skip", "same size and mtime")
            if policy.src.settable_mtime and policy.dst.settable_mtime:
                return Verdict("transfer", "mtime differs")
    need = _next_evidence(src, dst, policy)
    if need is not None:
        return need
    if sizes_known:
        s_time = _mtime(src, policy.src, is_src=True)
        d_time = _mtime(dst, policy.dst, is_src=False)
        if s_time is not None and d_time is not None:
            return Verdict("transfer", "mtime differs")
        return Verdict("transfer", "no proof of equal content")
    return Verdict("transfer", "size unknown")


def _by_checksum(src: Facts, dst: Facts, policy: Policy, kind: str) -> Verdict | None:
    s_hash = src.hashes.get(kind)
    d_hash = dst.hashes.get(kind)
    if s_hash is not None and d_hash is not None:
        if s_hash == d_hash:
            return Verdict("skip", "same checksum")
        return Verdict("transfer", "checksum differs")
    if kind == _MD5 and _md5_proof(src, dst, policy):
        return Verdict("skip", "same checksum")
    for facts, side, name in ((src, policy.src, "src"), (dst, policy.dst, "dst")):
        if kind in facts.hashes:
            continue
        if side.reads_local and kind not in facts.hashed:
            return Verdict("need_hash", "checksum", name, kind)  # type: ignore[arg-type]
        if not facts.meta_loaded and side.has_metadata and _meta_may_hash(side, kind):
            return Verdict("need_meta", "checksum", name)  # type: ignore[arg-type]
    return None  # this file's hash cannot be had: the default rule decides


def _meta_pending(facts: Facts, side: Side) -> bool:
    """A ``stat`` of this side's file could still tell its kept mtime or MD5."""
    return side.mtime_in_metadata and side.has_metadata and not facts.meta_loaded


def _meta_may_hash(side: Side, kind: str) -> bool:
    if kind in side.hash_types:
        return True
    return kind == _MD5 and (side.etag_md5_candidate or side.mtime_in_metadata)


def _next_evidence(src: Facts, dst: Facts, policy: Policy) -> Verdict | None:
    """The cheapest evidence still missing that could prove equal content."""
    s_side, d_side = policy.src, policy.dst
    # A local file's multipart ETag, when the other side lists one made with our parts.
    for facts, side, other, other_side, name in (
        (src, s_side, dst, d_side, "src"),
        (dst, d_side, src, s_side, "dst"),
    ):
        if not side.reads_local:
            continue
        found = _multipart(other, other_side, facts)
        if found is not None and found[1] not in facts.hashed:
            return Verdict("need_hash", "compare by multipart ETag", name, found[1])  # type: ignore[arg-type]
    # A local file's MD5, when the other side has (or may have) an MD5 to compare with.
    for facts, side, other, other_side, name in (
        (src, s_side, dst, d_side, "src"),
        (dst, d_side, src, s_side, "dst"),
    ):
        if not side.reads_local or _MD5 in facts.hashed or _MD5 in facts.hashes:
            continue
        if (
            _MD5 in other.hashes
            or _candidate(other, other_side) is not None
            or (_meta_pending(other, other_side) and _meta_may_hash(other_side, _MD5))
        ):
            return Verdict("need_hash", "compare by hash", name, _MD5)  # type: ignore[arg-type]
    # A stat of a side whose mtime or MD5 lives in metadata.
    for facts, side, name in ((dst, d_side, "dst"), (src, s_side, "src")):
        if facts.meta_loaded or not side.has_metadata:
            continue
        if side.mtime_in_metadata or (side.etag_md5_candidate and _MD5 not in facts.hashes):
            return Verdict("need_meta", "compare by metadata", name)  # type: ignore[arg-type]
    return None
