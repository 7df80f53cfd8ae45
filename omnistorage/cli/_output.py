"""Writing results: plain lines and tables for people, JSON for scripts.

Results go to stdout; messages, warnings and progress to stderr. JSON output is
one document per command (``ls --json`` streams one array, item by item, so it
stays bounded in memory on huge listings). Nothing here ever prints a secret:
addresses are shown as :class:`~omnistorage.cli._address.Location` keeps them
(passwords masked), and error messages come from the library, which scrubs them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from omnistorage.models import FolderInfo, ObjectInfo

__all__ = [
    "JsonArray",
    "emit_json",
    "file_info_dict",
    "folder_info_dict",
    "format_time",
    "long_line",
    "print_table",
]


def format_time(moment: datetime | None) -> str:
    """``2024-05-01 12:00:03`` (UTC, seconds), or ``-`` when unknown."""
    if moment is None:
        return "-"
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def file_info_dict(info: ObjectInfo, *, path: str | None = None) -> dict[str, Any]:
    """A JSON-ready view of one file (or, in shallow listings, one folder)."""
    return {
        "path": info.path if path is None else path,
        "name": info.name if path is None else path.rsplit("/", 1)[-1],
        "is_dir": info.is_dir,
        "size": None if info.is_dir else info.size,
        "modified": info.modified.isoformat() if info.modified else None,
        "content_type": info.content_type,
        "etag": info.etag,
        "hashes": {str(kind): value for kind, value in sorted(info.hashes.items())},
        "metadata": dict(info.metadata),
    }


def folder_info_dict(info: FolderInfo) -> dict[str, Any]:
    """A JSON-ready view of a folder's summary."""
    return {
        "path": info.path,
        "is_dir": True,
        "file_count": info.file_count,
        "total_size": info.total_size,
        "modified": info.modified.isoformat() if info.modified else None,
    }


def long_line(info: ObjectInfo, path: str) -> str:
    """One ``ls -l`` line: size (right-aligned), modification time, path (folders end
    with ``/``)."""
    if info.is_dir:
        return f"{'-':>12} {'-':<19} {path}/"
    size = "?" if info.size is None else str(info.size)
    return f"{size:>12} {format_time(info.modified):<19} {path}"


def emit_json(document: Any, stream: TextIO | None = None) -> None:
    """Write ``document`` as indented JSON plus a newline to ``stream`` (stdout)."""
    out = stream or sys.stdout
    out.write(json.dumps(document, indent=2, ensure_ascii=False, default=str))
    out.write("\n")
    out.flush()


class JsonArray:
    """Streams a JSON array: ``add`` writes each item as it comes, ``close`` ends it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._count = 0
        self._stream.write("[")

    def add(self, item: Mapping[str, Any]) -> None:
        """Append one item."""
        self._stream.write(",\n  " if self._count else "\n  ")
        self._stream.write(json.dumps(item, ensure_ascii=False, default=str))
        self._count += 1

    def close(self) -> None:
        """End the array (an empty one is ``[]``)."""
        self._stream.write("\n]\n" if self._count else "]\n")
        self._stream.flush()


def print_table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    stream: TextIO | None = None,
) -> None:
    """A small Rich table (capabilities, summaries) on ``stream`` (stdout), never wrapped
    or cut, even when stdout is not a terminal."""
    out = stream or sys.stdout
    materialized = [list(row) for row in rows]
    widths = [len(column) for column in columns]
    for row in materialized:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, no_wrap=True)
    for row in materialized:
        table.add_row(*row)
    width = sum(widths) + 3 * len(widths) + 1
    console = Console(file=out, width=max(width, len(title or "")), soft_wrap=False)
    console.print(table)
