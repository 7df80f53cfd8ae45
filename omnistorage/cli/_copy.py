"""Object commands that write: ``cp``, ``mv``, ``put``, ``get``.

All four overwrite an existing destination unless ``-n/--no-clobber`` is given,
which makes the write create-only (refused atomically where the backend can).
Each file is published atomically; Ctrl-C aborts the file in flight (nothing
partial appears) and exits with 130. For whole trees use ``copy``/``sync``.
"""

from __future__ import annotations

import os
import stat as stat_module
from dataclasses import dataclass
from typing import Any

import click

from omnistorage.cli._address import Location
from omnistorage.cli._exit import CommandFailed, describe
from omnistorage.cli._output import emit_json
from omnistorage.cli._progress import Meter, format_duration
from omnistorage.cli._session import (
    Output,
    Session,
    examples,
    is_stdio,
    output_options,
    pass_session,
    stdin_binary,
    stdout_binary,
)
from omnistorage.cli._transfer import Throttle, Transferred, pump, transfer, upload
from omnistorage.cli._units import SIZE
from omnistorage.errors import NotFound, StorageError
from omnistorage.models import ObjectInfo

__all__ = ["cp", "get", "mv", "put"]


def _clobber_option(func: Any) -> Any:
    return click.option(
        "-n",
        "--no-clobber",
        is_flag=True,
        help="Never replace an existing destination file (create-only, atomic where the "
        "backend can); such files are reported as errors.",
    )(func)


def _bwlimit_option(func: Any) -> Any:
    return click.option(
        "--bwlimit",
        type=SIZE,
        default=None,
        metavar="RATE",
        help="Limit the transfer to RATE bytes per second (e.g. 512k, 10M).",
    )(func)


@dataclass(frozen=True, slots=True)
class _Job:
    src: Location
    info: ObjectInfo
    dst: Location


def _plan(
    session: Session, sources: tuple[str, ...], destination: str
) -> tuple[list[_Job], list[tuple[str, str]]]:
    """Resolve every address first (so a usage error changes nothing), then pair each
    source file with its destination. Missing sources are returned as errors."""
    srcs = [session.resolve(text) for text in sources]
    dst = session.destination(destination)
    many = len(srcs) > 1
    into_folder = (
        many or dst.folder_hint or dst.path == "" or (not dst.is_file() and dst.is_folder())
    )
    jobs: list[_Job] = []
    missing: list[tuple[str, str]] = []
    for src in srcs:
        if not src.path or src.folder_hint or not src.is_file():
            if src.is_folder():
                raise click.UsageError(
                    f"{src.text} is a folder: 'omnistorage copy SRC DST' copies trees"
                )
            missing.append((src.text, f"{src.text}: no such file"))
            continue
        info = src.store.get_file_info(src.path)
        target = dst.join(src.name) if into_folder else dst
        src, target = session.addresses.share_local(src, target)
        jobs.append(_Job(src, info, target))
    return jobs, missing


def _run(
    jobs: list[_Job],
    missing: list[tuple[str, str]],
    *,
    move: bool,
    overwrite: bool,
    bwlimit: int | None,
    output: Output,
) -> None:
    throttle = Throttle(bwlimit)
    known = [job.info.size for job in jobs]
    total = None if any(size is None for size in known) else sum(s or 0 for s in known)
    done: list[Transferred] = []
    errors: list[dict[str, str]] = [{"src": src, "error": message} for src, message in missing]
    with output.display() as display:
        meter = Meter(display, files_total=len(jobs), bytes_total=total)
        for _src, message in missing:
            meter.file_failed(f"error: {message}")
        for job in jobs:
            meter.start_file(job.src.name)
            try:
                result = transfer(
                    job.src,
                    job.info,
                    job.dst,
                    move=move,
                    overwrite=overwrite,
                    meter=meter,
                    throttle=throttle,
                )
            except StorageError as exc:
                errors.append({"src": job.src.text, "dst": job.dst.text, "error": str(exc)})
                meter.file_failed(f"error: {job.src.text} -> {job.dst.text}: {describe(exc)}")
                continue
            done.append(result)
            meter.file_done()
        meter.finish()
    _finish(done, errors, meter, output, "moved" if move else "copied")


def _finish(
    done: list[Transferred],
    errors: list[dict[str, str]],
    meter: Meter,
    output: Output,
    verb: str,
) -> None:
    nbytes = sum(item.bytes for item in done)
    if output.json:
        emit_json(
            {
                verb: [item.to_dict() for item in done],
                "errors": errors,
                "bytes": nbytes,
                "seconds": round(meter.elapsed, 3),
                "ok": not errors,
            }
        )
    else:
        output.say(
            f"{verb} {len(done)} file(s), {nbytes} bytes in {format_duration(meter.elapsed)}"
            + (f"; {len(errors)} failed" if errors else "")
        )
    if errors:
        raise CommandFailed(f"{len(errors)} file(s) failed")


@click.command(
    epilog=examples(
        "omnistorage cp ./report.csv s3://bucket/reports/",
        "omnistorage cp s3://bucket/a.bin s3://bucket/b.bin      # server-side",
        "omnistorage cp -n a.txt b.txt backups:inbox/            # never overwrite",
        "omnistorage cp --bwlimit 10M big.iso sftp://host/srv/isos/",
    )
)
@click.argument("sources", nargs=-1, required=True)
@click.argument("destination")
@_clobber_option
@_bwlimit_option
@output_options
@pass_session
def cp(
    session: Session,
    sources: tuple[str, ...],
    destination: str,
    no_clobber: bool,
    bwlimit: int | None,
    output: Output,
) -> None:
    """Copy files to DESTINATION, between any two stores.

    With several SOURCES, or when DESTINATION is a folder or ends with '/',
    each file keeps its name inside it. Copies on one bucket or disk are
    server-side. Modification time, content type and metadata are kept where
    the destination stores them.
    """
    jobs, missing = _plan(session, sources, destination)
    _run(jobs, missing, move=False, overwrite=not no_clobber, bwlimit=bwlimit, output=output)


@click.command(
    epilog=examples(
        "omnistorage mv ./out.csv s3://bucket/inbox/",
        "omnistorage mv backups:tmp/a.json backups:done/a.json",
    )
)
@click.argument("sources", nargs=-1, required=True)
@click.argument("destination")
@_clobber_option
@_bwlimit_option
@output_options
@pass_session
def mv(
    session: Session,
    sources: tuple[str, ...],
    destination: str,
    no_clobber: bool,
    bwlimit: int | None,
    output: Output,
) -> None:
    """Move files to DESTINATION, between any two stores.

    Within one bucket or disk the move is server-side (a rename on disks);
    across stores the file is copied, and the source deleted only once the
    copy is published.
    """
    jobs, missing = _plan(session, sources, destination)
    _run(jobs, missing, move=True, overwrite=not no_clobber, bwlimit=bwlimit, output=output)


@click.command(
    epilog=examples(
        "omnistorage put ./backup.tar s3://bucket/backups/",
        "pg_dump app | omnistorage put - s3://bucket/dumps/app.sql",
    )
)
@click.argument("source")
@click.argument("destination")
@_clobber_option
@_bwlimit_option
@output_options
@pass_session
def put(
    session: Session,
    source: str,
    destination: str,
    no_clobber: bool,
    bwlimit: int | None,
    output: Output,
) -> None:
    """Upload a local file, or stdin ('-'), to DESTINATION.

    From stdin the object is published only when the input ends; Ctrl-C or a
    failing producer publishes nothing. DESTINATION must then name the file.
    """
    if not is_stdio(source):
        if "://" in source and not source.lower().startswith("file://"):
            raise click.UsageError(f"put uploads a local file, got {source!r}: use cp")
        local = source if source.lower().startswith("file://") else _as_local(source)
        jobs, missing = _plan(session, (local,), destination)
        _run(jobs, missing, move=False, overwrite=not no_clobber, bwlimit=bwlimit, output=output)
        return
    dst = session.destination(destination)
    if dst.path == "" or dst.folder_hint or dst.is_folder():
        raise click.UsageError("put - needs a destination file name, not a folder")
    stream = stdin_binary()
    size = _regular_size(stream)
    done: list[Transferred] = []
    errors: list[dict[str, str]] = []
    with output.display() as display:
        meter = Meter(display, files_total=1, bytes_total=size)
        meter.start_file(dst.name)
        try:
            done.append(
                upload(
                    stream,
                    "-",
                    dst,
                    overwrite=not no_clobber,
                    size_hint=size,
                    meter=meter,
                    throttle=Throttle(bwlimit),
                )
            )
            meter.file_done()
        except StorageError as exc:
            errors.append({"src": "-", "dst": dst.text, "error": str(exc)})
            meter.file_failed(f"error: - -> {dst.text}: {describe(exc)}")
        meter.finish()
    _finish(done, errors, meter, output, "copied")


@click.command(
    epilog=examples(
        "omnistorage get s3://bucket/reports/q1.csv          # into the current directory",
        "omnistorage get backups:db/latest.sql ./restore.sql",
        "omnistorage get s3://bucket/data.json - | jq .",
    )
)
@click.argument("source")
@click.argument("destination", default=".")
@_clobber_option
@_bwlimit_option
@output_options
@pass_session
def get(
    session: Session,
    source: str,
    destination: str,
    no_clobber: bool,
    bwlimit: int | None,
    output: Output,
) -> None:
    """Download SOURCE to a local file or folder (default: the current directory), or to
    stdout ('-')."""
    if not is_stdio(destination):
        if "://" in destination and not destination.lower().startswith("file://"):
            raise click.UsageError(f"get downloads to a local path, got {destination!r}: use cp")
        jobs, missing = _plan(session, (source,), _as_local(destination))
        _run(jobs, missing, move=False, overwrite=not no_clobber, bwlimit=bwlimit, output=output)
        return
    if output.json:
        raise click.UsageError("get SOURCE - writes the file to stdout: --json cannot go there")
    src = session.resolve(source)
    if not src.path or not src.is_file():
        raise NotFound(f"{src.text}: no such file", path=src.path or None)
    info = src.store.get_file_info(src.path)
    out = stdout_binary()
    with output.display() as display:
        meter = Meter(display, files_total=1, bytes_total=info.size)
        meter.start_file(src.name)
        reader = src.store.read(src.path)
        try:
            size = pump(reader, out.write, meter, Throttle(bwlimit))
        finally:
            reader.close()
        out.flush()
        meter.file_done()
        meter.finish()
    output.say(f"copied 1 file(s), {size} bytes in {format_duration(meter.elapsed)}")


def _as_local(text: str) -> str:
    """A local path that the address rules will not read as ``profile:path``."""
    if text.lower().startswith("file://") or os.path.isabs(text) or text.startswith("."):
        return text
    return os.path.join(".", text)


def _regular_size(stream: Any) -> int | None:
    """The size of stdin when it is a regular file (``< file``), else ``None``."""
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return None
    if stat_module.S_ISREG(info.st_mode):
        return info.st_size - stream.tell() if stream.seekable() else info.st_size
    return None
