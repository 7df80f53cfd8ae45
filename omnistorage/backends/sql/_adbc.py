"""The ADBC fast path: query results straight from the wire into Arrow.

``pip install 'omnistorage[sql-adbc]'`` (``adbc-driver-sqlite``,
``adbc-driver-postgresql``). ADBC drivers build Arrow columns in C from the
database's own protocol (PostgreSQL's binary ``COPY``), with no Python object
per value. They connect on their own, outside SQLAlchemy's pool: one ADBC
connection per materialization, made from the engine's URL.

Memory stays bounded: a query without parameters streams through ``COPY``; a
query with bound parameters (a key pattern) runs as a server-side cursor
(``DECLARE … CURSOR FOR`` with the parameters bound, then ``FETCH FORWARD
batch_rows``), because ADBC would otherwise receive the whole result in one
piece. Batches are normalized to the type mapping of :mod:`._types` (constrained
``numeric`` as decimals, field metadata dropped), so the two paths agree on
PostgreSQL's common types; SQLite's untyped columns follow ADBC's own inference
(for instance, a column mixing integers and text becomes text).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa
from sqlalchemy import URL
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable

from omnistorage.backends.sql._sources import Batches
from omnistorage.backends.sql._types import normalize_table_types
from omnistorage.errors import ConfigurationError, DependencyMissing

__all__ = ["adbc_batches", "check_adbc"]

_DRIVERS = {"sqlite": "adbc_driver_sqlite.dbapi", "postgresql": "adbc_driver_postgresql.dbapi"}


def check_adbc(url: URL) -> None:
    """Raise unless ADBC can serve ``url``: a SQLite file or PostgreSQL, driver installed."""
    backend = url.get_backend_name()
    if backend not in _DRIVERS:
        raise ConfigurationError(
            f"fetch='adbc' supports sqlite and postgresql, not {backend!r}; use fetch='sqlalchemy'"
        )
    if backend == "sqlite" and url.database in (None, "", ":memory:"):
        raise ConfigurationError(
            "fetch='adbc' needs a SQLite file: an in-memory database is private to "
            "SQLAlchemy's connection"
        )
    _driver(backend)


def _driver(backend: str) -> Any:
    import importlib

    try:
        return importlib.import_module(_DRIVERS[backend])
    except ImportError as error:
        raise DependencyMissing(
            f"fetch='adbc' needs {_DRIVERS[backend].split('.')[0].replace('_', '-')} "
            f"({error.name or error}): pip install 'omnistorage[sql-adbc]'"
        ) from None


@contextlib.contextmanager
def adbc_batches(
    url: URL,
    statement: Executable,
    params: Mapping[str, Any],
    overrides: Mapping[str, pa.DataType],
    batch_rows: int,
) -> Iterator[Batches]:
    """The result of ``statement`` as (schema, batches) through ADBC."""
    backend = url.get_backend_name()
    driver = _driver(backend)
    if backend == "sqlite":
        compiled = statement.compile(dialect=sqlite.dialect(paramstyle="qmark"))  # type: ignore[attr-defined]
        conn = driver.connect(url.database)
    else:
        dialect = postgresql.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        conn = driver.connect(
            url.set(drivername="postgresql").render_as_string(hide_password=False)
        )
    values = compiled.construct_params(dict(params))
    positional = [values[name] for name in (compiled.positiontup or ())]
    try:
        with conn.cursor() as cursor:
            if backend == "postgresql" and positional:
                batches = _pg_cursor(cursor, compiled.string, positional, batch_rows)
            else:
                if backend == "sqlite":
                    cursor.adbc_statement.set_options(
                        **{"adbc.sqlite.query.batch_rows": str(batch_rows)}
                    )
                cursor.execute(compiled.string, parameters=positional or None)
                reader = cursor.fetch_record_batch()
                batches = _or_empty(iter(reader), reader.schema)
            head = normalize_table_types(next(batches), overrides)
            yield head.schema, _normalized(head, batches, overrides)
    finally:
        conn.rollback()
        conn.close()


def _or_empty(batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """``batches``, or one empty batch of ``schema`` when there are none."""
    first = next(batches, None)
    yield first if first is not None else pa.RecordBatch.from_pylist([], schema=schema)
    yield from batches


def _normalized(
    head: pa.RecordBatch, rest: Iterator[pa.RecordBatch], overrides: Mapping[str, pa.DataType]
) -> Iterator[pa.RecordBatch]:
    if head.num_rows:
        yield head
    for batch in rest:
        if batch.num_rows:
            yield normalize_table_types(batch, overrides)


def _pg_cursor(
    cursor: Any, sql: str, positional: list[Any], batch_rows: int
) -> Iterator[pa.RecordBatch]:
    name = f"omnistorage_{uuid.uuid4().hex}"
    cursor.adbc_statement.set_options(**{"adbc.postgresql.use_copy": "false"})
    cursor.execute(f"DECLARE {name} NO SCROLL CURSOR FOR {sql}", parameters=positional)
    first = True
    while True:
        cursor.execute(f"FETCH FORWARD {int(batch_rows)} FROM {name}")
        table = cursor.fetch_arrow_table()
        if table.num_rows == 0:
            if first:  # an empty result still has its schema
                yield pa.RecordBatch.from_pylist([], schema=table.schema)
            return
        first = False
        yield from table.to_batches()
