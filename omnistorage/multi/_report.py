"""What a mirror write did on each destination, and the errors that carry it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from omnistorage.errors import StorageError

__all__ = ["DestinationResult", "MirrorReport", "MirrorWriteError", "PartialPublish", "detach"]

State = Literal["published", "aborted", "failed", "rolled_back", "superseded", "dropped"]


@dataclass(frozen=True, slots=True)
class DestinationResult:
    """One destination's outcome.

    ``state``: ``published`` (the new object is there), ``aborted`` (nothing published:
    another destination's failure stopped it), ``failed`` (this destination failed;
    ``error`` says how), ``rolled_back`` (published, then deleted again to undo a
    create-only write: only this write's version, by a conditional delete),
    ``superseded`` (published, but by the time of the rollback another writer's version
    had replaced it, which was left alone), ``dropped`` (fell more than ``max_lag``
    behind and was cut off).
    """

    index: int
    name: str
    state: State
    bytes: int = 0
    seconds: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "name": self.name,
            "state": self.state,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 6),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class MirrorReport:
    """Every destination's outcome for one write (``key`` is the mirror's key)."""

    key: str
    policy: str
    overwrite: bool
    destinations: tuple[DestinationResult, ...] = field(default_factory=tuple)

    @property
    def published(self) -> tuple[int, ...]:
        """Indexes of the destinations that hold the new object."""
        return tuple(d.index for d in self.destinations if d.state == "published")

    @property
    def ok(self) -> bool:
        """True when every destination published."""
        return all(d.state == "published" for d in self.destinations)

    def to_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "policy": self.policy,
            "overwrite": self.overwrite,
            "destinations": [d.to_dict() for d in self.destinations],
        }


class MirrorWriteError(StorageError):
    """A mirror write did not reach the destinations its policy needs.

    ``report`` says what each destination did. Unless the error is a
    :class:`PartialPublish`, no destination holds the new object.
    """

    report: MirrorReport | None = None


class PartialPublish(MirrorWriteError):
    """A write was published on some destinations but failed on others, and could not be
    undone: an overwrite (the old version is gone where the new one landed), or a
    create-only write on a destination without ``CONDITIONAL_DELETE`` (deleting there
    could remove another writer's object). The destinations now disagree. ``new`` and
    ``old`` name (by index) which hold the new version and which still hold the old one
    (for a create-only write: nothing); rerun the write or repair."""

    new: tuple[int, ...] = ()
    old: tuple[int, ...] = ()


def detach(exc: StorageError) -> StorageError:
    """A destination's error re-raised by the mirror *driver*: same class, message and
    flags, but no ``path`` or ``backend`` (the destination's), so the Store over the mirror fills in
    its own. The ``__cause__`` is the destination's native exception (or the
    destination's error itself when it has none)."""
    fresh = type(exc)(exc.message, op=exc.op, temporary=exc.temporary)
    for name in ("report", "new", "old"):
        if hasattr(exc, name):
            setattr(fresh, name, getattr(exc, name))
    fresh.__cause__ = exc.__cause__ if exc.__cause__ is not None else exc
    fresh.__suppress_context__ = True
    return fresh
