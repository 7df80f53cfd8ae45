"""Maintenance and introspection: ``cleanup``, ``features``, ``config show``."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import click

from omnistorage._folders import DEFAULT_CLEANUP_AGE
from omnistorage._redact import redact_url, scrub
from omnistorage.capabilities import Capability
from omnistorage.cli._exit import CommandFailed
from omnistorage.cli._output import emit_json, format_time, print_table
from omnistorage.cli._session import Session, examples, pass_session
from omnistorage.cli._units import DURATION
from omnistorage.errors import ConfigurationError
from omnistorage.models import Leftover

__all__ = ["cleanup", "config", "features", "redact_option"]

_MASK = "***"
_PLACEHOLDERS = re.compile(r"^(?:\$\{[A-Za-z_][A-Za-z0-9_]*\})+$")
_SECRET_WORDS = (
    "password",
    "passphrase",
    "secret",
    "token",
    "credential",
    "signature",
    "sas",
    "connection_string",
    "key",
)
_NOT_SECRET_SUFFIXES = ("_file", "filename", "_path", "known_hosts", "_id")


@click.command(
    epilog=examples(
        "omnistorage cleanup s3://bucket/uploads --dry-run",
        "omnistorage cleanup --older-than 0 ./data     # no writer can be running",
        "omnistorage cleanup --json backups:",
    )
)
@click.argument("address")
@click.option(
    "--older-than",
    type=DURATION,
    default=None,
    metavar="DURATION",
    help="Only leftovers older than this (default 24h: younger ones may belong to a "
    "writer still running).",
)
@click.option("--dry-run", is_flag=True, help="Report what would go; remove nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_session
def cleanup(session: Session, address: str, older_than: Any, dry_run: bool, as_json: bool) -> None:
    """Remove what crashed writers left below a folder: temp files, incomplete
    multipart uploads, uncommitted blocks. Exits with 1 if any could not be removed."""
    location = session.resolve(address)
    age = DEFAULT_CLEANUP_AGE if older_than is None else older_than
    report = location.folder().cleanup(older_than=age, dry_run=dry_run)
    if as_json:
        emit_json(
            {
                "dry_run": dry_run,
                "removed": [_leftover_dict(item) for item in report.removed],
                "kept": [_leftover_dict(item) for item in report.kept],
                "errors": [{"native": n, "error": e} for n, e in report.errors],
                "bytes_removed": report.bytes_removed,
            }
        )
    else:
        verb = "would remove" if dry_run else "removed"

        def where(item: Leftover) -> str:
            return location.join(item.key).text if item.key else location.text

        for item in report.removed:
            click.echo(f"{verb} {item.kind} {where(item)} ({_size(item)}, {_started(item)})")
        for item in report.kept:
            click.echo(f"kept {item.kind} {where(item)} (younger than {age}, {_started(item)})")
        for native, message in report.errors:
            click.echo(f"error: {native}: {message}", err=True)
        click.echo(
            f"{verb} {len(report.removed)} leftover(s), {report.bytes_removed} bytes; "
            f"kept {len(report.kept)}",
            err=True,
        )
    if report.errors:
        raise CommandFailed(f"{len(report.errors)} leftover(s) could not be removed")


def _leftover_dict(item: Leftover) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "key": item.key,
        "native": item.native,
        "size": item.size,
        "started": item.started.isoformat() if item.started else None,
    }


def _size(item: Leftover) -> str:
    return "size unknown" if item.size is None else f"{item.size} bytes"


def _started(item: Leftover) -> str:
    return f"started {format_time(item.started)}" if item.started else "start unknown"


@click.command(
    epilog=examples(
        "omnistorage features s3://bucket",
        "omnistorage features ./data memory:// backups:   # side by side",
        "omnistorage features --json sftp://me@host/srv",
    )
)
@click.argument("addresses", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the matrix as JSON.")
@pass_session
def features(session: Session, addresses: tuple[str, ...], as_json: bool) -> None:
    """Show what each store's backend really does: its capability matrix, hash types
    and limits (a capability is declared exactly when the conformance suite passes it)."""
    stores = [(address, session.resolve(address).folder()) for address in addresses]
    if as_json:
        document: dict[str, Any] = {}
        for address, store in stores:
            feats = store.features
            document[address] = {
                "backend": store.unwrap().name,
                "capabilities": sorted(str(c) for c in feats.capabilities),
                "hash_types": sorted(str(h) for h in feats.hash_types),
                "limits": _limits(store.features),
            }
        emit_json(document)
        return
    columns = ["capability", *(f"{address} ({store.unwrap().name})" for address, store in stores)]
    rows = [
        [str(capability), *("✓" if store.supports(capability) else "" for _, store in stores)]
        for capability in Capability
    ]
    rows.append(
        ["hash types", *(", ".join(sorted(map(str, s.features.hash_types))) for _, s in stores)]
    )
    for limit in ("max_object_size", "min_part_size", "max_part_size", "max_parts"):
        values = [_limits(store.features).get(limit) for _, store in stores]
        if any(value is not None for value in values):
            rows.append([limit, *("" if v is None else str(v) for v in values)])
    print_table(None, columns, rows)


def _limits(feats: Any) -> dict[str, int | None]:
    return {
        "max_object_size": feats.max_object_size,
        "min_part_size": feats.min_part_size,
        "max_part_size": feats.max_part_size,
        "max_parts": feats.max_parts,
    }


@click.group(
    epilog=examples(
        "omnistorage config show",
        "omnistorage --config ./omni.toml config show --json",
    )
)
def config() -> None:
    """Inspect the configuration file (store profiles for 'profile:path' addresses)."""


@config.command(
    name="show",
    epilog=examples(
        "omnistorage config show",
        "OMNISTORAGE_CONFIG=./omni.toml omnistorage config show --json",
    ),
)
@click.option("--json", "as_json", is_flag=True, help="Print the configuration as JSON.")
@pass_session
def config_show(session: Session, as_json: bool) -> None:
    """Show the configuration in effect, redacted: secrets are '***', and values taken
    from the environment show as the ${NAME} placeholder, never the value.

    The file is checked first (unknown keys, backend types, option names and
    types) without connecting anywhere.
    """
    source = session.addresses.config
    session.addresses.registry()  # validates the file; errors are usage errors (exit 2)
    try:
        raw = tomllib.loads(source.path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:  # it just parsed: a race with an editor
        raise ConfigurationError(f"cannot read config {source.path}: {exc}") from exc
    document: dict[str, Any] = {
        "path": str(source.path),
        "chosen_by": source.chosen_by,
        "backends": {
            name: {
                "type": table.get("type"),
                "options": {k: redact_option(k, v) for k, v in table.get("options", {}).items()},
            }
            for name, table in raw.get("backends", {}).items()
        },
        "stores": {
            name: {
                "backend": table.get("backend"),
                "root_path": redact_option("root_path", table.get("root_path", "")),
            }
            for name, table in raw.get("stores", {}).items()
        },
    }
    if as_json:
        emit_json(document)
        return
    click.echo(f"# {document['path']} (chosen by {document['chosen_by']})")
    for name, backend in document["backends"].items():
        click.echo(f"\n[backends.{name}]")
        click.echo(f"type = {_toml(backend['type'])}")
        for key, value in backend["options"].items():
            click.echo(f"options.{key} = {_toml(value)}")
    for name, store in document["stores"].items():
        click.echo(f"\n[stores.{name}]")
        click.echo(f"backend = {_toml(store['backend'])}")
        click.echo(f"root_path = {_toml(store['root_path'])}")


def redact_option(key: str, value: Any) -> Any:
    """``value`` as ``config show`` prints it: ``${NAME}`` placeholders as written (the
    value never), secret-named options as ``***``, passwords inside URLs and
    credential-shaped fragments (``AccountKey=…``) masked."""
    if isinstance(value, dict):
        return {k: redact_option(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_option(key, v) for v in value]
    if not isinstance(value, str):
        return value
    if _PLACEHOLDERS.fullmatch(value):
        return value
    if _is_secret_name(key) or scrub(f"{key}={value}") != f"{key}={value}":
        return _MASK
    return redact_url(value)


def _is_secret_name(key: str) -> bool:
    lowered = key.lower()
    if lowered.endswith(_NOT_SECRET_SUFFIXES):
        return False
    return any(word in lowered for word in _SECRET_WORDS)


def _toml(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
