"""Buckets on the command line: ``mb``, ``rmdir``, and ``ls`` of an account (``ls s3://``).

An address names a *whole bucket* when it is a URL of a backend type with
buckets (:mod:`omnistorage.buckets`) and no path (``s3://name``, ``gs://name/``,
``az://name?connection_string=…``), or a profile whose store is a whole bucket
(no ``root_path``) with no path (``backups:``). It names the *account* when the
URL has no bucket either (``s3://``, ``s3://?endpoint_url=…``). Whether a type
has buckets is what it declares, never its name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import click

from omnistorage.buckets import Buckets, buckets_for, has_buckets, open_buckets
from omnistorage.cli._address import profile_parts
from omnistorage.cli._exit import CommandFailed, describe
from omnistorage.cli._output import JsonArray, format_time
from omnistorage.cli._session import Session, examples, pass_session, stdout_text
from omnistorage.errors import AlreadyExists, StorageError

__all__ = ["BucketAddress", "bucket_address", "list_buckets", "mb", "rmdir"]


@dataclass(frozen=True, slots=True)
class BucketAddress:
    """An address that names a whole bucket (``name``) or an account (``name`` None)."""

    buckets: Buckets
    name: str | None
    text: str


@contextlib.contextmanager
def bucket_address(
    session: Session, text: str, *, account_only: bool = False
) -> Iterator[BucketAddress | None]:
    """The bucket (or account) ``text`` names, or ``None`` when it names a path (or, with
    ``account_only``, anything but an account); the service is closed when the block ends."""
    found = _find(session, text, account_only)
    if found is None:
        yield None
        return
    try:
        yield found
    finally:
        found.buckets.close()


def _find(session: Session, text: str, account_only: bool) -> BucketAddress | None:
    if "://" in text and not text.lower().startswith("file://"):
        from omnistorage._redact import redact_url
        from omnistorage.registry import _scheme_type

        split = urlsplit(text)
        backend_type = _scheme_type(split.scheme.lower(), text)
        if not has_buckets(backend_type) or split.path.strip("/") or "@" in split.netloc:
            return None
        if account_only and split.netloc:
            return None
        name = unquote(split.netloc) or None
        return BucketAddress(open_buckets(text), name, redact_url(text))
    parts = profile_parts(text)
    if parts is None or account_only:
        return None
    profile_name, rest = parts
    registry = session.addresses.registry()
    profile = registry.config.stores.get(profile_name)
    if profile is None or rest.strip("/") or profile.root_path.strip("/"):
        return None  # an unknown profile is reported by the path commands
    backend = registry.config.backends[profile.backend]
    if not has_buckets(backend.type):
        return None
    buckets, name = buckets_for(
        backend.type, backend.options, secrets=tuple(registry.config.env_values)
    )
    if name is None:
        buckets.close()
        return None
    return BucketAddress(buckets, name, text)


def list_buckets(place: BucketAddress, *, long_format: bool, as_json: bool) -> None:
    """``ls`` of an account: one bucket per line, as folders (``name/``)."""
    found = place.buckets.list()
    out = stdout_text()
    if as_json:
        array = JsonArray(out)
        for info in found:
            array.add(
                {
                    "path": info.name,
                    "name": info.name,
                    "is_dir": True,
                    "size": None,
                    "modified": info.created.isoformat() if info.created else None,
                    "kind": place.buckets.noun,
                }
            )
        array.close()
        return
    for info in found:
        if long_format:
            out.write(f"{'-':>12} {format_time(info.created):<19} {info.name}/\n")
        else:
            out.write(f"{info.name}/\n")
    out.flush()


@click.command(
    epilog=examples(
        "omnistorage mb s3://new-bucket",
        "omnistorage mb 'az://reports?connection_string=…'",
        "omnistorage mb s3://bucket/reports/2024   # a folder (a marker on object stores)",
        "omnistorage mb ./local/dir",
    )
)
@click.argument("addresses", nargs=-1, required=True)
@click.option("-p", "--parents", is_flag=True, help="A bucket or folder that exists is fine.")
@pass_session
def mb(session: Session, addresses: tuple[str, ...], parents: bool) -> None:
    """Make buckets (s3://name, gs://name, az://name) or folders (any other address).

    A bucket is made in the account the URL's options or the environment
    point at (AWS_ENDPOINT_URL, AWS_REGION …). A folder is made with its
    parents; on object stores it is a zero-size 'name/' marker.
    """
    failed = 0
    for text in addresses:
        try:
            _mb_one(session, text, parents=parents)
        except StorageError as exc:
            failed += 1
            click.echo(f"error: {describe(exc)}", err=True)
    if failed:
        raise CommandFailed(f"{failed} of {len(addresses)} could not be made")


def _mb_one(session: Session, text: str, *, parents: bool) -> None:
    with bucket_address(session, text) as place:
        if place is not None:
            if place.name is None:
                raise click.UsageError(f"{text}: name the {place.buckets.noun} to make")
            try:
                place.buckets.make(place.name)
            except AlreadyExists:
                if not parents:
                    raise
            return
    location = session.destination(text)
    if not location.path:
        return  # the root of a store exists
    if location.is_file():
        raise AlreadyExists(f"{location.text}: a file is there", path=location.path, op="mkdir")
    if not parents and location.is_folder():
        raise AlreadyExists(f"{location.text}: the folder exists", path=location.path, op="mkdir")
    location.store.make_folder(location.path)


@click.command(
    epilog=examples(
        "omnistorage rmdir s3://old-bucket",
        "omnistorage rmdir s3://bucket/empty/folder",
        "omnistorage rmdir ./local/empty-dir",
    )
)
@click.argument("addresses", nargs=-1, required=True)
@pass_session
def rmdir(session: Session, addresses: tuple[str, ...]) -> None:
    """Remove empty folders, or empty buckets when an address names a whole bucket.

    Anything inside (a file, a sub-folder, a folder marker) keeps it: use
    'omnistorage rm -r' to empty a folder first.
    """
    failed = 0
    for text in addresses:
        try:
            _rmdir_one(session, text)
        except StorageError as exc:
            failed += 1
            click.echo(f"error: {describe(exc)}", err=True)
    if failed:
        raise CommandFailed(f"{failed} of {len(addresses)} could not be removed")


def _rmdir_one(session: Session, text: str) -> None:
    with bucket_address(session, text) as place:
        if place is not None:
            if place.name is None:
                raise click.UsageError(f"{text}: name the {place.buckets.noun} to remove")
            place.buckets.remove(place.name)
            return
    location = session.resolve(text)
    if not location.path:
        raise click.UsageError(f"{location.text}: the root of a store is not a folder to remove")
    location.store.delete_folder(location.path, recursive=False)
