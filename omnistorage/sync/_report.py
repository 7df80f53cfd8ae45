"""Reports of sync, copy, move, check and bisync runs: plain, JSON-serialisable data.

Every report has ``to_dict()`` (only ``str``, ``int``, ``float``, ``bool``,
``None``, lists and dicts) and ``to_json()``. ``ok`` is true when the run
had no error (and, for :class:`CheckReport`, found no difference).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from omnistorage.errors import StorageError
from omnistorage.sync._errors import SyncError

if TYPE_CHECKING:
    from omnistorage.sync._plan import Plan

__all__ = [
    "BisyncReport",
    "CheckReport",
    "Conflict",
    "ErrorEntry",
    "SyncReport",
    "error_entry",
]


@dataclass(frozen=True, slots=True)
class ErrorEntry:
    """One failure: the store-relative ``path`` (``None`` for run-level errors), the ``op``
    that failed (``"read"``, ``"write"``, ``"delete"``, ``"list"``, ``"sync"`` …), the
    ``error`` message, whether it was ``temporary``, and the exception type name."""

    path: str | None
    op: str
    error: str
    temporary: bool = False
    type: str = "StorageError"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "op": self.op,
            "error": self.error,
            "temporary": self.temporary,
            "type": self.type,
        }


def error_entry(path: str | None, op: str, exc: BaseException) -> ErrorEntry:
    """The report entry for ``exc`` (any exception) raised while doing ``op`` on ``path``."""
    temporary = bool(getattr(exc, "temporary", False)) if isinstance(exc, StorageError) else False
    message = str(exc) or type(exc).__name__
    return ErrorEntry(path, op, message, temporary, type(exc).__name__)


@dataclass
class SyncReport:
    """What a :func:`~omnistorage.sync.sync`, ``copy``, ``move`` (or a dry run) did.

    Attributes:
        mode: ``"sync"``, ``"copy"`` or ``"move"``.
        copied: paths written on the destination where nothing was.
        updated: paths rewritten on the destination because they differed.
        deleted: destination paths deleted (sync), or moved to ``backup_dir``.
        moved: source paths removed by ``move`` after their copy was verified.
        renamed: destination paths a ``track_renames`` move created (``old -> new``
            pairs are in ``renames``).
        skipped: reason -> number of files left alone.
        errors: every failure; any error means no deletes happened after it.
        counts: the number of paths per list above (exact also when ``record_paths``
            is off and the lists stay empty).
        bytes_transferred: bytes written (streamed or copied server-side).
        duration: seconds.
        dry_run: nothing was changed; ``plan`` says what would have been.
        plan: the :class:`~omnistorage.sync.Plan` of a dry run.
        listed: files listed per side (``{"src": n, "dst": m}``).
        warnings: notes that do not fail the run (a fallback the engine took).
        cancelled: the run was interrupted by ``cancel``.
    """

    mode: str = "sync"
    copied: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    renames: list[tuple[str, str]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    errors: list[ErrorEntry] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("copied", "updated", "deleted", "moved", "renamed"), 0
        )
    )
    bytes_transferred: int = 0
    duration: float = 0.0
    dry_run: bool = False
    plan: Plan | None = None
    listed: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        """True when the run had no error."""
        return not self.errors

    def raise_for_errors(self) -> None:
        """Raise a :class:`~omnistorage.sync.SyncError` carrying this report unless ``ok``."""
        if not self.ok:
            first = self.errors[0]
            where = f" {first.path!r}" if first.path else ""
            raise SyncError(
                f"{self.mode} failed with {len(self.errors)} error(s); first: "
                f"{first.op}{where}: {first.error}",
                op=self.mode,
                report=self,
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "ok": self.ok,
            "dry_run": self.dry_run,
            "cancelled": self.cancelled,
            "copied": list(self.copied),
            "updated": list(self.updated),
            "deleted": list(self.deleted),
            "moved": list(self.moved),
            "renamed": list(self.renamed),
            "renames": [list(pair) for pair in self.renames],
            "skipped": dict(self.skipped),
            "errors": [entry.to_dict() for entry in self.errors],
            "counts": dict(self.counts),
            "bytes_transferred": self.bytes_transferred,
            "duration": self.duration,
            "listed": dict(self.listed),
            "warnings": list(self.warnings),
            "plan": self.plan.to_dict() if self.plan is not None else None,
        }

    def to_json(self, *, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


@dataclass
class CheckReport:
    """What :func:`~omnistorage.sync.check` found.

    Attributes:
        match: paths identical on both sides.
        differ: paths on both sides whose content differs.
        missing_on_src: paths only on the destination.
        missing_on_dst: paths only on the source.
        errors: paths that could not be compared (and run-level errors).
        one_way: ``missing_on_src`` does not make the check fail.
        compared_by: how files were compared: ``"hash:md5"``, ``"size"``, ``"download"`` …
            per number of files (``{"hash:md5": 10, "size": 2}``).
    """

    match: list[str] = field(default_factory=list)
    differ: list[str] = field(default_factory=list)
    missing_on_src: list[str] = field(default_factory=list)
    missing_on_dst: list[str] = field(default_factory=list)
    errors: list[ErrorEntry] = field(default_factory=list)
    one_way: bool = False
    compared_by: dict[str, int] = field(default_factory=dict)
    duration: float = 0.0
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        """Nothing differs, nothing is missing (on the source only with ``one_way=False``),
        and nothing failed."""
        return not (
            self.differ
            or self.missing_on_dst
            or self.errors
            or (self.missing_on_src and not self.one_way)
        )

    def combined(self) -> list[str]:
        """Lines as ``rclone check --combined`` writes them, sorted by path: ``= path``
        (identical), ``* path`` (differ), ``+ path`` (only on the source), ``- path`` (only on
        the destination; left out with ``one_way``, as rclone does), ``! path`` (error)."""
        lines: list[tuple[str, str]] = []
        lines += (("=", p) for p in self.match)
        lines += (("*", p) for p in self.differ)
        lines += (("+", p) for p in self.missing_on_dst)
        if not self.one_way:
            lines += (("-", p) for p in self.missing_on_src)
        lines += (("!", e.path) for e in self.errors if e.path is not None)
        return [f"{mark} {path}" for mark, path in sorted(lines, key=lambda item: item[1])]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "one_way": self.one_way,
            "cancelled": self.cancelled,
            "match": list(self.match),
            "differ": list(self.differ),
            "missing_on_src": list(self.missing_on_src),
            "missing_on_dst": list(self.missing_on_dst),
            "errors": [entry.to_dict() for entry in self.errors],
            "compared_by": dict(self.compared_by),
            "duration": self.duration,
        }

    def to_json(self, *, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Conflict:
    """A path changed on both sides since the last bisync, and what was done about it."""

    path: str
    resolution: str
    """``"path1"``/``"path2"`` (that side's version won), ``"keep_both"``, ``"skipped"``
    or ``"error"``."""
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "resolution": self.resolution, "detail": self.detail}


@dataclass
class BisyncReport:
    """What :func:`~omnistorage.sync.bisync` did.

    Attributes:
        path1_to_path2: what went from path1 to path2 (copies, updates, deletes).
        path2_to_path1: the same in the other direction.
        conflicts: paths changed on both sides, with their resolution.
        errors: run-level errors (per-file ones are in the two directions).
        warnings: one line per conflict (and other things a user must see), also logged.
        first_run: no previous state existed: nothing was deleted.
        state_saved: the new state was written (not after errors, nor in a dry run).
    """

    path1_to_path2: SyncReport = field(default_factory=lambda: SyncReport(mode="bisync"))
    path2_to_path1: SyncReport = field(default_factory=lambda: SyncReport(mode="bisync"))
    conflicts: list[Conflict] = field(default_factory=list)
    errors: list[ErrorEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
    first_run: bool = False
    state_saved: bool = False
    duration: float = 0.0
    cancelled: bool = False

    def all_errors(self) -> Iterator[ErrorEntry]:
        yield from self.errors
        yield from self.path1_to_path2.errors
        yield from self.path2_to_path1.errors

    @property
    def ok(self) -> bool:
        """No error in either direction or at run level."""
        return next(self.all_errors(), None) is None

    def raise_for_errors(self) -> None:
        """Raise a :class:`~omnistorage.sync.SyncError` carrying this report unless ``ok``."""
        first = next(self.all_errors(), None)
        if first is not None:
            raise SyncError(
                f"bisync failed; first error: {first.op}: {first.error}", op="bisync", report=self
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "first_run": self.first_run,
            "state_saved": self.state_saved,
            "cancelled": self.cancelled,
            "path1_to_path2": self.path1_to_path2.to_dict(),
            "path2_to_path1": self.path2_to_path1.to_dict(),
            "conflicts": [c.to_dict() for c in self.conflicts],
            "warnings": list(self.warnings),
            "errors": [e.to_dict() for e in self.errors],
            "duration": self.duration,
        }

    def to_json(self, *, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
