"""A plan: the actions a sync, copy or move would take, with reasons, as data.

:func:`~omnistorage.sync.plan` makes one (listing and comparing, changing
nothing); :func:`~omnistorage.sync.execute` carries it out. A plan holds the
two stores it was made for and the actions only: files left alone are
counted in ``skipped`` by reason, so a plan over millions of unchanged files
stays small. It reflects the listings at the time it was made.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from omnistorage.store import Store
from omnistorage.sync._entry import Entry
from omnistorage.sync._options import SyncOptions
from omnistorage.sync._report import ErrorEntry

__all__ = ["Action", "ActionOp", "Plan"]

ActionOp = Literal["copy", "update", "delete", "rename", "delete_src"]


@dataclass(frozen=True, slots=True)
class Action:
    """One step of a plan.

    Attributes:
        op: ``"copy"`` (new on the destination), ``"update"`` (replace a differing
            destination file), ``"delete"`` (a destination file the source lacks),
            ``"rename"`` (``track_renames``: move the destination file ``source`` to
            ``path``), ``"delete_src"`` (``move``: the destination already holds the
            source file, so only the source goes, after verification). In a ``move``
            plan, ``copy`` and ``update`` also remove the source once the copy is verified.
        path: the path acted on (the destination path; the source path for ``delete_src``).
        reason: why (``"missing on destination"``, ``"size differs"`` …).
        size: the bytes involved (the source's for transfers, the destination's for deletes).
        source: the destination path a ``rename`` starts from.
        entry: the source listing entry (transfers, ``delete_src``), or the destination's
            (deletes, renames).
        other: the destination's entry of a ``delete_src`` or ``update``.
    """

    op: ActionOp
    path: str
    reason: str
    size: int | None = None
    source: str | None = None
    entry: Entry | None = field(default=None, compare=False, repr=False)
    other: Entry | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "op": self.op,
            "path": self.path,
            "reason": self.reason,
            "size": self.size,
        }
        if self.source is not None:
            data["source"] = self.source
        return data


@dataclass
class Plan:
    """The actions of a sync, copy or move between ``src`` and ``dst`` (see the module docstring).

    Attributes:
        mode: ``"sync"``, ``"copy"`` or ``"move"``.
        src, dst: the stores the plan was made for (``execute`` uses them).
        actions: transfers, renames and deletes, in path order.
        skipped: reason -> number of files left alone.
        errors: failures met while planning (a listing, a foreign key, a hash that could not
            be read): a plan with errors executes no deletes.
        options: the decision options the plan was made with (JSON-ready).
        listed: files listed per side.
        warnings: fallbacks taken while planning.
    """

    mode: str
    src: Store
    dst: Store
    actions: list[Action] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    errors: list[ErrorEntry] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    listed: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    settings: SyncOptions | None = field(default=None, repr=False, compare=False)
    """The options the plan was made with (``execute`` starts from them)."""

    @property
    def counts(self) -> dict[str, int]:
        """Actions per op."""
        return dict(Counter(action.op for action in self.actions))

    @property
    def bytes_to_transfer(self) -> int:
        """Known bytes of the copies and updates."""
        return sum(a.size or 0 for a in self.actions if a.op in ("copy", "update"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "src": self.src.native_path(),
            "dst": self.dst.native_path(),
            "actions": [action.to_dict() for action in self.actions],
            "counts": self.counts,
            "bytes_to_transfer": self.bytes_to_transfer,
            "skipped": dict(self.skipped),
            "errors": [entry.to_dict() for entry in self.errors],
            "options": dict(self.options),
            "listed": dict(self.listed),
            "warnings": list(self.warnings),
        }
