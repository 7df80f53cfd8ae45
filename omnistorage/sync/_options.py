"""The options of sync, copy, move, plan, execute and bisync, checked once.

Every operation takes its options as keywords and turns them into one frozen
:class:`SyncOptions`; an unknown name is a ``TypeError`` and a bad value a
``ValueError`` or ``TypeError`` naming the option, before any I/O.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from omnistorage.models import HashType
from omnistorage.store import Store
from omnistorage.sync._filters import Filters

if TYPE_CHECKING:
    from omnistorage.sync._progress import Progress

__all__ = [
    "DECISION_OPTIONS",
    "RUNTIME_OPTIONS",
    "CancelLike",
    "SyncOptions",
    "cancel_check",
]

CancelLike = threading.Event | Callable[[], bool] | None
"""An ``Event`` (set means cancel) or a function returning True to cancel."""

_COMPARES = ("default", "size", "checksum")
_DELETE_MODES = ("after", "during", "before")
_CUTOFF_MODES = ("hard", "soft", "cautious")


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """All options (see the table in :mod:`omnistorage.sync`)."""

    compare: Literal["default", "size", "checksum"] = "default"
    ignore_existing: bool = False
    update: bool = False
    filters: Filters | None = None
    delete_mode: Literal["after", "during", "before"] = "after"
    delete_excluded: bool = False
    max_delete: int | None = None
    max_delete_size: int | None = None
    backup_dir: Store | None = None
    track_renames: bool = False
    checkers: int = 8
    transfers: int = 16
    retries: int = 3
    retry_backoff: float = 0.5
    bwlimit: float | None = None
    tpslimit: float | None = None
    max_transfer: int | None = None
    cutoff_mode: Literal["hard", "soft", "cautious"] = "hard"
    cancel: CancelLike = None
    progress: Callable[[Progress], None] | None = None
    record_paths: bool = True
    hash_cache: bool | str | os.PathLike[str] = True
    hash_type: str = HashType.MD5.value
    modify_window: timedelta | None = None
    listing_buffer: int = 20_000
    spill_dir: str | None = None

    def __post_init__(self) -> None:
        _choice("compare", self.compare, _COMPARES)
        _choice("delete_mode", self.delete_mode, _DELETE_MODES)
        _choice("cutoff_mode", self.cutoff_mode, _CUTOFF_MODES)
        for name in ("ignore_existing", "update", "delete_excluded", "track_renames"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"option {name} must be a bool, got {getattr(self, name)!r}")
        if not isinstance(self.record_paths, bool):
            raise TypeError("option record_paths must be a bool")
        if self.filters is not None and not isinstance(self.filters, Filters):
            raise TypeError("option filters must be an omnistorage.sync.Filters")
        if self.backup_dir is not None and not isinstance(self.backup_dir, Store):
            raise TypeError("option backup_dir must be an omnistorage.Store")
        for name in ("checkers", "transfers", "listing_buffer"):
            _int(name, getattr(self, name), minimum=1)
        _int("retries", self.retries, minimum=0)
        for name in ("max_delete", "max_delete_size", "max_transfer"):
            value = getattr(self, name)
            if value is not None:
                _int(name, value, minimum=0)
        for name in ("bwlimit", "tpslimit"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, (int, float)) or value <= 0):
                raise ValueError(f"option {name} must be a number > 0, got {value!r}")
        if not isinstance(self.retry_backoff, (int, float)) or self.retry_backoff < 0:
            raise ValueError(f"option retry_backoff must be >= 0, got {self.retry_backoff!r}")
        if self.cancel is not None and not (
            isinstance(self.cancel, threading.Event) or callable(self.cancel)
        ):
            raise TypeError("option cancel must be a threading.Event or a callable")
        if self.progress is not None and not callable(self.progress):
            raise TypeError("option progress must be callable")
        if self.modify_window is not None and (
            not isinstance(self.modify_window, timedelta) or self.modify_window < timedelta(0)
        ):
            raise ValueError("option modify_window must be a timedelta >= 0")
        try:
            HashType(self.hash_type)
        except ValueError:
            known = ", ".join(kind.value for kind in HashType)
            raise ValueError(f"option hash_type must be one of {known}") from None
        if not isinstance(self.hash_cache, (bool, str, os.PathLike)):
            raise TypeError("option hash_cache must be a bool or a path")
        if self.track_renames and self.delete_mode == "before":
            raise ValueError("track_renames cannot be used with delete_mode='before'")

    @classmethod
    def parse(
        cls, op: str, opts: Mapping[str, Any], *, allowed: frozenset[str] | None = None
    ) -> SyncOptions:
        """Options for ``op`` from keyword arguments; unknown names raise ``TypeError``."""
        known = allowed if allowed is not None else ALL_OPTIONS
        unknown = sorted(set(opts) - known)
        if unknown:
            raise TypeError(
                f"{op}() got unknown option(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**opts)

    def decision_dict(self) -> dict[str, Any]:
        """The options that shape a plan, JSON-ready."""
        filters = self.filters
        return {
            "compare": self.compare,
            "ignore_existing": self.ignore_existing,
            "update": self.update,
            "delete_mode": self.delete_mode,
            "delete_excluded": self.delete_excluded,
            "track_renames": self.track_renames,
            "max_delete": self.max_delete,
            "max_delete_size": self.max_delete_size,
            "modify_window": None
            if self.modify_window is None
            else self.modify_window.total_seconds(),
            "filters": None
            if filters is None
            else {
                "rules": list(filters.rules),
                "min_size": filters.min_size,
                "max_size": filters.max_size,
                "min_age": None if filters.min_age is None else filters.min_age.total_seconds(),
                "max_age": None if filters.max_age is None else filters.max_age.total_seconds(),
                "ignore_case": filters.ignore_case,
            },
        }


ALL_OPTIONS = frozenset(f.name for f in fields(SyncOptions))
DECISION_OPTIONS = frozenset(
    {
        "compare",
        "ignore_existing",
        "update",
        "filters",
        "delete_excluded",
        "track_renames",
        "modify_window",
        "delete_mode",
        "listing_buffer",
        "spill_dir",
    }
)
"""Options fixed when a plan is made (``execute`` refuses them)."""
RUNTIME_OPTIONS = ALL_OPTIONS - DECISION_OPTIONS
"""Options ``execute`` takes."""


def cancel_check(cancel: CancelLike) -> Callable[[], bool]:
    """A function that says whether the run must stop."""
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    return lambda: bool(cancel())


def _choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"option {name} must be one of {', '.join(choices)}, got {value!r}")


def _int(name: str, value: object, *, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"option {name} must be an int >= {minimum}, got {value!r}")
