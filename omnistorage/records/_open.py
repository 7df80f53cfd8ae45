"""``open_writer`` and ``open_reader``: a record pipeline over a Store key."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, NamedTuple

from omnistorage._kernel import StoreKernel
from omnistorage.capabilities import Capability
from omnistorage.compression import Codec, can_seal
from omnistorage.formats import Format
from omnistorage.records._decoding import DEFAULT_READ_SIZE, DecodingOptions
from omnistorage.records._options import resolve_layers
from omnistorage.records._reader import RecordReader
from omnistorage.records._tuning import (
    DEFAULT_BATCH_BYTES,
    DEFAULT_BATCH_RECORDS,
    DEFAULT_QUEUE_DEPTH,
    DEFAULT_WRITE_SIZE,
)
from omnistorage.records._writer import RecordWriter
from omnistorage.store import Store

__all__ = [
    "READER_OPTIONS",
    "SEALED_KEY",
    "WRITER_OPTIONS",
    "is_marked_sealed",
    "may_be_marked_sealed",
    "open_reader",
    "open_writer",
    "reader_options",
    "record_writer_options",
    "sealed_metadata",
    "writer_plan",
]

#: Options of :func:`open_writer` besides those of the format and the codec.
WRITER_OPTIONS = frozenset(
    {
        "batch_bytes",
        "batch_records",
        "content_type",
        "metadata",
        "parallel",
        "queue_depth",
        "write_size",
    }
)

#: Options of :func:`open_reader` besides those of the format and the codec.
READER_OPTIONS = frozenset({"read_size"})


def open_writer(
    store: Store,
    key: str,
    *,
    format: str | Format | None = None,
    compression: str | Codec | None = None,
    overwrite: bool = False,
    seal: bool = True,
    **options: Any,
) -> RecordWriter:
    """Open a :class:`RecordWriter` that writes the records of ``key`` in ``store``.

    Args:
        store: where to write. The object is published on ``close()``,
            atomically on backends with ``ATOMIC_WRITE``; on streaming
            backends (``channel``) a reader sees it as it is written.
        key: the object's key. Unless given, the format and the codec are
            inferred from it: ``events.ndjson.zst`` → NDJSON + zstd,
            ``rows.csv.gz`` → CSV + gzip, ``blobs.tfrecord`` → TFRecord,
            ``x.lp`` → length-prefixed, ``a.jsonl`` → NDJSON uncompressed.
        format: a format name (``"ndjson"``, ``"csv"``, ``"tfrecord"``,
            ``"length-prefixed"``) or a configured :class:`~omnistorage.formats.Format`;
            overrides the key's suffix.
        compression: a codec name (``"zstd"``, ``"gzip"``, ``"snappy"``,
            ``"none"``) or a configured :class:`~omnistorage.compression.Codec`;
            overrides the key's suffix.
        overwrite: ``False`` (default): create-only, publishing fails with
            ``AlreadyExists`` if the key exists.
        seal: end a gzip, zstd or snappy object with a seal (see
            :class:`RecordWriter`) and, where the store keeps user metadata,
            mark it ``omnistorage_sealed: 1`` so readers require the seal.
        **options: each goes to the layer that accepts it. Format options:
            ``max_record_size``, ``fieldnames``, ``framing`` … Codec options:
            ``level``, ``threads`` (zstd worker threads), ``implementation``
            (gzip) … Writer options: ``parallel`` (compress off the calling
            thread; default: zstd where two or more CPUs are usable, unless
            ``threads=0`` is given; see :class:`RecordWriter`), ``batch_bytes`` (default 128 KiB),
            ``batch_records`` (4096), ``write_size`` (1 MiB), ``queue_depth``
            (4, parallel mode), and the store writer's ``content_type`` and
            ``metadata``.

    Raises:
        ConfigurationError: an unknown format, codec or option (the message
            names it), a key whose format cannot be inferred, a bad value.
        StorageError: the store refused to open the writer (``InvalidPath``,
            ``CapabilityNotSupported`` …).
    """
    plan = writer_plan(store, key, format, compression, seal, options)
    target = store.open_writer(
        key, overwrite=overwrite, content_type=plan.content_type, metadata=plan.metadata
    )
    try:
        return RecordWriter(target, **plan.writer)
    except BaseException:
        with contextlib.suppress(Exception):  # the configuration error is the one to report
            target.abort()
        raise


class WriterPlan(NamedTuple):
    """What ``open_writer`` (sync or async) decides before it opens the store writer."""

    writer: dict[str, Any]
    """The record writer's keyword arguments (format, codec, path, seal, tuning)."""
    content_type: str | None
    metadata: Mapping[str, str] | None
    """The caller's user metadata, plus the sealed mark where the store keeps it."""


def writer_plan(
    store: StoreKernel[Any],
    key: str,
    format: str | Format | None,
    compression: str | Codec | None,
    seal: bool,
    options: Mapping[str, Any],
) -> WriterPlan:
    """The layers chosen for ``key`` and every option routed (no I/O): configuration
    errors raise here, before a store writer is opened."""
    layers = resolve_layers(key, format, compression, options, WRITER_OPTIONS)
    own: Mapping[str, Any] = layers.options
    writer = {
        "format": layers.format,
        "codec": layers.codec,
        "path": key,
        "seal": seal,
        **record_writer_options(own, options),
    }
    metadata = sealed_metadata(store, layers.codec, seal, own.get("metadata"))
    return WriterPlan(writer, own.get("content_type"), metadata)


def reader_options(
    key: str,
    format: str | Format | None,
    compression: str | Codec | None,
    decode: bool,
    recover: bool,
    options: Mapping[str, Any],
) -> DecodingOptions:
    """A record reader's options for ``key`` (no I/O; ``sealed`` left to the caller).
    The decoder is built once here, so configuration errors raise before a stream
    opens."""
    layers = resolve_layers(key, format, compression, options, READER_OPTIONS)
    layers.format.decoder(decode=decode, recover=recover)
    return DecodingOptions(
        format=layers.format,
        codec=layers.codec,
        path=key,
        decode=decode,
        recover=recover,
        read_size=layers.options.get("read_size", DEFAULT_READ_SIZE),
    )


def record_writer_options(own: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`RecordWriter` options among a records function's own ``options``,
    with their defaults. ``given`` is every option the caller passed: an explicit
    ``threads=0`` (compress on the calling thread) turns the default parallel mode off."""
    serial = given.get("threads") == 0 and not isinstance(given.get("threads"), bool)
    return {
        "parallel": own.get("parallel", False if serial else None),
        "batch_bytes": own.get("batch_bytes", DEFAULT_BATCH_BYTES),
        "batch_records": own.get("batch_records", DEFAULT_BATCH_RECORDS),
        "write_size": own.get("write_size", DEFAULT_WRITE_SIZE),
        "queue_depth": own.get("queue_depth", DEFAULT_QUEUE_DEPTH),
    }


SEALED_KEY = "omnistorage_sealed"
"""User metadata that marks an object its writer sealed (value ``"1"``). A name every
backend with ``USER_METADATA`` accepts: Azure takes only C# identifiers (no ``-``)."""
_OLD_SEALED_KEY = "omnistorage-sealed"
"""The mark's name before it had to suit Azure; objects written then still carry it."""


def sealed_metadata(
    store: StoreKernel[Any], codec: Codec, seal: bool, metadata: Mapping[str, str] | None
) -> Mapping[str, str] | None:
    """``metadata`` plus the sealed mark, where the store (sync or async) keeps user
    metadata."""
    if not (seal and can_seal(codec.name) and store.supports(Capability.USER_METADATA)):
        return metadata
    return {**(metadata or {}), SEALED_KEY: "1"}


def open_reader(
    store: Store,
    key: str,
    *,
    format: str | Format | None = None,
    compression: str | Codec | None = None,
    decode: bool = True,
    recover: bool = False,
    sealed: bool | None = None,
    **options: Any,
) -> RecordReader:
    """Open a :class:`RecordReader` over the records of ``key`` in ``store``.

    Format and codec are inferred from ``key`` unless given, as in
    :func:`open_writer`. ``decode=False`` yields each record's raw bytes;
    ``recover=True`` skips damaged records (see :class:`RecordReader`).
    ``options`` go to the format (``max_record_size``, ``fieldnames``,
    ``framing`` …), the codec (``implementation`` …) or the reader
    (``read_size``: compressed bytes per read, default 128 KiB).

    ``sealed``: ``True`` requires the seal :func:`open_writer` appends (a
    cut at any byte then raises ``TruncatedDataError``, a record count
    that disagrees ``CorruptRecordError``); ``False`` does not require it;
    ``None`` (default) requires it when the object's user metadata says it
    was sealed (stores with ``USER_METADATA``), else not.

    Raises:
        ConfigurationError: as :func:`open_writer`; also ``recover=True``
            with a format that cannot resynchronise (CSV, unchecked framings).
        NotFound: no object at ``key`` (here or at the first read).
    """
    given = reader_options(key, format, compression, decode, recover, options)
    given["sealed"] = _marked_sealed(store, key, given["codec"]) if sealed is None else sealed
    source = store.read(key)
    try:
        return RecordReader(source, **given)
    except BaseException:
        source.close()
        raise


def may_be_marked_sealed(store: StoreKernel[Any], codec: Codec) -> bool:
    """Whether an object of ``codec`` in ``store`` (sync or async) can carry the sealed
    mark, so that its user metadata is worth looking at."""
    return can_seal(codec.name) and store.supports(Capability.USER_METADATA)


def is_marked_sealed(metadata: Mapping[str, str]) -> bool:
    """Whether an object's user metadata carries the sealed mark."""
    return metadata.get(SEALED_KEY) == "1" or metadata.get(_OLD_SEALED_KEY) == "1"


def _marked_sealed(store: Store, key: str, codec: Codec) -> bool:
    if not may_be_marked_sealed(store, codec):
        return False
    return is_marked_sealed(store.get_file_info(key).metadata)
