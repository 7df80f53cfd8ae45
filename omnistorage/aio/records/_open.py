"""``open_writer`` and ``open_reader`` over an AsyncStore: the same layer choice, option
routing and seal marking as :mod:`omnistorage.records._open`, with the async classes."""

from __future__ import annotations

from typing import Any

from omnistorage.aio._store import AsyncStore
from omnistorage.aio.records._reader import AsyncRecordReader
from omnistorage.aio.records._writer import AsyncRecordWriter, check_parallel
from omnistorage.compression import Codec
from omnistorage.formats import Format
from omnistorage.records._open import (
    is_marked_sealed,
    may_be_marked_sealed,
    reader_options,
    writer_plan,
)

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
    plan = writer_plan(store, key, format, compression, seal, options)
    check_parallel(plan.writer["codec"], plan.writer["parallel"])
    target = store.open_writer(
        key, overwrite=overwrite, content_type=plan.content_type, metadata=plan.metadata
    )
    return AsyncRecordWriter(target, **plan.writer)


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
    given = reader_options(key, format, compression, decode, recover, options)
    check_seal = None
    if sealed is None and may_be_marked_sealed(store, given["codec"]):

        async def check_seal() -> bool:
            return is_marked_sealed((await store.get_file_info(key)).metadata)

    given["sealed"] = bool(sealed)
    return AsyncRecordReader(store.read(key), check_seal=check_seal, **given)
