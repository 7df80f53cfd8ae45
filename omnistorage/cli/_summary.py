"""Commands that summarise a tree: ``size`` (as ``rclone size``) and ``tree`` (as
``rclone tree`` and ``tree(1)``)."""

from __future__ import annotations

from typing import Any

import click

from omnistorage import paths
from omnistorage.cli._address import Location
from omnistorage.cli._exit import CommandFailed
from omnistorage.cli._output import emit_json
from omnistorage.cli._session import Session, examples, pass_session, stdout_text
from omnistorage.errors import NotFound
from omnistorage.models import ObjectInfo
from omnistorage.store import Store

__all__ = ["format_bytes", "size", "tree"]

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def format_bytes(count: int) -> str:
    """``1.500 MiB`` (three decimals, binary units, as rclone), ``12 B`` below 1 KiB."""
    if count < 1024:
        return f"{count} B"
    value = float(count)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.3f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def _missing(location: Location) -> NotFound:
    return NotFound(f"{location.text}: no such file or folder", path=location.path or None)


@click.command(
    epilog=examples(
        "omnistorage size s3://bucket/logs",
        "omnistorage size --json backups: | jq .bytes",
    )
)
@click.argument("address", default=".")
@click.option("--json", "as_json", is_flag=True, help="The totals as JSON on stdout.")
@pass_session
def size(session: Session, address: str, as_json: bool) -> None:
    """Count the files below ADDRESS and add up their sizes (every depth).

    Files whose size is unknown until they are produced (SQL query results)
    are counted apart. Names other tools wrote that are not valid keys are
    skipped and counted; the command then exits with 1.
    """
    location = session.resolve(address)
    count = total = unknown = skipped = 0
    if location.path and not location.folder_hint and location.is_file():
        infos: Any = [location.store.get_file_info(location.path)]
    elif location.is_folder():
        infos = location.folder().list_files(recursive=True)
    else:
        raise _missing(location)
    for info in infos:
        count += 1
        if info.size is None:
            unknown += 1
        else:
            total += info.size
    skipped = getattr(infos, "invalid_count", 0)
    if as_json:
        emit_json(
            {
                "path": location.text,
                "count": count,
                "bytes": total,
                "unknown_sizes": unknown,
                "skipped": skipped,
            }
        )
    else:
        out = stdout_text()
        out.write(f"Total objects: {count}\n")
        out.write(f"Total size: {format_bytes(total)} ({total} bytes)\n")
        if unknown:
            out.write(f"Sizes not known: {unknown}\n")
        out.flush()
    if skipped:
        raise CommandFailed(
            f"{location.text}: skipped {skipped} name(s) that are not valid keys "
            "(written by another tool; see the warnings above)"
        )


@click.command(
    epilog=examples(
        "omnistorage tree s3://bucket/www",
        "omnistorage tree -s --level 2 ./data",
        "omnistorage tree -d backups:",
    )
)
@click.argument("address", default=".")
@click.option("-s", "--size", "show_size", is_flag=True, help="Show each file's size.")
@click.option("-d", "--dirs-only", is_flag=True, help="Folders only.")
@click.option(
    "--level",
    type=click.IntRange(min=1),
    default=None,
    help="Descend at most this many levels (1: ADDRESS's own entries).",
)
@pass_session
def tree(
    session: Session, address: str, show_size: bool, dirs_only: bool, level: int | None
) -> None:
    """Draw the folder ADDRESS as a tree, entries sorted by name, folders with '/'.

    Empty folders show where the backend keeps them (directories, folder
    markers). Ends with the number of folders and files, as tree(1) does.
    """
    location = session.resolve(address)
    if location.path and (location.folder_hint or not location.is_folder()):
        if not location.folder_hint and location.is_file():
            raise click.UsageError(f"{location.text} is a file, not a folder")
        raise _missing(location)
    out = stdout_text()
    out.write(f"{location.text}\n")
    counts = {"folders": 0, "files": 0, "skipped": 0}
    _draw(location.folder(), "", "", 1, level, show_size, dirs_only, counts, out)
    folders, files = counts["folders"], counts["files"]
    summary = f"\n{folders} folder{'s' * (folders != 1)}"
    if not dirs_only:
        summary += f", {files} file{'s' * (files != 1)}"
    out.write(summary + "\n")
    out.flush()
    if counts["skipped"]:
        raise CommandFailed(
            f"{location.text}: skipped {counts['skipped']} name(s) that are not valid keys "
            "(written by another tool; see the warnings above)"
        )


def _draw(
    store: Store,
    folder: str,
    indent: str,
    depth: int,
    level: int | None,
    show_size: bool,
    dirs_only: bool,
    counts: dict[str, int],
    out: Any,
) -> None:
    """One folder's entries (sub-folders walked depth first), one listing call each."""
    folders = store.list_folders(folder)
    entries: list[tuple[str, ObjectInfo | None]] = [
        (paths.basename(name), None) for name in folders
    ]
    counts["skipped"] += folders.invalid_count
    if not dirs_only:
        files = store.list_files(folder)
        entries += [(info.name, info) for info in files]
        counts["skipped"] += files.invalid_count
    entries.sort(key=lambda entry: entry[0])
    for index, (name, info) in enumerate(entries):
        last = index == len(entries) - 1
        branch = "└── " if last else "├── "
        if info is None:
            counts["folders"] += 1
            out.write(f"{indent}{branch}{name}/\n")
            if level is None or depth < level:
                child = paths.join(folder, name)
                deeper = indent + ("    " if last else "│   ")
                _draw(store, child, deeper, depth + 1, level, show_size, dirs_only, counts, out)
        else:
            counts["files"] += 1
            shown = f"[{'?' if info.size is None else info.size:>10}]  " if show_size else ""
            out.write(f"{indent}{branch}{shown}{name}\n")
