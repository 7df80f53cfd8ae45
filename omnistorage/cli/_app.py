"""The ``omnistorage`` command group, its global options, and the process entry point."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any

import click

from omnistorage import __version__
from omnistorage.cli._address import Addresses, find_config
from omnistorage.cli._bisync import bisync
from omnistorage.cli._buckets import mb, rmdir
from omnistorage.cli._copy import cp, get, mv, put
from omnistorage.cli._exit import EXIT_CODES_HELP, ExitCode, Interrupted, failure_for
from omnistorage.cli._maintenance import cleanup, config, features
from omnistorage.cli._objects import cat, ls, rm, stat
from omnistorage.cli._records import records
from omnistorage.cli._session import Launch, Session
from omnistorage.cli._summary import size, tree
from omnistorage.cli._trees import check, copy, move, sync
from omnistorage.errors import StorageError

__all__ = ["app", "main"]

_ROOT_EPILOG = f"""\b
Addresses:
  s3://bucket/prefix/key   gs://bucket/…   az://container/…   sftp://user@host/path
  memory://space/key       (lives inside one process only)
  profile:path             a store profile of the config file (like an rclone remote)
  ./path, /abs/path        local files (write ./a:b for a local name with a colon)

\b
The config file: --config, else $OMNISTORAGE_CONFIG, else
~/.config/omnistorage/config.toml (the omnistorage.RegistryConfig TOML format).

\b
Examples:
  omnistorage ls -l s3://bucket/logs
  omnistorage mb s3://new-bucket
  omnistorage cp ./report.csv backups:reports/
  omnistorage sync ./site s3://bucket/www --dry-run
  omnistorage check ./data s3://bucket/data
  omnistorage records convert in.csv.gz s3://bucket/out.ndjson.zst

{EXIT_CODES_HELP} Commands take --help for their own examples."""


class _Group(click.Group):
    """Maps the library's errors and Ctrl-C to the documented exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted(
                "interrupted: the writes in flight were aborted; nothing partial was published"
            ) from None
        except StorageError as exc:
            raise failure_for(exc) from None


@click.group(cls=_Group, epilog=_ROOT_EPILOG, context_settings={"max_content_width": 100})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    default=None,
    help="The config file with store profiles (default: $OMNISTORAGE_CONFIG, then "
    "~/.config/omnistorage/config.toml).",
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="-v: each file copied, replaced, moved or deleted (as rclone -v); "
    "-vv: DEBUG logs, the SDKs' (scrubbed) included. On stderr.",
)
@click.version_option(__version__, prog_name="omnistorage")
@click.pass_context
def app(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """Move, list, check and convert files and records on any storage: local disks,
    S3, GCS, Azure Blob, SFTP, SQL and memory stores, with one address syntax."""
    _configure_logging(verbose)
    addresses = Addresses(find_config(config_path))
    ctx.call_on_close(addresses.close)
    launch = ctx.obj if isinstance(ctx.obj, Launch) else Launch()
    ctx.obj = Session(addresses, warn_memory=launch.warn_memory)


for _command in (
    ls,
    stat,
    size,
    tree,
    cat,
    put,
    get,
    cp,
    mv,
    rm,
    mb,
    rmdir,
    sync,
    copy,
    move,
    check,
    cleanup,
    features,
):
    app.add_command(_command)
app.add_command(config)
app.add_command(bisync)
app.add_command(records)


class _StderrHandler(logging.Handler):
    """Writes each record to whatever ``sys.stderr`` is at the time (test runners and
    live displays swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never break the command
            self.handleError(record)


def _configure_logging(verbose: int) -> None:
    """Warnings only by default; ``-v`` omnistorage's INFO lines (each file a sync acted
    on, as ``rclone -v`` prints them: ``INFO  : a.txt: Copied (new)``) while the SDKs
    (botocore, urllib3, azure, google …) stay at WARNING; ``-vv`` DEBUG for everyone."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        root.addHandler(handler)
    own = logging.getLogger("omnistorage")
    if verbose >= 2:
        handler.setFormatter(logging.Formatter("%(levelname)-5s %(name)s: %(message)s"))
        root.setLevel(logging.DEBUG)
        own.setLevel(logging.NOTSET)
    else:
        handler.setFormatter(logging.Formatter("%(levelname)-5s : %(message)s"))
        root.setLevel(logging.WARNING)
        own.setLevel(logging.INFO if verbose == 1 else logging.NOTSET)


def _interrupt_handler() -> Any:
    presses = 0

    def handle(signum: int, frame: FrameType | None) -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            raise KeyboardInterrupt
        if presses == 2:
            os.write(
                2,
                b"still stopping cleanly (aborting the writes in flight); "
                b"press Ctrl-C again to quit at once (leftovers are removed by "
                b"'omnistorage cleanup')\n",
            )
            return
        os._exit(ExitCode.INTERRUPTED)

    return handle


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``omnistorage`` command (the console script and ``python -m omnistorage``).

    Returns the exit code (see :mod:`omnistorage.cli._exit`). The first Ctrl-C
    aborts the writes in flight and exits with 130; a second one only says it is
    still stopping; a third quits at once.
    """
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt_handler())
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app.main(
            args=args,
            prog_name="omnistorage",
            standalone_mode=False,
            obj=Launch(warn_memory=True),
        )
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            click.echo("interrupted", err=True)
            return ExitCode.INTERRUPTED
        click.echo("Aborted!", err=True)
        return ExitCode.FAILED
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return ExitCode.INTERRUPTED
    return result if isinstance(result, int) else ExitCode.OK
