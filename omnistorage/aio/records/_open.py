"""``open_writer`` and ``open_reader`` over an AsyncStore: the same layer choice, option
routing and seal marking as :mod:`omnistorage.records._open`, with the async classes."""

from __future__ import annotations

from typing import Any

from omnistorage.aio._store import AsyncStore
from omnistorage.aio.records._reader import AsyncRecordReader
from omnistorage.aio.records._writer import AsyncRecordWriter, check_parallel
from omnistorage.compression import Codec
from omnistorage.formats import Format
from omnistorage.records._decoding import DEFAULT_READ_SIZE
from omnistorage.records._open import (
    READER_OPTIONS,
    WRITER_OPTIONS,
    is_marked_sealed,
    may_be_marked_sealed,
    record_writer_options,
    sealed_metadata,
)
from omnistorage.records._options import resolve_layers

__all__ = ["open_reader", "open_writer"]


def open_writer(
    store: AsyncStore,
    key: str,
    *,
    format: str | Format | None = None,
    compression: str | Codec | None = None,
    overwrite: bool = False,
    seal: bool = True,
    **options: Any,
) -> AsyncRecordWriter:
    """An :class:`AsyncRecordWriter` for the records of ``key`` in ``store``::

        async with open_writer(store, "exports/users.csv.gz") as out:
            await out.write({"id": 1, "name": "Ada"})

    Arguments, options, inference from the key and errors are those of
    :func:`omnistorage.records.open_writer` (``parallel=True`` needs zstd here). The
    configuration is checked now; the store is reached when the writer opens
    (``async with``, ``await`` or the first chunk).
    """
    layers = resolve_layers(key, format, compression, options, WRITER_OPTIONS)
    own = layers.options
    writer_options = record_writer_options(own, options)
    check_parallel(layers.codec, writer_options["parallel"])
    metadata = sealed_metadata(store, layers.codec, seal, own.get("metadata"))
    target = store.open_writer(
        key, overwrite=overwrite, content_type=own.get("content_type"), metadata=metadata
    )
    return AsyncRecordWriter(
        target, format=layers.format, codec=layers.codec, path=key, seal=seal, **writer_options
    )


def open_reader(
    store: AsyncStore,
    key: str,
    *,
    format: str | Format | None = None,
    compression: str | Codec | None = None,
    decode: bool = True,
    recover: bool = False,
    sealed: bool | None = None,
    **options: Any,
) -> AsyncRecordReader:
    """An :class:`AsyncRecordReader` over the records of ``key`` in ``store``::

        async with open_reader(store, "exports/users.csv.gz") as rows:
            async for row in rows:
                ...

    Arguments, options, the seal rule (``sealed=None`` requires the seal when the
    object's user metadata says it was sealed) and errors are those of
    :func:`omnistorage.records.open_reader`. Configuration errors raise now;
    ``NotFound`` when the reader opens.
    """
    layers = resolve_layers(key, format, compression, options, READER_OPTIONS)
    read_size = layers.options.get("read_size", DEFAULT_READ_SIZE)
    # Build the decoder before opening the stream, so configuration errors leak nothing.
    layers.format.decoder(decode=decode, recover=recover)
    check_seal = None
    if sealed is None and may_be_marked_sealed(store, layers.codec):

        async def check_seal() -> bool:
            return is_marked_sealed((await store.get_file_info(key)).metadata)

    return AsyncRecordReader(
        store.read(key),
        format=layers.format,
        codec=layers.codec,
        path=key,
        decode=decode,
        recover=recover,
        read_size=read_size,
        sealed=bool(sealed),
        check_seal=check_seal,
    )
