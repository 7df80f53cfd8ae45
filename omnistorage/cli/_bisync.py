"""``omnistorage bisync``: two-way sync of two trees over :func:`omnistorage.sync.bisync`.

The state (what both sides held after the last good run) lives in a local file:
``--state PATH``, else ``$XDG_CACHE_HOME/omnistorage/bisync/<id>.bisync``
(``~/.cache`` when unset) where ``<id>`` is derived from where the two trees
point (their locations, never credentials), so each pair has its own. Conflicts
keep both versions by default and each is printed; the exit code is 1 when
anything failed (the state is then not saved and nothing was deleted after the
error), 130 when interrupted.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import TYPE_CHECKING, Any

import click

from omnistorage.cli._exit import CommandFailed, Interrupted
from omnistorage.cli._output import emit_json
from omnistorage.cli._progress import format_duration
from omnistorage.cli._session import (
    Output,
    Session,
    examples,
    output_options,
    pass_session,
    stdout_text,
)
from omnistorage.cli._tree_options import FilterArgs, filter_options
from omnistorage.cli._trees import run_cancellable
from omnistorage.errors import NotFound

if TYPE_CHECKING:
    from omnistorage.store import Store
    from omnistorage.sync import BisyncReport

__all__ = ["bisync", "default_state_path"]

_STRATEGIES = ("keep_both", "newer", "larger", "path1", "path2", "skip", "error")


def default_state_path(path1: Store, path2: Store) -> str:
    """The state file of a pair when ``--state`` is not given (see the module docstring)."""
    places = "\n".join(str(place) for store in (path1, path2) for place in store.locations)
    digest = hashlib.sha256(places.encode("utf-8")).hexdigest()[:24]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "omnistorage", "bisync", f"{digest}.bisync")


@click.command(
    epilog=examples(
        "omnistorage bisync ./notes s3://bucket/notes",
        "omnistorage bisync ./notes nas:notes --conflict newer --dry-run",
        "omnistorage bisync ./a ./b --state ./a-b.bisync --exclude '*.tmp' --json",
    )
)
@click.argument("path1")
@click.argument("path2")
@click.option(
    "--state",
    "state_path",
    metavar="PATH",
    default=None,
    help="The state file (default: one per pair under ~/.cache/omnistorage/bisync).",
)
@click.option(
    "--conflict",
    type=click.Choice(_STRATEGIES),
    default="keep_both",
    show_default=True,
    help="A file changed on both sides: keep both (NAME..path1, NAME..path2), the newer, "
    "the larger, one side's, skip it, or fail.",
)
@click.option(
    "--max-delete-percent",
    type=click.FloatRange(0, 100),
    default=50.0,
    show_default=True,
    help="Deleting more of a side's files than this: delete nothing and fail.",
)
@click.option(
    "--max-delete",
    type=click.IntRange(min=0),
    default=None,
    help="More deletes than this: delete nothing and fail.",
)
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--checksum", is_flag=True, help="Compare by the strongest shared hash.")
@click.option(
    "--transfers", type=click.IntRange(min=1), default=4, show_default=True, help="In parallel."
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Retries per file of temporary errors.",
)
@filter_options
@output_options
@pass_session
def bisync(
    session: Session,
    path1: str,
    path2: str,
    state_path: str | None,
    conflict: str,
    max_delete_percent: float,
    max_delete: int | None,
    dry_run: bool,
    checksum: bool,
    transfers: int,
    retries: int,
    filters: FilterArgs,
    output: Output,
) -> None:
    """Two-way sync of PATH1 and PATH2: changes on each side flow to the other; a
    deletion is propagated only when the state of the last good run proves it; a file
    changed on both sides is a conflict (both versions kept by default). The first run
    (no state yet) deletes nothing."""
    from omnistorage.sync import bisync as run_bisync  # loaded only for tree commands

    one = session.resolve(path1)
    if not one.is_folder():
        raise NotFound(f"{one.text}: no such folder", path=one.path or None, op="list")
    two = session.destination(path2)
    one, two = session.addresses.share_local(one, two)
    store1, store2 = one.folder(), two.folder()
    state = state_path if state_path is not None else default_state_path(store1, store2)
    options: dict[str, Any] = {
        "filters": filters.build(),
        "compare": "checksum" if checksum else "default",
        "max_delete": max_delete,
        "transfers": transfers,
        "retries": retries,
    }
    with output.display() as display:

        def work(cancel: threading.Event) -> BisyncReport:
            return run_bisync(
                store1,
                store2,
                state=state,
                conflict=conflict,
                dry_run=dry_run,
                max_delete_percent=max_delete_percent,
                cancel=cancel,
                progress=display.update,
                **options,
            )

        report, interrupted = run_cancellable(work, display)
    _render(report, one.text, two.text, state, output)
    if interrupted:
        raise Interrupted("bisync interrupted; nothing partial was published")
    if not report.ok:
        raise CommandFailed(f"bisync finished with {len(list(report.all_errors()))} error(s)")


def _render(report: BisyncReport, path1: str, path2: str, state: str, output: Output) -> None:
    if output.json:
        document = report.to_dict()
        document.update(path1=path1, path2=path2, state=state)
        emit_json(document)
        return
    out = stdout_text()
    for arrow, direction in (("->", report.path1_to_path2), ("<-", report.path2_to_path1)):
        plan = direction.plan
        if report.dry_run and plan is not None:
            for action in plan.actions:
                out.write(f"{arrow} {action.op:<8} {action.path}  ({action.reason})\n")
            continue
        for name in ("copied", "updated", "deleted"):
            for path in getattr(direction, name):
                out.write(f"{arrow} {name:<8} {path}\n")
    for item in report.conflicts:
        out.write(f"!! conflict {item.path}: {item.resolution} ({item.detail})\n")
    out.flush()
    for entry in report.all_errors():
        where = f" {entry.path}" if entry.path else ""
        click.echo(f"error: {entry.op}{where}: {entry.error}", err=True)
    one, two = report.path1_to_path2.counts, report.path2_to_path1.counts
    output.say(
        f"bisync: path1->path2 copied {one['copied']}, updated {one['updated']}, deleted "
        f"{one['deleted']}; path2->path1 copied {two['copied']}, updated {two['updated']}, "
        f"deleted {two['deleted']}; {len(report.conflicts)} conflict(s)"
        + ("" if report.first_run is False else "; first run (nothing deleted)")
        + ("; state saved" if report.state_saved else "; state not saved")
        + f" in {format_duration(report.duration)}"
    )
