"""The options of the tree commands (``sync``, ``copy``, ``move``, ``check``), turned into
the keyword options of :mod:`omnistorage.sync`.

Filter rules are rclone's and are applied in this order (first match wins):
the rules of each ``--filter-from`` file, each ``--filter`` rule, each
``--exclude`` (``- PATTERN``), each ``--include`` (``+ PATTERN``), and, when any
``--include`` is given, a final ``- **`` (only included files are considered).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import click

from omnistorage.cli._units import DURATION, SIZE

if TYPE_CHECKING:
    from omnistorage.sync import Filters

__all__ = ["FilterArgs", "filter_options", "transfer_options"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class FilterArgs:
    """The filter options as given on the command line."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    filter: tuple[str, ...] = ()
    filter_from: tuple[str, ...] = ()
    min_size: int | None = None
    max_size: int | None = None
    min_age: timedelta | None = None
    max_age: timedelta | None = None
    ignore_case: bool = False

    def build(self) -> Filters | None:
        """The :class:`~omnistorage.sync.Filters`, or ``None`` when no filter was given.

        Raises :class:`click.BadParameter` naming a malformed rule, an unreadable
        filter file or contradictory limits.
        """
        from omnistorage.sync import Filters  # the engine loads only for tree commands

        rules: list[str] = []
        for path in self.filter_from:
            try:
                rules.extend(Filters.from_file(path).rules)
            except OSError as exc:
                raise click.BadParameter(
                    f"cannot read {path}: {exc.strerror}", param_hint="--filter-from"
                ) from None
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--filter-from") from None
        rules.extend(self.filter)
        rules.extend(f"- {pattern}" for pattern in self.exclude)
        rules.extend(f"+ {pattern}" for pattern in self.include)
        if self.include:
            rules.append("- **")
        limits = (self.min_size, self.max_size, self.min_age, self.max_age)
        if not rules and all(limit is None for limit in limits):
            return None
        try:
            return Filters(
                rules=tuple(rules),
                min_size=self.min_size,
                max_size=self.max_size,
                min_age=self.min_age,
                max_age=self.max_age,
                ignore_case=self.ignore_case,
            )
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="filters") from None


def filter_options(func: F) -> F:
    """``--include``, ``--exclude``, ``--filter``, ``--filter-from``, sizes and ages,
    passed as ``filters=FilterArgs``."""
    options = [
        click.option(
            "--include", multiple=True, metavar="PATTERN", help="Only files matching (repeatable)."
        ),
        click.option(
            "--exclude", multiple=True, metavar="PATTERN", help="Leave out files matching."
        ),
        click.option(
            "--filter",
            "filter_rules",
            multiple=True,
            metavar="RULE",
            help="An rclone filter rule: '+ PATTERN' or '- PATTERN'.",
        ),
        click.option(
            "--filter-from",
            multiple=True,
            type=click.Path(dir_okay=False),
            help="Read filter rules from a file (rclone syntax, '#' comments).",
        ),
        click.option("--min-size", type=SIZE, default=None, help="Only files at least this big."),
        click.option("--max-size", type=SIZE, default=None, help="Only files at most this big."),
        click.option(
            "--min-age",
            type=DURATION,
            default=None,
            help="Only files modified at least this long ago (e.g. 1d).",
        ),
        click.option(
            "--max-age",
            type=DURATION,
            default=None,
            help="Only files modified at most this long ago (e.g. 12h).",
        ),
        click.option("--ignore-case", is_flag=True, help="Patterns ignore case."),
    ]

    def wrapper(**kwargs: Any) -> Any:
        kwargs["filters"] = FilterArgs(
            include=kwargs.pop("include"),
            exclude=kwargs.pop("exclude"),
            filter=kwargs.pop("filter_rules"),
            filter_from=kwargs.pop("filter_from"),
            min_size=kwargs.pop("min_size"),
            max_size=kwargs.pop("max_size"),
            min_age=kwargs.pop("min_age"),
            max_age=kwargs.pop("max_age"),
            ignore_case=kwargs.pop("ignore_case"),
        )
        return func(**kwargs)

    functools.update_wrapper(wrapper, func)  # keeps the params the inner decorators attached
    decorated: Any = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]


def transfer_options(func: F) -> F:
    """The engine options of ``sync``/``copy``/``move``, passed as ``engine=dict``."""
    options = [
        click.option("--dry-run", is_flag=True, help="Show what would change; change nothing."),
        click.option(
            "--checksum",
            is_flag=True,
            help="Compare by the strongest hash both sides have, not size and time.",
        ),
        click.option("--size-only", is_flag=True, help="Compare by size only."),
        click.option("--ignore-existing", is_flag=True, help="Never touch existing files."),
        click.option("--update", is_flag=True, help="Skip files that are newer on the target."),
        click.option(
            "--max-delete",
            type=click.IntRange(min=0),
            default=None,
            help="More deletes than this: delete nothing and fail.",
        ),
        click.option(
            "--max-delete-size",
            type=SIZE,
            default=None,
            help="Deletes of more bytes than this: delete nothing and fail.",
        ),
        click.option(
            "--backup-dir",
            metavar="ADDRESS",
            default=None,
            help="Move files that would be deleted or overwritten here instead.",
        ),
        click.option(
            "--delete-excluded", is_flag=True, help="Also delete target files the filters exclude."
        ),
        click.option(
            "--delete-mode",
            type=click.Choice(["after", "during", "before"]),
            default="after",
            show_default=True,
            help="When sync deletes target extras.",
        ),
        click.option(
            "--track-renames",
            is_flag=True,
            help="A renamed source file becomes a server-side move.",
        ),
        click.option(
            "--transfers",
            type=click.IntRange(min=1),
            default=16,  # SyncOptions.transfers
            show_default=True,
            help="Parallel transfers.",
        ),
        click.option(
            "--checkers",
            type=click.IntRange(min=1),
            default=8,
            show_default=True,
            help="Parallel comparisons.",
        ),
        click.option(
            "--retries",
            type=click.IntRange(min=0),
            default=3,
            show_default=True,
            help="Retries per file of temporary errors.",
        ),
        click.option(
            "--bwlimit",
            type=SIZE,
            default=None,
            metavar="RATE",
            help="Bytes per second over all transfers (e.g. 10M).",
        ),
        click.option(
            "--tpslimit",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            help="File operations per second.",
        ),
        click.option(
            "--max-transfer",
            type=SIZE,
            default=None,
            help="Stop after this many bytes (see --cutoff-mode).",
        ),
        click.option(
            "--cutoff-mode",
            type=click.Choice(["hard", "soft", "cautious"]),
            default="hard",
            show_default=True,
            help="At --max-transfer: stop at once, finish running transfers, or start "
            "none that would cross it.",
        ),
    ]

    def wrapper(**kwargs: Any) -> Any:
        checksum = kwargs.pop("checksum")
        size_only = kwargs.pop("size_only")
        if checksum and size_only:
            raise click.UsageError("--checksum and --size-only exclude each other")
        engine: dict[str, Any] = {
            "compare": "checksum" if checksum else "size" if size_only else "default",
        }
        for name in (
            "ignore_existing",
            "update",
            "max_delete",
            "max_delete_size",
            "delete_excluded",
            "delete_mode",
            "track_renames",
            "transfers",
            "checkers",
            "retries",
            "bwlimit",
            "tpslimit",
            "max_transfer",
            "cutoff_mode",
        ):
            engine[name] = kwargs.pop(name)
        if engine["bwlimit"] is not None:
            engine["bwlimit"] = float(engine["bwlimit"])
        kwargs["engine"] = engine
        return func(**kwargs)

    functools.update_wrapper(wrapper, func)  # keeps the params the inner decorators attached
    decorated: Any = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]
