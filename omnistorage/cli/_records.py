"""``records cat|head|count|convert``: record files (NDJSON, CSV, TFRecord …) on any store.

Format and codec come from the key (``events.ndjson.zst``, ``rows.csv.gz``,
``blobs.tfrecord``) unless ``--format``/``--compression`` say otherwise. Reading
streams with bounded memory; damaged input (a cut stream, a bad CRC) fails with
the library's typed error, never with short output passing for whole.

Many objects: ``cat``, ``head`` and ``count`` take a folder (every record file
below it, at any depth) or a glob (``'s3://bucket/logs/2024-*/app-*.ndjson.zst'``;
quote it so the shell leaves it alone; in URLs ``*`` and ``[…]`` are wildcards,
``?`` starts the query) as well as a file, and read the files in name order: a
stream that a rolling writer cut into many objects (``…-00000000000000000001…``)
reads back in order. In a folder, files whose format cannot be inferred from
the name are skipped (said on stderr) unless ``--format`` is given.

Printing (``cat``, ``head``): one JSON value per line. CSV rows print as JSON
objects; length-prefixed (TFRecord) records are bytes and print as base64
strings.

Converting: records pass through unchanged between value formats (NDJSON ↔ CSV;
CSV needs objects with the first record's fields). Values written to a
length-prefixed format are encoded as JSON; length-prefixed payloads written to
NDJSON or CSV must be JSON (parsed, so the output is always valid). A record that
does not fit the target fails the conversion, naming it, and nothing is published.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import click
import orjson

from omnistorage._glob import has_magic, static_prefix
from omnistorage.cli._address import Location, profile_parts
from omnistorage.cli._exit import CommandFailed, describe
from omnistorage.cli._output import emit_json
from omnistorage.cli._progress import Meter, format_duration
from omnistorage.cli._session import (
    Output,
    Session,
    examples,
    output_options,
    pass_session,
    silence_stdout,
    stdout_binary,
)
from omnistorage.errors import ConfigurationError, DataError, NotFound, StorageError
from omnistorage.formats import LengthPrefixed, format_for_key, format_names, get_format
from omnistorage.records import RecordReader, open_reader, open_writer

__all__ = ["records"]

_FORMATS = click.Choice(format_names())
_URL_MAGIC = re.compile(r"[*\[]")
_CODECS = click.Choice(["gzip", "zstd", "snappy", "none"])


@click.group(
    epilog=examples(
        "omnistorage records head s3://bucket/events/2024-05-01.ndjson.zst",
        "omnistorage records count ./exports/*.csv.gz",
        "omnistorage records convert in.csv.gz s3://bucket/out.ndjson.zst",
    )
)
def records() -> None:
    """Read, count and convert record files on any store, streaming."""


def _format_options(func: Any) -> Any:
    func = click.option(
        "--compression", type=_CODECS, default=None, help="Codec (default: from the key)."
    )(func)
    return click.option(
        "--format",
        "format_name",
        type=_FORMATS,
        default=None,
        help="Format (default: from the key).",
    )(func)


def _file(session: Session, address: str) -> Location:
    location = session.resolve(address)
    if not location.path or location.folder_hint or not location.is_file():
        raise NotFound(f"{location.text}: no such file", path=location.path or None)
    return location


def _files(session: Session, address: str, format_name: str | None) -> list[Location]:
    """The record files ``address`` names: a file, every record file below a folder, or
    the files a glob matches; in name order (see the module docstring)."""
    glob = _split_glob(address)
    if glob is not None:
        base_text, pattern = glob
        base = session.resolve(base_text)
        matches = base.folder().glob(pattern)
        found = sorted(info.path for info in matches)
        _warn_skipped(base, matches.invalid_count)
        if not found:
            raise NotFound(f"{address}: no file matches", path=pattern, op="list")
        return [base.join(path) for path in found]
    location = session.resolve(address)
    if location.path and not location.folder_hint and location.is_file():
        return [location]
    if not location.is_folder():
        raise NotFound(f"{location.text}: no such file or folder", path=location.path or None)
    listing = location.folder().list_files(recursive=True)
    names = sorted(info.path for info in listing)
    _warn_skipped(location, listing.invalid_count)
    if format_name is None:
        kept = [name for name in names if _has_format(name)]
        if len(kept) < len(names):
            click.echo(
                f"{location.text}: skipped {len(names) - len(kept)} file(s) whose name "
                "names no record format (give --format to read them)",
                err=True,
            )
        names = kept
    if not names:
        raise NotFound(f"{location.text}: no record files in the folder", op="list")
    return [location.join(name) for name in names]


def _split_glob(address: str) -> tuple[str, str] | None:
    """``(folder address, pattern)`` when the address holds a wildcard, else ``None``."""
    if "://" in address:
        split = urlsplit(address)
        path = split.path
        if not _URL_MAGIC.search(path):
            return None
        head = path[: _URL_MAGIC.search(path).start()]  # type: ignore[union-attr]
        folder = head.rpartition("/")[0]
        rest = path[len(folder) :].lstrip("/")
        base = urlunsplit(split._replace(path=folder + "/"))
        return base, unquote(rest)
    if not has_magic(address):
        return None
    profile = profile_parts(address)
    head, path = (f"{profile[0]}:", profile[1]) if profile else ("", address)
    prefix = static_prefix(path)
    if prefix:
        return f"{head}{prefix}/", path[len(prefix) :].lstrip("/")
    return (head or "./"), path.lstrip("/") if head else path


def _has_format(key: str) -> bool:
    try:
        format_for_key(key)
    except ConfigurationError:
        return False
    return True


def _warn_skipped(location: Location, count: int) -> None:
    if count:
        click.echo(
            f"warning: {location.text}: skipped {count} name(s) that are not valid keys",
            err=True,
        )


def _reader(location: Location, format_name: str | None, compression: str | None) -> RecordReader:
    return open_reader(location.store, location.path, format=format_name, compression=compression)


def _json_line(record: Any) -> bytes:
    if isinstance(record, (bytes, bytearray, memoryview)):
        return orjson.dumps(base64.b64encode(bytes(record)).decode("ascii")) + b"\n"
    return orjson.dumps(record) + b"\n"


def _print_records(
    locations: list[Location], fmt: str | None, codec: str | None, limit: int | None
) -> None:
    out = stdout_binary()
    left = limit
    try:
        for location in locations:
            if left is not None and left <= 0:
                break
            with _reader(location, fmt, codec) as reader:
                while left is None or left > 0:
                    batch = reader.read_batch()
                    if not batch:
                        break
                    if left is not None:
                        batch = batch[:left]
                        left -= len(batch)
                    out.write(b"".join(_json_line(record) for record in batch))
            out.flush()
    except BrokenPipeError:
        silence_stdout()


@records.command(
    name="cat",
    epilog=examples(
        "omnistorage records cat s3://bucket/events.ndjson.zst | jq .user",
        "omnistorage records cat ./rows.csv.gz",
        "omnistorage records cat --format ndjson --compression gzip ./dump.bin",
        "omnistorage records cat s3://bucket/logs/2024/05/01/   # a rolled stream, in order",
        "omnistorage records cat 's3://bucket/logs/*/*/*/app-*.ndjson.zst'",
    ),
)
@click.argument("address")
@_format_options
@pass_session
def records_cat(
    session: Session, address: str, format_name: str | None, compression: str | None
) -> None:
    """Print every record of a file, a folder's record files or a glob's, as one JSON
    value per line (files in name order)."""
    _print_records(_files(session, address, format_name), format_name, compression, None)


@records.command(
    name="head",
    epilog=examples(
        "omnistorage records head s3://bucket/events.ndjson.zst",
        "omnistorage records head -n 3 backups:exports/users.csv.gz",
        "omnistorage records head -n 5 s3://bucket/logs/   # the first of a rolled stream",
    ),
)
@click.argument("address")
@click.option("-n", "--lines", "count", type=click.IntRange(min=0), default=10, show_default=True)
@_format_options
@pass_session
def records_head(
    session: Session,
    address: str,
    count: int,
    format_name: str | None,
    compression: str | None,
) -> None:
    """Print the first records of a file, folder or glob (reads no further than it needs)."""
    _print_records(_files(session, address, format_name), format_name, compression, count)


@records.command(
    name="count",
    epilog=examples(
        "omnistorage records count s3://bucket/events.ndjson.zst",
        "omnistorage records count --json a.csv.gz b.tfrecord",
        "omnistorage records count s3://bucket/logs/   # every file below, and the total",
    ),
)
@click.argument("addresses", nargs=-1, required=True)
@_format_options
@output_options
@pass_session
def records_count(
    session: Session,
    addresses: tuple[str, ...],
    format_name: str | None,
    compression: str | None,
    output: Output,
) -> None:
    """Count the records of each file (every record is decoded and checked).

    A folder or a glob counts each of its record files; with more than one
    file a last line gives the total.
    """
    locations = [loc for address in addresses for loc in _files(session, address, format_name)]
    sizes = [loc.store.get_file_info(loc.path).size for loc in locations]
    total = None if any(size is None for size in sizes) else sum(s or 0 for s in sizes)
    results: list[dict[str, Any]] = []
    failed = 0
    with output.display(unit="records") as display:
        meter = Meter(display, files_total=None, bytes_total=total, phase="counting")
        for location in locations:
            meter.start_file(location.name)
            try:
                base = meter.bytes_done
                with _reader(location, format_name, compression) as reader:
                    while batch := reader.read_batch():
                        meter.files_done += len(batch)
                        meter.add(reader.bytes_read - (meter.bytes_done - base))
                    results.append(
                        {"address": location.text, "records": reader.records, "ok": True}
                    )
            except StorageError as exc:
                failed += 1
                results.append({"address": location.text, "error": str(exc), "ok": False})
                meter.file_failed(f"error: {location.text}: {describe(exc)}")
        meter.finish()
    if output.json:
        emit_json(results)
    else:
        for item in results:
            if item["ok"]:
                click.echo(f"{item['records']}\t{item['address']}")
        if len(results) > 1:
            total_records = sum(item.get("records", 0) for item in results)
            click.echo(f"{total_records}\ttotal")
    if failed:
        raise CommandFailed(f"{failed} of {len(locations)} file(s) could not be read")


@records.command(
    name="convert",
    epilog=examples(
        "omnistorage records convert in.csv.gz out.ndjson.zst",
        "omnistorage records convert s3://bucket/raw/events.ndjson backups:events.tfrecord.gz",
        "omnistorage records convert --to-format csv dump.jsonl.zst rows.txt",
    ),
)
@click.argument("source")
@click.argument("destination")
@click.option("--from-format", type=_FORMATS, default=None, help="Source format (default: key).")
@click.option("--from-compression", type=_CODECS, default=None, help="Source codec (default: key).")
@click.option("--to-format", type=_FORMATS, default=None, help="Target format (default: key).")
@click.option("--to-compression", type=_CODECS, default=None, help="Target codec (default: key).")
@click.option("--level", type=int, default=None, help="Compression level of the target codec.")
@click.option("-n", "--no-clobber", is_flag=True, help="Never replace an existing target.")
@output_options
@pass_session
def records_convert(
    session: Session,
    source: str,
    destination: str,
    from_format: str | None,
    from_compression: str | None,
    to_format: str | None,
    to_compression: str | None,
    level: int | None,
    no_clobber: bool,
    output: Output,
) -> None:
    """Convert a record file to another format or codec, from any store to any store.

    Streams with bounded memory; the target is published only when every
    record was converted (a bad record, an error or Ctrl-C publishes nothing).
    """
    src = _file(session, source)
    dst = session.destination(destination)
    if not dst.path or dst.folder_hint:
        raise click.UsageError(f"{dst.text}: the target must name a file")
    target_format = get_format(to_format) if to_format else format_for_key(dst.path)
    to_bytes = isinstance(target_format, LengthPrefixed)
    options: dict[str, Any] = {} if level is None else {"level": level}
    size = src.store.get_file_info(src.path).size
    with output.display(unit="records") as display:
        meter = Meter(display, files_total=None, bytes_total=size, phase="converting")
        meter.start_file(src.name)
        with _reader(src, from_format, from_compression) as reader:
            writer = open_writer(
                dst.store,
                dst.path,
                format=to_format,
                compression=to_compression,
                overwrite=not no_clobber,
                **options,
            )
            with writer:
                while batch := reader.read_batch():
                    for record in batch:
                        writer.write(_fit(record, to_bytes, meter.files_done, src.text))
                        meter.files_done += 1
                    meter.add(reader.bytes_read - meter.bytes_done)
                result = writer.close()
        meter.finish()
    document = {
        "source": src.text,
        "target": dst.text,
        "records": meter.files_done,
        "bytes_read": meter.bytes_done,
        "bytes_written": result.size,
        "seconds": round(meter.elapsed, 3),
    }
    if output.json:
        emit_json(document)
    else:
        output.say(
            f"converted {meter.files_done} record(s): {meter.bytes_done} bytes read, "
            f"{result.size} bytes written in {format_duration(meter.elapsed)}"
        )


def _fit(record: Any, to_bytes: bool, index: int, source: str) -> Any:
    """``record`` in the shape the target format takes (see the module docstring)."""
    is_bytes = isinstance(record, (bytes, bytearray, memoryview))
    if to_bytes:
        return bytes(record) if is_bytes else orjson.dumps(record)
    if not is_bytes:
        return record
    try:
        return orjson.loads(record)
    except orjson.JSONDecodeError as exc:
        raise DataError(
            f"{source}: record {index} is not JSON, so it cannot become an NDJSON or CSV "
            f"record ({exc})",
            op="convert",
        ) from None
