"""Bringing a mirror's lagging replicas in line, with the sync engine's ``copy``/``sync``.

Under ``quorum(k)`` and ``best_effort`` a destination can miss writes (it failed
or was dropped after ``max_lag``), and under any policy a destination can be
replaced by an empty one. :func:`repair` makes the replicas agree again:

- **With a reference** (``reference=i``): every other destination is made to
  hold what destination ``i`` holds: new and changed files are copied from it
  (``omnistorage.sync.copy``; with ``delete=True``, ``omnistorage.sync.sync``,
  which also deletes what the reference does not have, under the engine's
  safety rules: no deletes after any error, ``max_delete`` …).
- **Without one** (the default): a union. For every ordered pair of
  destinations, files the other lacks are copied, and a file both hold in
  different versions is copied from the one whose copy is newer (the engine's
  ``update`` rule: a destination copy newer than the source's is left alone).
  One pass over all pairs suffices: each comparison sees the state the earlier
  ones left. A union never deletes, so a file deleted while a replica was
  down comes back from that replica: repair deletions with a reference and
  ``delete=True``.

Every option of the sync engine passes through (``compare``, ``filters``,
``transfers``, ``dry_run``, ``cancel`` …); the result holds one
:class:`~omnistorage.sync.SyncReport` per (from, to) pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from omnistorage.errors import ConfigurationError

if TYPE_CHECKING:
    from omnistorage.store import Store
    from omnistorage.sync import SyncReport

__all__ = ["RepairReport", "repair"]


@dataclass
class RepairReport:
    """What :func:`repair` did: one sync report per ``(from, to)`` destination pair.

    ``runs`` is in the order the pairs ran; indexes are positions in the
    mirror's destination list.
    """

    runs: list[tuple[int, int, SyncReport]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No run had an error."""
        return all(report.ok for _, _, report in self.runs)

    @property
    def copied(self) -> int:
        """Files written to a destination that lacked them, over all runs."""
        return sum(len(report.copied) for _, _, report in self.runs)

    @property
    def updated(self) -> int:
        """Files rewritten on a destination that held another version, over all runs."""
        return sum(len(report.updated) for _, _, report in self.runs)

    def to_dict(self) -> dict[str, object]:
        """A JSON-serialisable form."""
        return {
            "ok": self.ok,
            "runs": [
                {"from": src, "to": dst, "report": report.to_dict()}
                for src, dst, report in self.runs
            ],
        }


def repair(
    destinations: Sequence[Store],
    *,
    reference: int | None = None,
    delete: bool = False,
    dry_run: bool = False,
    **options: Any,
) -> RepairReport:
    """Make the ``destinations`` hold the same files (see the module docstring).

    Args:
        reference: the index of the destination that is the truth, or ``None``
            for a union where the newer copy of a file wins.
        delete: with a reference, also delete what it does not hold (a ``sync``).
        dry_run: plan only; each report's ``plan`` says what would be done.
        options: passed to the sync engine (``compare``, ``filters``, ``transfers``,
            ``cancel``, ``progress`` …). ``update`` is the union's own rule.

    Raises:
        ConfigurationError: a bad ``reference``, ``delete`` without a reference, or an
            option the union sets itself.
    """
    from omnistorage import sync as engine

    count = len(destinations)
    if reference is not None and not 0 <= reference < count:
        raise ConfigurationError(f"reference must be 0..{count - 1}, not {reference!r}")
    if delete and reference is None:
        raise ConfigurationError(
            "delete=True needs a reference destination: a union cannot tell a deleted "
            "file from one another replica has not received yet"
        )
    report = RepairReport()
    if reference is not None:
        run = engine.sync if delete else engine.copy
        for index in range(count):
            if index != reference:
                result = run(
                    destinations[reference], destinations[index], dry_run=dry_run, **options
                )
                report.runs.append((reference, index, result))
        return report
    if "update" in options:
        raise ConfigurationError("update is set by the union repair itself (newer wins)")
    for src in range(count):
        for dst in range(count):
            if src != dst:
                result = engine.copy(
                    destinations[src], destinations[dst], dry_run=dry_run, update=True, **options
                )
                report.runs.append((src, dst, result))
    return report
