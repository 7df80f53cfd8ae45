"""What a backend really does: :class:`Capability` flags and the :class:`Features` record.

A flag is declared exactly when the conformance suite passes that behaviour on
that backend (:mod:`omnistorage.testing` checks it). Flags describe the
driver's *native* behaviour: a Store without native ``COPY`` still copies, by
streaming; ``supports(Capability.COPY)`` tells the caller it will not be a
server-side copy.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from omnistorage.models import HashType

__all__ = ["BASIC_FEATURES", "Capability", "Features"]


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


@dataclass(frozen=True, slots=True)
class Features:
    """The capabilities, hash types and limits of one backend."""

    capabilities: frozenset[Capability] = field(default_factory=frozenset)
    hash_types: frozenset[HashType] = field(default_factory=frozenset)
    max_object_size: int | None = None
    min_part_size: int | None = None
    max_part_size: int | None = None
    max_parts: int | None = None
    overwrite_may_conflict: bool = False
    """A racing overwrite may lose with :class:`~omnistorage.errors.WriteConflict`
    (``temporary=True``): nothing of it was published, the other writer's object stands
    whole, and writing again lands. False: every overwrite publishes (the last one wins).
    Azure declares it (a commit discards the blocks another writer staged)."""

    @classmethod
    def of(
        cls,
        capabilities: Iterable[Capability],
        hash_types: Iterable[HashType] = (),
        **limits: Any,
    ) -> Features:
        """Build a Features record from iterables; ``limits`` are the other fields."""
        return cls(frozenset(capabilities), frozenset(hash_types), **limits)

    def supports(self, capability: Capability) -> bool:
        """True when the capability is declared."""
        return capability in self.capabilities


BASIC_FEATURES = Features.of(
    [Capability.READ, Capability.WRITE, Capability.DELETE, Capability.LIST]
)
"""What a backend without the extended interface is taken to do."""
