"""Query results as a stream of Arrow record batches, through SQLAlchemy.

The statement streams, ``batch_rows`` rows at a time: on PostgreSQL through a
server-side cursor (``DECLARE``/``FETCH``), on SQLite by the cursor's own
row-at-a-time stepping. So at most one batch of rows is held as Python
objects at a time, whatever the result size. The connection is held only while
the batches are consumed and is returned (its transaction rolled back) after.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, Engine, event
from sqlalchemy.sql import Executable

from omnistorage.backends.sql._types import PG_TEXT_TYPES, RowConverter, plan_columns

__all__ = ["Batches", "sqlalchemy_batches"]

Batches = tuple[pa.Schema, Iterator[pa.RecordBatch]]


@contextlib.contextmanager
def sqlalchemy_batches(
    engine: Engine,
    statement: Executable,
    params: Mapping[str, Any],
    overrides: Mapping[str, pa.DataType],
    batch_rows: int,
) -> Iterator[Batches]:
    """The result of ``statement`` as (schema, batches); consume the batches inside.

    SQL text runs on the DB-API cursor of the pooled connection (compiled by the
    dialect, so parameters are bound exactly as SQLAlchemy binds them) and its rows
    come as plain tuples; a typed construct (``select()``, ``text().columns()``) runs
    through SQLAlchemy so its result processors apply.
    """
    with engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            # Intervals as ISO 8601 text (months, days and time apart); LOCAL: this
            # transaction only, which ends (rolled back) when the connection returns.
            conn.exec_driver_sql("SET LOCAL intervalstyle = 'iso_8601'")
        declared = _declared_types(statement)
        rows = _typed_rows if declared is not None else _raw_rows
        with rows(conn, statement, params, batch_rows) as (names, description, fetch):
            plans = plan_columns(
                names,
                declared=declared,
                description=description if postgres else None,
                postgres=postgres,
                overrides=overrides,
            )
            converter = RowConverter(plans)
            first = converter.start(fetch(batch_rows))
            assert converter.schema is not None
            yield converter.schema, _batches(first, fetch, converter, batch_rows)


Fetch = Callable[[int], Sequence[Sequence[Any]]]
Rows = tuple[list[str], Any, Fetch]


@contextlib.contextmanager
def _typed_rows(
    conn: Connection, statement: Executable, params: Mapping[str, Any], batch_rows: int
) -> Iterator[Rows]:
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        event.listen(conn, "before_cursor_execute", _exact_text_loaders)
    streaming = conn.execution_options(stream_results=True, yield_per=batch_rows)
    result = streaming.execute(statement, dict(params))
    try:
        description = result.cursor.description if result.cursor is not None else None
        yield list(result.keys()), description, result.fetchmany
    finally:
        result.close()


@contextlib.contextmanager
def _raw_rows(
    conn: Connection, statement: Executable, params: Mapping[str, Any], batch_rows: int
) -> Iterator[Rows]:
    compiled: Any = statement.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
    values = compiled.construct_params(dict(params))
    args: Any = (
        tuple(values[name] for name in compiled.positiontup or ())
        if compiled.positional
        else values
    )
    fairy = conn.connection
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        driver = fairy.driver_connection
        assert driver is not None
        cursor = driver.cursor(name=f"omnistorage_{uuid.uuid4().hex}")  # server-side
        cursor.itersize = batch_rows
        _exact_text_loaders(conn, cursor, None, None, None, False)
    else:
        cursor = fairy.cursor()
    try:
        cursor.execute(compiled.string, args)
        names = [column[0] for column in cursor.description or ()]
        yield names, cursor.description, cursor.fetchmany
    finally:
        cursor.close()


def _batches(
    first: pa.RecordBatch, fetch: Fetch, converter: RowConverter, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    if first.num_rows:
        yield first
    else:
        return
    while rows := fetch(batch_rows):
        yield converter.convert(rows)


def _declared_types(statement: Executable) -> list[Any] | None:
    columns = getattr(statement, "selected_columns", None)
    if columns is None:
        return None
    return [column.type for column in columns]


def _exact_text_loaders(
    conn: Connection, cursor: Any, statement: Any, parameters: Any, context: Any, many: bool
) -> None:
    """Have psycopg hand over the exact text of json, jsonb, numeric, interval, timetz
    and money values (on this cursor only: its adapters are a copy-on-write child of
    the connection's, so the pooled connection is unchanged)."""
    adapters = getattr(cursor, "adapters", None)
    if adapters is None:
        return
    from psycopg.types.string import TextLoader

    for oid in PG_TEXT_TYPES.values():
        adapters.register_loader(oid, TextLoader)
