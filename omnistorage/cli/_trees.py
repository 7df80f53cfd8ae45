"""Tree commands over the sync engine: ``sync``, ``copy``, ``move``, ``check``.

The engine (:mod:`omnistorage.sync`) runs in a worker thread while the main
thread waits, so Ctrl-C reaches the main thread at once: it sets the engine's
``cancel`` event, waits for the engine to stop (every write is atomic, so what
was in flight is aborted and nothing partial is published), prints the report
of what was done and exits with 130.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from omnistorage.cli._address import Location
from omnistorage.cli._exit import CommandFailed, Interrupted, TreesDiffer
from omnistorage.cli._output import emit_json
from omnistorage.cli._progress import Display, format_duration
from omnistorage.cli._session import (
    Output,
    Session,
    examples,
    output_options,
    pass_session,
    stdout_text,
)
from omnistorage.cli._tree_options import FilterArgs, filter_options, transfer_options
from omnistorage.errors import NotFound

if TYPE_CHECKING:
    from omnistorage.sync import CheckReport, SyncReport

__all__ = ["check", "copy", "move", "sync"]

R = TypeVar("R")


def run_cancellable(work: Callable[[threading.Event], R], display: Display) -> tuple[R, bool]:
    """Run ``work(cancel)`` in a worker thread; Ctrl-C sets ``cancel`` and waits for it.

    Returns the result and whether the run was interrupted. Exceptions of
    ``work`` are raised here.
    """
    cancel = threading.Event()
    finished = threading.Event()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = work(cancel)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread and raised there
            outcome["error"] = exc
        finally:
            finished.set()

    worker = threading.Thread(target=target, name="omnistorage-tree", daemon=True)
    worker.start()
    interrupted = False
    # Wait on an Event, not Thread.join: on Python 3.11 a join interrupted by Ctrl-C can
    # mark a live thread as stopped (bpo-45274's fix), and the run would look finished.
    while True:
        try:
            if finished.wait(0.1):
                break
        except KeyboardInterrupt:
            if not interrupted:
                interrupted = True
                cancel.set()
                display.message(
                    "interrupted: stopping; transfers in flight are aborted, "
                    "nothing partial is published"
                )
    if "error" in outcome:
        error: BaseException = outcome["error"]
        if isinstance(error, (TypeError, ValueError)) and not hasattr(error, "path"):
            # The engine checks its options and the stores before any I/O.
            raise click.UsageError(str(error)) from None
        raise error
    return outcome["result"], interrupted


def _trees(
    session: Session, source: str, destination: str, *, write: bool
) -> tuple[Location, Location]:
    """Resolve both trees. A source folder that does not exist is an error (as in
    rclone): taken as empty, a typo would make ``sync`` delete the whole destination."""
    src = session.resolve(source)
    if not src.is_folder():
        raise NotFound(f"{src.text}: no such folder", path=src.path or None, op="list")
    dst = session.destination(destination) if write else session.resolve(destination)
    return session.addresses.share_local(src, dst)


def _run_tree(
    mode: str,
    session: Session,
    source: str,
    destination: str,
    filters: FilterArgs,
    engine: dict[str, Any],
    dry_run: bool,
    backup_dir: str | None,
    output: Output,
) -> None:
    from omnistorage import sync as engine_module  # loaded only for tree commands

    runner: Callable[..., SyncReport] = getattr(engine_module, mode)
    cluster, state = engine.pop("cluster", None), engine.pop("state", None)
    if cluster is not None:
        _run_on_cluster(
            mode,
            session,
            source,
            destination,
            filters,
            engine,
            dry_run,
            backup_dir,
            output,
            cluster,
            state,
        )
        return
    if state is not None:
        raise click.UsageError("--state goes with --cluster")
    src, dst = _trees(session, source, destination, write=True)
    options = dict(engine)
    options["filters"] = filters.build()
    if backup_dir is not None:
        options["backup_dir"] = session.destination(backup_dir).folder()
    src_store, dst_store = src.folder(), dst.folder()
    with output.display() as display:

        def work(cancel: threading.Event) -> SyncReport:
            return runner(
                src_store,
                dst_store,
                dry_run=dry_run,
                cancel=cancel,
                progress=display.update,
                **options,
            )

        report, interrupted = run_cancellable(work, display)
    _render_sync(report, src, dst, output)
    if interrupted:
        raise Interrupted(f"{mode} interrupted: {_counts(report)}; nothing partial was published")
    if not report.ok:
        raise CommandFailed(f"{mode} finished with {len(report.errors)} error(s)")


def _run_on_cluster(
    mode: str,
    session: Session,
    source: str,
    destination: str,
    filters: FilterArgs,
    engine: dict[str, Any],
    dry_run: bool,
    backup_dir: str | None,
    output: Output,
    cluster: str,
    state: str | None,
) -> None:
    """``sync``/``copy`` on a cluster (see :mod:`omnistorage.cli._cluster`)."""
    if mode not in ("sync", "copy") or dry_run or state is None:
        raise click.UsageError(
            "--cluster runs sync or copy (no --dry-run) and needs --state ADDRESS"
        )
    from omnistorage.cli._cluster import run_on_cluster

    src, dst = _trees(session, source, destination, write=True)
    options = {k: v for k, v in engine.items() if v is not None}
    options["filters"] = filters.build()
    with output.display() as display:
        report = run_on_cluster(
            mode, session, source, destination, options, backup_dir, cluster, state, display
        )
    _render_sync(report, src, dst, output)
    if not report.ok:
        raise CommandFailed(f"{mode} finished with {len(report.errors)} error(s)")


def _counts(report: SyncReport) -> str:
    counts = report.counts
    return ", ".join(f"{name} {counts.get(name, 0)}" for name in counts)


def _render_sync(report: SyncReport, src: Location, dst: Location, output: Output) -> None:
    if output.json:
        document = report.to_dict()
        document["source"] = src.text
        document["destination"] = dst.text
        emit_json(document)
        return
    out = stdout_text()
    if report.dry_run and report.plan is not None:
        for action in report.plan.actions:
            where = f"{action.source} -> {action.path}" if action.source else action.path
            out.write(f"{action.op:<10} {where}  ({action.reason})\n")
        out.flush()
    for entry in report.errors:
        where = f" {entry.path}" if entry.path else ""
        click.echo(f"error: {entry.op}{where}: {entry.error}", err=True)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    skipped = sum(report.skipped.values())
    if report.dry_run and report.plan is not None:
        planned = report.plan.counts
        done = "dry run, would " + ", ".join(
            f"{op} {planned.get(op, 0)}" for op in ("copy", "update", "delete", "rename")
        )
        if planned.get("delete_src"):
            done += f", delete {planned['delete_src']} source file(s)"
        skipped = sum(report.plan.skipped.values())
    else:
        done = _counts(report)
    output.say(
        f"{report.mode}: {done}, skipped {skipped}; "
        f"{report.bytes_transferred} bytes in {format_duration(report.duration)}"
        + (f"; {len(report.errors)} error(s)" if report.errors else "")
    )


_TREE_HELP_TAIL = (
    "Filters take rclone's rule syntax: --filter-from files first, then --filter, "
    "--exclude and --include rules (first match wins)."
)


def _tree_command(
    name: str,
    summary: str,
    example_lines: tuple[str, ...],
) -> click.Command:
    @click.argument("source")
    @click.argument("destination")
    @filter_options
    @transfer_options
    @click.option(
        "--cluster",
        metavar="ADDRESS",
        default=None,
        help=(
            "Run on a cluster: Dask (tcp://host:8786, or local:N for N local workers) "
            "or Ray (ray://host:10001, ray:auto, ray:local)."
        ),
    )
    @click.option(
        "--state",
        metavar="ADDRESS",
        default=None,
        help="Where a --cluster job keeps its plan and chunk results (rerun to resume).",
    )
    @output_options
    @pass_session
    def command(
        session: Session,
        source: str,
        destination: str,
        filters: FilterArgs,
        engine: dict[str, Any],
        dry_run: bool,
        backup_dir: str | None,
        output: Output,
        cluster: str | None,
        state: str | None,
    ) -> None:
        engine = {**engine, "cluster": cluster, "state": state}
        _run_tree(name, session, source, destination, filters, engine, dry_run, backup_dir, output)

    command.__doc__ = f"{summary}\n\n{_TREE_HELP_TAIL}"
    return click.command(name=name, epilog=examples(*example_lines))(command)


sync = _tree_command(
    "sync",
    "Make DESTINATION match SOURCE: copy new and changed files, then delete the "
    "destination's extras. No deletes happen after any error, nor beyond --max-delete; "
    "exit code 1 when anything failed.",
    (
        "omnistorage sync ./site s3://bucket/www --dry-run",
        "omnistorage sync ./data backups:data --max-delete 100 --backup-dir backups:old",
        "omnistorage sync s3://a/logs gs://b/logs --exclude '*.tmp' --min-age 1h --json",
    ),
)
copy = _tree_command(
    "copy",
    "Copy new and changed files of the tree SOURCE into DESTINATION; delete nothing.",
    (
        "omnistorage copy ./photos s3://bucket/photos --include '*.jpg'",
        "omnistorage copy sftp://me@host/srv/logs ./logs --max-age 24h --transfers 8",
    ),
)
move = _tree_command(
    "move",
    "Move the tree SOURCE into DESTINATION: copy, then delete each source file once its "
    "copy is verified.",
    (
        "omnistorage move ./outbox s3://bucket/inbox",
        "omnistorage move s3://bucket/incoming backups:archive --min-age 7d --dry-run",
    ),
)


@click.command(
    epilog=examples(
        "omnistorage check ./data s3://bucket/data",
        "omnistorage check --one-way --combined ./site s3://bucket/www",
        "omnistorage check --download --json a: b: > report.json",
    )
)
@click.argument("source")
@click.argument("destination")
@filter_options
@click.option("--one-way", is_flag=True, help="Files only on DESTINATION do not count.")
@click.option("--download", is_flag=True, help="Compare the bytes, not hashes or sizes.")
@click.option("--combined", is_flag=True, help="Also list matching files ('= path').")
@click.option(
    "--checkers",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Parallel comparisons.",
)
@click.option(
    "--cluster",
    metavar="ADDRESS",
    default=None,
    help="Compare on a cluster (as sync: tcp://host:8786, local:N, ray://host:10001, ray:auto).",
)
@click.option(
    "--state",
    metavar="ADDRESS",
    default=None,
    help="Where a --cluster check keeps its chunks and results (rerun to resume).",
)
@output_options
@pass_session
def check(
    session: Session,
    source: str,
    destination: str,
    filters: FilterArgs,
    one_way: bool,
    download: bool,
    combined: bool,
    checkers: int,
    cluster: str | None,
    state: str | None,
    output: Output,
) -> None:
    """Compare two trees file by file: exit 0 when they match, 3 when they differ.

    Lines are rclone's --combined format: '* path' differs, '+ path' only in
    SOURCE, '- path' only in DESTINATION, '! path' could not be compared (and
    with --combined '= path' identical). Files are compared by a hash both
    sides have, else by size; --download compares the bytes. Differences are
    the command's result (exit 3, the summary on stderr); files that could not
    be compared are errors (exit 1).
    """
    from omnistorage.sync import check as check_trees  # loaded only for tree commands

    if (cluster is None) != (state is None):
        raise click.UsageError("--cluster and --state go together")
    src, dst = _trees(session, source, destination, write=False)
    if cluster is not None and state is not None:
        from omnistorage.cli._cluster import check_on_cluster

        options = {"one_way": one_way, "download": download, "filters": filters.build()}
        with output.display() as display:
            report = check_on_cluster(
                session,
                source,
                destination,
                {**options, "checkers": checkers},
                cluster,
                state,
                display,
            )
        _render_check(report, src, dst, combined=combined, output=output)
        _check_exit(report, interrupted=False)
        return
    src_store, dst_store = src.folder(), dst.folder()
    built = filters.build()
    with output.display() as display:

        def work(cancel: threading.Event) -> CheckReport:
            return check_trees(
                src_store,
                dst_store,
                one_way=one_way,
                download=download,
                filters=built,
                checkers=checkers,
                cancel=cancel,
                progress=display.update,
            )

        report, interrupted = run_cancellable(work, display)
    _render_check(report, src, dst, combined=combined, output=output)
    _check_exit(report, interrupted=interrupted)


def _check_exit(report: CheckReport, *, interrupted: bool) -> None:
    if interrupted:
        raise Interrupted("check interrupted")
    if report.errors:
        raise CommandFailed(_check_summary(report))
    if not report.ok:
        raise TreesDiffer(f"check: the trees differ: {_check_summary(report)}")


def _check_summary(report: CheckReport) -> str:
    parts = [
        f"{len(report.differ)} differ",
        f"{len(report.missing_on_dst)} only in source",
    ]
    if not report.one_way:
        parts.append(f"{len(report.missing_on_src)} only in destination")
    parts.append(f"{len(report.errors)} error(s)")
    return f"{len(report.match)} match, " + ", ".join(parts)


def _render_check(
    report: CheckReport, src: Location, dst: Location, *, combined: bool, output: Output
) -> None:
    if output.json:
        document = report.to_dict()
        document["source"] = src.text
        document["destination"] = dst.text
        emit_json(document)
        return
    out = stdout_text()
    for line in report.combined():
        if combined or not line.startswith("= "):
            out.write(line + "\n")
    out.flush()
    for entry in report.errors:
        where = f" {entry.path}" if entry.path else ""
        click.echo(f"error: {entry.op}{where}: {entry.error}", err=True)
    if report.ok:
        output.say(f"check: {_check_summary(report)}")
