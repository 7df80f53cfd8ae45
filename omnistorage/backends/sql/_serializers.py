"""Arrow record batches to bytes: the :class:`ResultSerializer` protocol and the formats.

A serializer writes one query result, a schema and a stream of record batches, to
a binary sink, holding a bounded amount of it in memory. It checks the schema
first: a column the format cannot hold raises
:class:`~omnistorage.errors.DataError` before a row is written. The format is
chosen by the key's extension:

==================================  =================================================
``.parquet``                        Parquet (zstd), row groups of up to 128 Ki rows or
                                    32 MiB of Arrow data (as DuckDB writes them)
``.csv``                            CSV with a header (RFC 4180 quoting; NULL is an
                                    empty field, an empty string ``""``); no binary,
                                    list or struct columns
``.arrow``, ``.feather``            Arrow IPC file format (random access)
``.arrows``                         Arrow IPC stream format
``.ndjson``, ``.jsonl``             one JSON object per row; ``json`` columns embedded
                                    as JSON, decimals as JSON numbers with their exact
                                    digits, timestamps RFC 3339, binary as base64 text;
                                    NaN and Infinity raise ``DataError``
==================================  =================================================
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, BinaryIO, Protocol, runtime_checkable

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as paipc
import pyarrow.parquet as pq

from omnistorage.errors import DataError
from omnistorage.formats import NDJSONEncoder

__all__ = [
    "CSVSerializer",
    "DEFAULT_SERIALIZERS",
    "IPCSerializer",
    "NDJSONSerializer",
    "ParquetSerializer",
    "ResultSerializer",
]


@runtime_checkable
class ResultSerializer(Protocol):
    """Writes a query result (an Arrow schema and record batches) in one format.

    ``write`` must hold a bounded amount of the result in memory, raise
    :class:`~omnistorage.errors.DataError` naming the column when the format cannot
    hold one (before writing any row), and leave ``sink`` open.
    """

    @property
    def content_type(self) -> str:
        """The MIME type ``stat`` reports for results in this format."""

    def write(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch], sink: BinaryIO) -> None:
        """Write the whole result to ``sink``."""


def _storage_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with extension types (json, uuid) replaced by their storage types."""
    return pa.schema(
        [
            pa.field(f.name, f.type.storage_type, f.nullable)
            if isinstance(f.type, pa.ExtensionType)
            else f
            for f in schema
        ]
    )


def _to_storage(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    columns = [c.storage if isinstance(c, pa.ExtensionArray) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


@dataclass(frozen=True, slots=True)
class ParquetSerializer:
    """Parquet with ``compression`` (zstd), row groups of up to ``row_group_rows`` rows or
    ``row_group_bytes`` of Arrow data (whichever comes first: the memory a row group
    takes while it is assembled)."""

    compression: str = "zstd"
    row_group_rows: int = 1 << 17
    row_group_bytes: int = 32 << 20
    content_type: str = "application/vnd.apache.parquet"

    def write(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch], sink: BinaryIO) -> None:
        _check_parquet(schema)
        with pq.ParquetWriter(sink, schema, compression=self.compression) as writer:
            pending: list[pa.RecordBatch] = []
            rows = size = groups = 0
            for batch in batches:
                pending.append(batch)
                rows += batch.num_rows
                size += batch.nbytes
                if rows >= self.row_group_rows or size >= self.row_group_bytes:
                    writer.write_table(pa.Table.from_batches(pending, schema), rows)
                    pending, rows, size, groups = [], 0, 0, groups + 1
            if rows or not groups:
                writer.write_table(pa.Table.from_batches(pending, schema), max(rows, 1))


def _check_parquet(schema: pa.Schema) -> None:
    bad = []
    for field in schema:
        try:
            pq.ParquetWriter(io.BytesIO(), pa.schema([field])).close()
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            bad.append(f"{field.name!r} ({field.type})")
    if bad:
        raise DataError(
            f"Parquet cannot hold column(s) {', '.join(bad)}: convert them in the SQL "
            "(an interval to text or seconds) or choose .arrow"
        )


@dataclass(frozen=True, slots=True)
class CSVSerializer:
    """CSV with a header row, through pyarrow's writer (see the module docstring)."""

    content_type: str = "text/csv; charset=utf-8"

    def write(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch], sink: BinaryIO) -> None:
        storage = _storage_schema(schema)
        bad = [
            f"{f.name!r} ({t})"
            for f, t in zip(schema, storage.types, strict=True)
            if pa.types.is_nested(t)
            or pa.types.is_binary(t)
            or pa.types.is_large_binary(t)
            or (pa.types.is_fixed_size_binary(t) and f.type != pa.uuid())
        ]
        if bad:
            raise DataError(
                f"CSV cannot hold column(s) {', '.join(bad)}: convert them to text in the "
                "SQL (array_to_string, encode(..., 'base64')) or choose .parquet, .arrow or "
                ".ndjson"
            )
        text_schema = pa.schema(
            [pa.field(f.name, pa.string()) if f.type == pa.uuid() else f for f in storage]
        )
        with pacsv.CSVWriter(sink, text_schema) as writer:
            for batch in batches:
                writer.write_batch(_csv_batch(batch, schema, text_schema))


def _csv_batch(batch: pa.RecordBatch, schema: pa.Schema, text: pa.Schema) -> pa.RecordBatch:
    columns = []
    for field, column in zip(schema, batch.columns, strict=True):
        if field.type == pa.uuid():
            columns.append(
                pa.array([None if v is None else str(v) for v in column.to_pylist()], pa.string())
            )
        elif isinstance(column, pa.ExtensionArray):
            columns.append(column.storage)
        else:
            columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=text)


@dataclass(frozen=True, slots=True)
class IPCSerializer:
    """Arrow IPC: the file format (random access, ``.arrow``) or the stream format."""

    stream: bool = False
    content_type: str = "application/vnd.apache.arrow.file"

    def write(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch], sink: BinaryIO) -> None:
        opener = paipc.new_stream if self.stream else paipc.new_file
        with opener(sink, schema) as writer:
            for batch in batches:
                writer.write_batch(batch)


@dataclass(frozen=True, slots=True)
class NDJSONSerializer:
    """One JSON object per row, ``\\n``-terminated (see the module docstring)."""

    content_type: str = "application/x-ndjson"

    def write(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch], sink: BinaryIO) -> None:
        names = schema.names
        if len(set(names)) != len(names):
            repeated = sorted({n for n in names if names.count(n) > 1})
            raise DataError(
                f"NDJSON objects cannot hold the repeated column name(s) {repeated}: "
                "alias them in the SQL"
            )
        json_columns = [i for i, f in enumerate(schema) if f.type == pa.json_()]
        encoder = NDJSONEncoder(max_record_size=1 << 62, default=_json_default)
        for batch in batches:
            columns = [column.to_pylist() for column in batch.columns]
            for index in json_columns:
                columns[index] = [None if v is None else orjson.Fragment(v) for v in columns[index]]
            rows = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
            sink.write(encoder.encode_many(rows))


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.timedelta):
        return _iso_duration(value)
    if isinstance(value, pa.MonthDayNano) or type(value).__name__ == "MonthDayNano":
        months, days, nanos = value
        return {"months": months, "days": days, "nanoseconds": nanos}
    if hasattr(value, "hex") and type(value).__name__ == "UUID":
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _iso_duration(value: dt.timedelta) -> str:
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    return f"{sign}P{value.days}DT{value.seconds}.{value.microseconds:06d}S"


DEFAULT_SERIALIZERS: Mapping[str, ResultSerializer] = {
    "parquet": ParquetSerializer(),
    "csv": CSVSerializer(),
    "arrow": IPCSerializer(),
    "feather": IPCSerializer(),
    "arrows": IPCSerializer(stream=True, content_type="application/vnd.apache.arrow.stream"),
    "ndjson": NDJSONSerializer(),
    "jsonl": NDJSONSerializer(),
}
"""The built-in formats by key extension."""
