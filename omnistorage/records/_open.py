"""``open_writer`` and ``open_reader``: a record pipeline over a Store key."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from omnistorage.compression import Codec
from omnistorage.formats import Format
from omnistorage.records._options import resolve_layers
from omnistorage.records._reader import DEFAULT_READ_SIZE, RecordReader
from omnistorage.records._writer import (
    DEFAULT_BATCH_BYTES,
    DEFAULT_BATCH_RECORDS,
    DEFAULT_QUEUE_DEPTH,
    DEFAULT_WRITE_SIZE,
    RecordWriter,
)
from omnistorage.store import Store

__all__ = ["READER_OPTIONS", "WRITER_OPTIONS", "open_reader", "open_writer"]

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
        **options: each goes to the layer that accepts it. Format options:
            ``max_record_size``, ``fieldnames``, ``framing`` … Codec options:
            ``level``, ``threads`` (zstd worker threads), ``implementation``
            (gzip) … Writer options: ``parallel`` (compress off the calling
            thread; see :class:`RecordWriter`), ``batch_bytes`` (default 128 KiB),
            ``batch_records`` (4096), ``write_size`` (1 MiB), ``queue_depth``
            (4, parallel mode), and the store writer's ``content_type`` and
            ``metadata``.

    Raises:
        ConfigurationError: an unknown format, codec or option (the message
            names it), a key whose format cannot be inferred, a bad value.
        StorageError: the store refused to open the writer (``InvalidPath``,
            ``CapabilityNotSupported`` …).
    """
    layers = resolve_layers(key, format, compression, options, WRITER_OPTIONS)
    own: Mapping[str, Any] = layers.options
    metadata = own.get("metadata")
    target = store.open_writer(
        key,
        overwrite=overwrite,
        content_type=own.get("content_type"),
        metadata=metadata,
    )
    try:
        return RecordWriter(
            target,
            format=layers.format,
            codec=layers.codec,
            path=key,
            parallel=own.get("parallel", False),
            batch_bytes=own.get("batch_bytes", DEFAULT_BATCH_BYTES),
            batch_records=own.get("batch_records", DEFAULT_BATCH_RECORDS),
            write_size=own.get("write_size", DEFAULT_WRITE_SIZE),
            queue_depth=own.get("queue_depth", DEFAULT_QUEUE_DEPTH),
        )
    except BaseException:
        with contextlib.suppress(Exception):  # the configuration error is the one to report
            target.abort()
        raise


def open_reader(
    store: Store,
    key: str,
    *,
    format: str | Format | None = None,
    compression: str | Codec | None = None,
    decode: bool = True,
    recover: bool = False,
    **options: Any,
) -> RecordReader:
    """Open a :class:`RecordReader` over the records of ``key`` in ``store``.

    Format and codec are inferred from ``key`` unless given, as in
    :func:`open_writer`. ``decode=False`` yields each record's raw bytes;
    ``recover=True`` skips damaged records (see :class:`RecordReader`).
    ``options`` go to the format (``max_record_size``, ``fieldnames``,
    ``framing`` …), the codec (``implementation`` …) or the reader
    (``read_size``: compressed bytes per read, default 128 KiB).

    Raises:
        ConfigurationError: as :func:`open_writer`; also ``recover=True``
            with a format that cannot resynchronise (CSV, unchecked framings).
        NotFound: no object at ``key`` (here or at the first read).
    """
    layers = resolve_layers(key, format, compression, options, READER_OPTIONS)
    read_size = layers.options.get("read_size", DEFAULT_READ_SIZE)
    # Build the decoder before opening the stream, so configuration errors leak nothing.
    layers.format.decoder(decode=decode, recover=recover)
    source = store.read(key)
    try:
        return RecordReader(
            source,
            format=layers.format,
            codec=layers.codec,
            path=key,
            decode=decode,
            recover=recover,
            read_size=read_size,
        )
    except BaseException:
        source.close()
        raise
