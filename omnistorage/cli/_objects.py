"""Object commands that read or delete: ``ls``, ``stat``, ``cat``, ``rm``."""

from __future__ import annotations

from typing import Any

import click

from omnistorage.cli._address import Location
from omnistorage.cli._buckets import bucket_address, list_buckets
from omnistorage.cli._exit import CommandFailed, describe
from omnistorage.cli._output import (
    JsonArray,
    emit_json,
    file_info_dict,
    folder_info_dict,
    long_line,
)
from omnistorage.cli._session import (
    Session,
    examples,
    pass_session,
    silence_stdout,
    stdout_binary,
    stdout_text,
)
from omnistorage.cli._transfer import CHUNK
from omnistorage.cli._units import SIZE
from omnistorage.errors import NotFound, StorageError
from omnistorage.models import ObjectInfo

__all__ = ["cat", "ls", "rm", "stat"]


def _missing(location: Location) -> NotFound:
    return NotFound(f"{location.text}: no such file or folder", path=location.path or None)


@click.command(
    epilog=examples(
        "omnistorage ls s3://bucket/logs",
        "omnistorage ls -lR ./data",
        "omnistorage ls --json backups:2024/ | jq '.[].path'",
        "omnistorage ls s3://    # the buckets",
    )
)
@click.argument("address", default=".")
@click.option("-l", "--long", "long_format", is_flag=True, help="Size, time and path.")
@click.option("-R", "--recursive", is_flag=True, help="Every file below, at any depth.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array of entries on stdout.")
@pass_session
def ls(session: Session, address: str, long_format: bool, recursive: bool, as_json: bool) -> None:
    """List the folder (or file) at ADDRESS (default: the current directory).

    Sub-folders end with '/'. Entries come in the backend's order. Names that
    other tools wrote and that are not valid keys ('a//b', a tab) are skipped
    and counted; the command then exits with 1. An account address (s3://,
    gs://, az://?connection_string=…) lists its buckets.
    """
    with bucket_address(session, address, account_only=True) as account:
        if account is not None:
            list_buckets(account, long_format=long_format, as_json=as_json)
            return
    location = session.resolve(address)
    out = stdout_text()
    array = JsonArray(out) if as_json else None

    def show(info: ObjectInfo, path: str) -> None:
        if array is not None:
            array.add(file_info_dict(info, path=path))
        elif long_format:
            out.write(long_line(info, path) + "\n")
        else:
            out.write(f"{path}/\n" if info.is_dir else f"{path}\n")

    try:
        if location.path and not location.folder_hint and location.is_file():
            show(location.store.get_file_info(location.path), location.name)
            return
        if not location.is_folder():
            raise _missing(location)
        folder = location.folder()
        skipped = 0
        if not recursive:
            folders = folder.list_folders()
            for name in folders:
                show(ObjectInfo(path=name, size=None, is_dir=True), name)
            skipped += folders.invalid_count
        files = folder.list_files(recursive=recursive)
        for info in files:
            show(info, info.path)
        skipped += files.invalid_count
    finally:
        if array is not None:
            array.close()
        out.flush()
    if skipped:
        raise CommandFailed(
            f"{location.text}: skipped {skipped} name(s) that are not valid keys "
            "(written by another tool; see the warnings above)"
        )


@click.command(
    epilog=examples(
        "omnistorage stat s3://bucket/report.csv",
        "omnistorage stat --json ./data/",
    )
)
@click.argument("address")
@click.option("--json", "as_json", is_flag=True, help="Print the information as JSON.")
@pass_session
def stat(session: Session, address: str, as_json: bool) -> None:
    """Show size, time, hashes and metadata of a file, or totals of a folder."""
    location = session.resolve(address)
    document: dict[str, Any]
    if location.path and not location.folder_hint and location.is_file():
        info = location.store.get_file_info(location.path)
        document = file_info_dict(info, path=location.text)
    elif location.is_folder():
        document = folder_info_dict(location.folder().get_folder_info())
        document["path"] = location.text
    else:
        raise _missing(location)
    if as_json:
        emit_json(document)
        return
    for key, value in document.items():
        if key == "name" or value in (None, {}, []):
            continue
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                click.echo(f"{key}.{sub}: {subvalue}")
        else:
            click.echo(f"{key}: {value}")


@click.command(
    epilog=examples(
        "omnistorage cat s3://bucket/logs/app.log",
        "omnistorage cat --offset 100 --count 20 ./big.bin | xxd",
        "omnistorage cat backups:notes/a.txt backups:notes/b.txt > both.txt",
    )
)
@click.argument("addresses", nargs=-1, required=True)
@click.option("--offset", type=SIZE, default=0, help="Start at this byte (e.g. 100, 4k).")
@click.option("--count", type=SIZE, default=None, help="At most this many bytes.")
@pass_session
def cat(session: Session, addresses: tuple[str, ...], offset: int, count: int | None) -> None:
    """Write the bytes of each file to stdout, in order.

    Each file is read as one version (if it changes meanwhile, the read fails
    rather than mixing versions). A file that cannot be read is reported and
    the others are still written; the command then exits with 1.
    """
    locations = [session.resolve(address) for address in addresses]
    out = stdout_binary()
    failed = 0
    try:
        for location in locations:
            try:
                _cat_one(location, out, offset, count)
            except StorageError as exc:
                failed += 1
                out.flush()
                click.echo(f"error: {location.text}: {describe(exc)}", err=True)
        out.flush()
    except BrokenPipeError:
        # The reader went away (`| head`): that is its choice, not our failure.
        silence_stdout()
        return
    if failed:
        raise CommandFailed(f"{failed} of {len(locations)} file(s) could not be read")


def _cat_one(location: Location, out: Any, offset: int, count: int | None) -> None:
    if not location.path or location.folder_hint or not location.is_file():
        if location.path and location.is_folder():
            raise StorageError(f"{location.text} is a folder", path=location.path, op="read")
        raise _missing(location)
    if offset == 0 and count is None:
        source = location.store.read(location.path)
    else:
        source = location.store.read_seekable(location.path)
        source.seek(offset)
    try:
        left = count
        while left is None or left > 0:
            chunk = source.read(CHUNK if left is None else min(CHUNK, left))
            if not chunk:
                break
            out.write(chunk)
            if left is not None:
                left -= len(chunk)
    finally:
        source.close()


@click.command(
    epilog=examples(
        "omnistorage rm s3://bucket/tmp/old.csv",
        "omnistorage rm -r backups:2019/",
        "omnistorage rm -f ./maybe-there.txt",
    )
)
@click.argument("addresses", nargs=-1, required=True)
@click.option("-r", "--recursive", is_flag=True, help="Delete folders and everything below.")
@click.option("-f", "--force", is_flag=True, help="A missing file or folder is not an error.")
@pass_session
def rm(session: Session, addresses: tuple[str, ...], recursive: bool, force: bool) -> None:
    """Delete files (and, with -r, folders with everything in them).

    Leftovers of crashed writers below a deleted folder go too. Names other
    tools wrote that are not valid keys are never deleted; the folder then
    stays and the command exits with 1.
    """
    locations = [session.resolve(address) for address in addresses]
    failed = 0
    for location in locations:
        try:
            _rm_one(location, recursive=recursive, force=force)
        except StorageError as exc:
            failed += 1
            click.echo(f"error: {location.text}: {describe(exc)}", err=True)
    if failed:
        raise CommandFailed(f"{failed} of {len(locations)} deletion(s) failed")


def _rm_one(location: Location, *, recursive: bool, force: bool) -> None:
    if location.path and not location.folder_hint and location.is_file():
        location.store.delete(location.path, missing_ok=force)
        return
    if location.is_folder():
        if not recursive:
            raise StorageError(
                f"{location.text} is a folder: use rm -r to delete it and everything in it",
                path=location.path or None,
                op="delete",
            )
        location.store.delete_folder(location.path, recursive=True, missing_ok=force)
        return
    if not force:
        raise _missing(location)
