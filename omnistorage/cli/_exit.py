"""Exit codes of the ``omnistorage`` command, and how failures map to them.

=====  =====================================================================
code   meaning
=====  =====================================================================
0      everything asked was done (``check``: the trees match)
1      differences or errors: ``check`` found differences, a transfer or a
       delete failed, a listing skipped names outside the key grammar …
2      usage: a bad option or argument, an unknown profile or URL scheme, a
       broken config file, a missing optional dependency
130    interrupted (Ctrl-C): the running writes were aborted, nothing partial
       was published
=====  =====================================================================
"""

from __future__ import annotations

import enum

import click

from omnistorage.errors import ConfigurationError, StorageError

__all__ = [
    "EXIT_CODES_HELP",
    "CommandFailed",
    "ExitCode",
    "Interrupted",
    "UsageFailure",
    "failure_for",
]


class ExitCode(enum.IntEnum):
    """The documented exit codes (see the module docstring)."""

    OK = 0
    DIFFERENCES = 1
    USAGE = 2
    INTERRUPTED = 130


EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 differences or errors (check found differences, a "
    "transfer failed); 2 usage (bad option, unknown profile, broken config); "
    "130 interrupted by Ctrl-C (nothing partial is published)."
)


class CommandFailed(click.ClickException):
    """A command that ran but did not succeed: its message goes to stderr, exit code 1.

    Raised after the command has written what it could (a report, the files it
    listed); the message says what went wrong, never with a secret in it.
    """

    exit_code = ExitCode.DIFFERENCES


class UsageFailure(click.ClickException):
    """A configuration problem found while running (an unknown profile, a broken config
    file, a missing optional dependency): exit code 2, without Click's usage text."""

    exit_code = ExitCode.USAGE


class Interrupted(click.ClickException):
    """Ctrl-C stopped the command after aborting what was in flight: exit code 130."""

    exit_code = ExitCode.INTERRUPTED


def failure_for(exc: StorageError) -> click.ClickException:
    """The Click exception reporting a library error: configuration problems are usage
    errors (exit code 2), everything else a failure (1)."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, ConfigurationError):
        return UsageFailure(message)
    return CommandFailed(message)
