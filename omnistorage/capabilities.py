"""What a backend really does: :class:`Capability` flags and the :class:`Features` record.

A flag is declared exactly when the conformance suite passes that behaviour on
that backend (:mod:`omnistorage.testing` checks it). Flags describe the
driver's *native* behaviour: a Store without native ``COPY`` still copies, by
streaming; ``supports(Capability.COPY)`` tells the caller it will not be a
server-side copy.

Besides the flags, :class:`Features` carries the *facts* that code built on
top needs (DESIGN §5b): how finely modification times survive, whether a
server-side copy keeps them, whether keys are case-insensitive or Unicode-
normalised, what an ETag means (and the part layout of a multipart upload),
and whether ``ObjectInfo.etag`` is a strong version token. Each driver
declares them; each wrapper combines its inners' facts by a stated rule
(:func:`combine_replicas` for mirrors and tiers). Nothing decides by a
backend's name.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from omnistorage._parts import PartLayout
from omnistorage.models import HashType

__all__ = [
    "BASIC_FEATURES",
    "MUTATING_CAPABILITIES",
    "Capability",
    "ETagKind",
    "Features",
    "PartLayout",
    "combine_replicas",
]


class Capability(enum.StrEnum):
    """One behaviour a backend may have."""

    READ = "read"
    """Files can be read."""
    WRITE = "write"
    """Files can be written."""
    DELETE = "delete"
    """Files can be deleted."""
    LIST = "list"
    """Folders can be listed."""
    METADATA = "metadata"
    """``stat`` returns size and modification time without reading content."""
    COPY = "copy"
    """Server-side copy (no bytes through the client)."""
    MOVE = "move"
    """Server-side move/rename."""
    ATOMIC_WRITE = "atomic_write"
    """A reader sees the old object or the whole new one; aborted writes publish nothing."""
    CONDITIONAL_WRITE = "conditional_write"
    """Create-only (``overwrite=False``) is atomic: of racing writers exactly one wins."""
    RANGE_READ = "range_read"
    """Reads at an offset fetch only the range (no skipping through the content)."""
    GLOB = "glob"
    """The backend filters glob patterns itself."""
    MKDIR = "mkdir"
    """Folders exist while empty: real directories (local, SFTP) or zero-size ``name/``
    folder markers (S3, GCS, Azure). ``Store.make_folder`` creates one and
    ``Store.delete_folder`` removes it; without this flag a folder exists only while it
    holds files."""
    SET_MOD_TIME = "set_mod_time"
    """A write can set the file's modification time."""
    USER_METADATA = "user_metadata"
    """Writes store user metadata (``str -> str``) and ``stat`` returns it."""
    CONTENT_TYPE = "content_type"
    """Writes store the given content type and ``stat`` returns it."""
    STREAMING = "streaming"
    """A reader may consume a key while its writer is still writing (channel)."""
    PINNED_READ = "pinned_read"
    """``open_pinned`` reads stay on one version; a change raises ``ChangedDuringRead``."""
    READ_INFO = "read_info"
    """A stream from ``Store.read`` carries ``info``: the :class:`~omnistorage.ObjectInfo`
    of the version it reads, from the same response (S3's ``GetObject`` headers) and as
    ``get_file_info`` gives it, so reading a file and knowing its size, mtime, ETag,
    content type and user metadata cost one request, not two."""
    CONDITIONAL_DELETE = "conditional_delete"
    """A write says which version it published (``WriteResult.version``), and
    ``delete(path, if_version=…)`` removes the file only while it is still that version
    (Azure ``If-Match``, GCS ``ifGenerationMatch``, S3 ``If-Match``, an inode check on
    local files): another writer's version is left alone (``PreconditionFailed``). What a
    mirror's and a composite's rollbacks use to undo only their own publish."""
    DEFERRED_PUBLISH = "deferred_publish"
    """A write can end *staged* instead of published (:func:`omnistorage.staged.open_staged`):
    every byte is stored where the backend publishes from (S3 parts of a multipart upload,
    a temp file beside the target …) but nothing is visible at the key, and a small
    serialisable token (:class:`~omnistorage.staged.StagedObject`) lets any process holding
    the same store configuration publish it later (create-only or overwriting, as the
    write asked) or abort it. A publish retried after a lost reply that finds its own object
    succeeds; another writer's object is ``AlreadyExists``."""


MUTATING_CAPABILITIES = frozenset(
    {
        Capability.WRITE,
        Capability.DELETE,
        Capability.COPY,
        Capability.MOVE,
        Capability.ATOMIC_WRITE,
        Capability.CONDITIONAL_WRITE,
        Capability.MKDIR,
        Capability.SET_MOD_TIME,
        Capability.USER_METADATA,
        Capability.CONTENT_TYPE,
        Capability.CONDITIONAL_DELETE,
        Capability.DEFERRED_PUBLISH,
    }
)
"""The capabilities that change data: a read-only driver or layer declares none of them."""


class ETagKind(enum.StrEnum):
    """What ``ObjectInfo.etag`` says about the content."""

    NONE = "none"
    """The backend gives no ETag (or one that may change without the content changing)."""
    OPAQUE = "opaque"
    """A version tag that says nothing about the content (GCS, Azure, HTTP, local)."""
    MD5 = "md5"
    """Always the hex MD5 of the content (memory)."""
    MD5_OR_MULTIPART = "md5-or-multipart"
    """S3's rule: the hex MD5 for an object uploaded in one request; for a multipart
    upload, the MD5 of the parts' MD5 digests, ``-`` and the part count (the parts follow
    :attr:`Features.multipart` for an object this backend's writer uploaded with a known
    size). Anything else (SSE-KMS, another tool's parts) never matches either. So an
    ETag equal to the content's MD5 or computed multipart ETag proves equal content; a
    different one proves nothing."""


@dataclass(frozen=True, slots=True)
class Features:
    """The capabilities, hash types, limits and facts of one backend.

    Attributes:
        capabilities: the :class:`Capability` flags the backend passes.
        hash_types: hashes listings or ``stat`` return without reading content.
        max_object_size, min_part_size, max_part_size, max_parts: limits.
        mtime_precision_ns: how finely a modification time survives a write with
            ``modified=`` (``SET_MOD_TIME``) or the listing's own times, in
            nanoseconds: 1 on local files, 1,000 where a ``datetime`` is stored,
            1,000,000,000 over SFTP v3 (whole seconds).
        copy_keeps_mtime: a native ``copy`` keeps the source's modification time
            (False on local files, where the copy is a new file).
        case_insensitive: keys that differ only in letter case name one file
            (a ``COLLATE NOCASE`` table, a macOS/Windows volume, SMB).
        normalizes_unicode: keys that are canonically equivalent Unicode (NFC vs NFD)
            name one file.
        etag: what a listed or stat'ed ``etag`` means (:class:`ETagKind`).
        multipart: the part layout the backend's writer uses for an object of a known
            size (see :attr:`ETagKind.MD5_OR_MULTIPART`), else ``None``.
        reads_local: the content lives on this machine (a local disk): reading a file
            costs no network round trip, so hashing it by reading is cheaper than asking a
            server, and listing is CPU-bound work. The sync engine computes such files'
            hashes itself (cached by :attr:`strong_version` where declared) and lists such
            stores one after the other.
        strong_version: ``ObjectInfo.etag`` from ``stat`` and listings changes whenever the
            content changes (an ETag, a generation, inode + mtime_ns + ctime + size), and
            ``PinnedReader.version`` is the same token. Size + mtime is never a version:
            without a strong version, caches and resumed reads must not trust one.
        overwrite_may_conflict: a racing overwrite may lose with
            :class:`~omnistorage.errors.WriteConflict` (``temporary=True``): nothing of it
            was published, the other writer's object stands whole, and writing again
            lands. False: every overwrite publishes (the last one wins). Azure declares it
            (a commit discards the blocks another writer staged).
    """

    capabilities: frozenset[Capability] = field(default_factory=frozenset)
    hash_types: frozenset[HashType] = field(default_factory=frozenset)
    max_object_size: int | None = None
    min_part_size: int | None = None
    max_part_size: int | None = None
    max_parts: int | None = None
    mtime_precision_ns: int = 1_000
    copy_keeps_mtime: bool = True
    case_insensitive: bool = False
    normalizes_unicode: bool = False
    etag: ETagKind = ETagKind.NONE
    multipart: PartLayout | None = None
    strong_version: bool = False
    reads_local: bool = False
    overwrite_may_conflict: bool = False

    @classmethod
    def of(
        cls,
        capabilities: Iterable[Capability],
        hash_types: Iterable[HashType] = (),
        **facts: object,
    ) -> Features:
        """Build a Features record from iterables; ``facts`` are the other fields."""
        return cls(frozenset(capabilities), frozenset(hash_types), **facts)  # type: ignore[arg-type]

    def supports(self, capability: Capability) -> bool:
        """True when the capability is declared."""
        return capability in self.capabilities

    def with_capabilities(self, capabilities: Iterable[Capability]) -> Features:
        """The same facts with other capability flags (for layers that add or remove
        behaviour)."""
        return replace(self, capabilities=frozenset(capabilities))


def combine_replicas(members: Iterable[Features], capabilities: Iterable[Capability]) -> Features:
    """The facts of a wrapper that reads any one of several members (a mirror's
    destinations, a composite's tiers), with the ``capabilities`` the wrapper decided.

    The rule, fact by fact, is the one that keeps every member's promise:
    mtime precision is the coarsest; a copy keeps mtimes only if every member's does;
    keys collide (case, Unicode) if they collide in any member; hash types are those
    every member returns; the ETag kind (and multipart layout) is kept only when every
    member has the same one, else :attr:`ETagKind.NONE`; versions are strong only when
    every member's are; reads are local only when every member's are; limits are the
    smallest; a racing overwrite may conflict if it may in any member.
    """
    found = list(members)
    if not found:
        return Features.of(capabilities)
    kinds = {f.etag for f in found}
    layouts = {f.multipart for f in found}
    etag = kinds.pop() if len(kinds) == 1 else ETagKind.NONE
    hashes = frozenset.intersection(*(f.hash_types for f in found))

    def smallest(values: Iterable[int | None]) -> int | None:
        known = [v for v in values if v is not None]
        return min(known) if known else None

    return Features(
        capabilities=frozenset(capabilities),
        hash_types=hashes,
        max_object_size=smallest(f.max_object_size for f in found),
        mtime_precision_ns=max(f.mtime_precision_ns for f in found),
        copy_keeps_mtime=all(f.copy_keeps_mtime for f in found),
        case_insensitive=any(f.case_insensitive for f in found),
        normalizes_unicode=any(f.normalizes_unicode for f in found),
        etag=etag,
        multipart=layouts.pop() if etag is not ETagKind.NONE and len(layouts) == 1 else None,
        strong_version=all(f.strong_version for f in found),
        reads_local=all(f.reads_local for f in found),
        overwrite_may_conflict=any(f.overwrite_may_conflict for f in found),
    )


BASIC_FEATURES = Features.of(
    [Capability.READ, Capability.WRITE, Capability.DELETE, Capability.LIST]
)
"""What a backend without the extended interface is taken to do."""
