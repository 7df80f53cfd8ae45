"""What every command shares: the address resolver, output settings and progress displays."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO, TypeVar

import click

from omnistorage.cli._address import Addresses, Location
from omnistorage.cli._exit import EXIT_CODES_HELP
from omnistorage.cli._progress import Display, choose_mode, make_display
from omnistorage.cli._units import DURATION

__all__ = ["Launch", "Output", "Session", "examples", "output_options", "pass_session"]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_STATS_SECONDS = 10.0
"""How often plain progress lines are printed when stderr is not a terminal."""


@dataclass(frozen=True, slots=True)
class Launch:
    """How the command was started: the process entry point sets ``warn_memory``."""

    warn_memory: bool = False


@dataclass
class Session:
    """The state of one command run (``ctx.obj``).

    Attributes:
        addresses: resolves addresses; closed when the command ends.
        warn_memory: warn that ``memory://`` destinations vanish when the
            process exits (set by the process entry point; in-process callers
            such as tests share memory spaces and need no warning).
    """

    addresses: Addresses
    warn_memory: bool = False
    _warned: set[str] = field(default_factory=set)

    def resolve(self, text: str) -> Location:
        """Resolve an address (see :mod:`omnistorage.cli._address`)."""
        return self.addresses.resolve(text)

    def destination(self, text: str) -> Location:
        """Resolve an address that will be written to (warns about ``memory://``)."""
        location = self.addresses.resolve(text)
        if location.in_memory:
            self.warn_memory_destination(location)
        return location

    def warn_memory_destination(self, location: Location) -> None:
        """Say once that a ``memory://`` destination lives only in this process."""
        if self.warn_memory and location.text not in self._warned:
            self._warned.add(location.text)
            click.echo(
                f"warning: {location.text}: memory:// stores live inside this process only; "
                "what this command writes there is gone when it exits",
                err=True,
            )


@dataclass(frozen=True, slots=True)
class Output:
    """How a command reports: ``--json``, ``--quiet`` and the ``--stats`` interval."""

    json: bool = False
    quiet: bool = False
    stats: float = DEFAULT_STATS_SECONDS

    @property
    def stdout(self) -> TextIO:
        """Where results go."""
        return stdout_text()

    @property
    def stderr(self) -> TextIO:
        """Where messages and progress go."""
        return stderr_text()

    def display(self, *, unit: str = "files") -> Display:
        """A progress display for this run (bars on a terminal, lines elsewhere, or none)."""
        stderr = self.stderr
        mode = choose_mode(quiet=self.quiet, json=self.json, stderr_is_tty=_is_tty(stderr))
        return make_display(mode, stderr=stderr, interval=self.stats, unit=unit)

    def say(self, text: str) -> None:
        """A human summary line on stderr (not with ``--quiet`` or ``--json``)."""
        if not (self.quiet or self.json):
            click.echo(text, err=True)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


pass_session = click.make_pass_decorator(Session)


def output_options(func: F) -> F:
    """Add ``--json``, ``-q/--quiet`` and ``--stats`` and pass them as ``output=``."""

    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
    @click.option(
        "-q", "--quiet", is_flag=True, help="No progress and no summary; errors still print."
    )
    @click.option(
        "--stats",
        type=DURATION,
        default=None,
        metavar="DURATION",
        help="Interval of the plain progress lines printed when stderr is not a "
        f"terminal (default {DEFAULT_STATS_SECONDS:.0f}s; 0: only the final line).",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, as_json: bool, quiet: bool, stats: Any, **kwargs: Any) -> Any:
        interval = DEFAULT_STATS_SECONDS if stats is None else stats.total_seconds()
        kwargs["output"] = Output(json=as_json, quiet=quiet, stats=interval)
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def examples(*lines: str) -> str:
    """A help epilog listing examples, one per line, kept as written by Click."""
    body = "\n".join(f"  {line}" for line in lines)
    return f"\b\nExamples:\n{body}\n\n{EXIT_CODES_HELP}"


def stdin_binary() -> Any:
    """The binary stdin stream (looked up at call time: test runners swap it)."""
    return sys.stdin.buffer


def stdout_binary() -> Any:
    """The binary stdout stream."""
    return sys.stdout.buffer


def stdout_text() -> TextIO:
    """The text stdout stream."""
    return sys.stdout


def stderr_text() -> TextIO:
    """The text stderr stream."""
    return sys.stderr


def is_stdio(text: str) -> bool:
    """True for ``-`` (stdin or stdout)."""
    return text == "-"


def silence_stdout() -> None:
    """Point stdout at /dev/null after the reader of a pipe went away (``| head``), so the
    interpreter's final flush raises no ``BrokenPipeError``."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
