"""Exit codes of the ``omnistorage`` command, and how failures map to them.

=====  =====================================================================
code   meaning
=====  =====================================================================
0      everything asked was done (``check``: the trees match)
1      errors: a transfer, a delete or a read failed, ``check`` could not
       compare some files, a listing skipped names outside the key grammar …
2      usage: a bad option or argument, an unknown profile or URL scheme, a
       broken config file, a missing optional dependency
3      ``check`` compared every file and the trees differ (a result, not an
       error: the differences are on stdout, the summary on stderr)
130    interrupted (Ctrl-C): the running writes were aborted, nothing partial
       was published
=====  =====================================================================
"""

from __future__ import annotations

import enum
from typing import IO, Any

import click

from omnistorage.errors import BucketNotFound, ConfigurationError, StorageError

__all__ = [
    "EXIT_CODES_HELP",
    "CommandFailed",
    "ExitCode",
    "Interrupted",
    "TreesDiffer",
    "UsageFailure",
    "describe",
    "failure_for",
]


class ExitCode(enum.IntEnum):
    """The documented exit codes (see the module docstring)."""

    OK = 0
    FAILED = 1
    USAGE = 2
    DIFFER = 3
    INTERRUPTED = 130


EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 errors (a transfer or a read failed); 2 usage (bad "
    "option, unknown profile, broken config); 3 check found differences; "
    "130 interrupted by Ctrl-C (nothing partial is published)."
)


class CommandFailed(click.ClickException):
    """A command that ran but did not succeed: its message goes to stderr, exit code 1.

    Raised after the command has written what it could (a report, the files it
    listed); the message says what went wrong, never with a secret in it.
    """

    exit_code = ExitCode.FAILED


class TreesDiffer(click.ClickException):
    """``check`` compared everything and found differences: a result, exit code 3.

    Its message is the summary, printed as it is (no ``Error:``).
    """

    exit_code = ExitCode.DIFFER

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(self.format_message(), err=True, file=file)


class UsageFailure(click.ClickException):
    """A configuration problem found while running (an unknown profile, a broken config
    file, a missing optional dependency): exit code 2, without Click's usage text."""

    exit_code = ExitCode.USAGE


class Interrupted(click.ClickException):
    """Ctrl-C stopped the command after aborting what was in flight: exit code 130."""

    exit_code = ExitCode.INTERRUPTED


def failure_for(exc: StorageError) -> click.ClickException:
    """The Click exception reporting a library error: configuration problems are usage
    errors (exit code 2), everything else a failure (1). A missing bucket says how to
    make one."""
    message = describe(exc)
    if isinstance(exc, ConfigurationError):
        return UsageFailure(message)
    return CommandFailed(message)


def describe(exc: StorageError) -> str:
    """A library error's message for the command's output; a missing bucket's says
    how to make it."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, BucketNotFound) and exc.bucket:
        message += _make_hint(exc.backend, exc.bucket)
    return message


def _make_hint(backend: str | None, bucket: str) -> str:
    from omnistorage.registry import backend_types

    found = backend_types().get(backend or "")
    if found is None or not found.schemes:
        return ""
    return f"; make it with: omnistorage mb {found.schemes[0]}://{bucket}"
