"""The public tree operations: sync, copy, move, plan and execute."""

from __future__ import annotations

from typing import Any, Literal

from omnistorage.store import Store
from omnistorage.sync._engine import execute_plan, make_plan, run_tree
from omnistorage.sync._options import RUNTIME_OPTIONS, SyncOptions
from omnistorage.sync._plan import Plan
from omnistorage.sync._report import SyncReport

__all__ = ["copy", "execute", "move", "plan", "sync"]


def sync(src: Store, dst: Store, *, dry_run: bool = False, **opts: Any) -> SyncReport:
    """Make ``dst`` match ``src``: copy new and changed files, then delete ``dst``'s extras.

    Files are compared by the rule in :mod:`omnistorage.sync` (size, a shared hash, a
    kept mtime; never size alone unless ``compare="size"``). Deletes happen only if the
    whole run had no error (listing errors and foreign keys included), and within
    ``max_delete``/``max_delete_size``. Options are listed in :mod:`omnistorage.sync`.

    Returns a :class:`SyncReport`; per-file and run-level failures are in its ``errors``
    (``report.ok`` is False), never raised. ``dry_run=True`` changes nothing and returns
    the plan in ``report.plan``.

    Raises (before any I/O): ``TypeError``/``ValueError`` for unknown or bad options,
    ``ValueError`` when the stores overlap, ``CapabilityNotSupported`` when ``src`` cannot
    be read and listed or ``dst`` written, listed and deleted from.
    """
    return run_tree("sync", src, dst, SyncOptions.parse("sync", opts), dry_run=dry_run)


def copy(src: Store, dst: Store, *, dry_run: bool = False, **opts: Any) -> SyncReport:
    """:func:`sync` without deletes: new and changed files of ``src`` go to ``dst``;
    ``dst``'s other files stay."""
    return run_tree("copy", src, dst, SyncOptions.parse("copy", opts), dry_run=dry_run)


def move(src: Store, dst: Store, *, dry_run: bool = False, **opts: Any) -> SyncReport:
    """Copy ``src`` to ``dst``, then delete each source file once its copy is verified (size,
    and a hash both sides share). A source file the destination already holds identically
    (compared by the default rule, then by size and a shared hash) is deleted too; one
    skipped by ``ignore_existing`` or ``update`` stays. Needs ``DELETE`` on ``src``."""
    return run_tree("move", src, dst, SyncOptions.parse("move", opts), dry_run=dry_run)


def plan(
    src: Store,
    dst: Store,
    *,
    mode: Literal["sync", "copy", "move"] = "sync",
    **opts: Any,
) -> Plan:
    """What ``mode`` would do, as a :class:`Plan` (lists and compares, changes nothing).

    Holds the actions only (unchanged files are counted in ``skipped``), so its size
    follows the changes, not the tree.
    """
    if mode not in ("sync", "copy", "move"):
        raise ValueError(f"plan(mode=...) must be 'sync', 'copy' or 'move', got {mode!r}")
    return make_plan(mode, src, dst, SyncOptions.parse("plan", opts))


def execute(plan: Plan, **opts: Any) -> SyncReport:
    """Carry out ``plan`` on the stores it was made for.

    Takes the run-time options (``checkers``, ``transfers``, ``retries``, ``bwlimit``,
    ``tpslimit``, ``max_transfer``, ``cutoff_mode``, ``cancel``, ``progress``,
    ``max_delete``, ``max_delete_size``, ``backup_dir``, ``record_paths`` …); the decision
    options were fixed when the plan was made and raise ``TypeError`` here. A plan that
    recorded errors deletes nothing. ``delete_mode="during"`` runs as ``"after"``: the
    plan's deletes are known up front.
    """
    if not isinstance(plan, Plan):
        raise TypeError("execute() takes a Plan made by omnistorage.sync.plan()")
    SyncOptions.parse("execute", opts, allowed=RUNTIME_OPTIONS)
    return execute_plan(plan, opts)
