"""SQLQueryBackend: a read-only store whose files are query results, made on read.

>>> import sqlite3, tempfile
>>> from omnistorage import Store
>>> path = tempfile.mkdtemp() + "/shop.db"
>>> with sqlite3.connect(path) as db:
...     _ = db.execute("CREATE TABLE sales (year INTEGER, amount REAL)")
...     _ = db.execute("INSERT INTO sales VALUES (2023, 1.5), (2024, 2.5), (2024, 4.0)")
>>> store = Store(SQLQueryBackend(f"sqlite:///{path}", queries={
...     "sales/{year:int}.csv": {
...         "sql": "SELECT year, amount FROM sales WHERE year = :year",
...         "keys": "SELECT DISTINCT year FROM sales",
...     },
... }))
>>> print(store.read_text("sales/2024.csv"), end="")
"year","amount"
2024,2.5
2024,4
>>> sorted(info.path for info in store.list_files("sales"))
['sales/2023.csv', 'sales/2024.csv']

How a key resolves (``Store.resolve`` shows each step):

1. **Explicit mappings** (``queries=``): an exact key, else the first key pattern
   that matches, in the order given. Placeholder values become bound parameters,
   never SQL text.
2. Only with ``strict=False``: ``[schema/]name.ext`` names a **view**, then (the
   *convention*) a **table**, and reads ``SELECT * FROM [schema.]name``. The name
   must be one the database lists; it is quoted as an identifier, never spliced.

A pattern's ``keys`` query lists its keys. A row whose values make no key of the
pattern (a value holding ``/`` such as ``../../etc`` or ``a/b``, an empty value, a
non-canonical integer) is never listed: it is logged and passed on as a
:class:`~omnistorage.models.SkippedEntry`, so the listing counts it
(``invalid_count``) like any name outside the key grammar.

   .. warning::
      Convention mode exposes every table the database user can read to anyone
      who can name a key of the Store. Use it only with trusted callers, or connect
      as a database user that may read only what the Store should serve.
      ``fallbacks=["views"]`` limits it to views.

A read runs the query, streams its rows as Arrow record batches (a server-side
cursor, ``batch_rows`` rows at a time) through the key's format serializer into a
temporary file that stays in memory up to ``spool_memory`` bytes and then goes to
disk. Memory stays bounded by one batch and one Parquet row group, whatever the
result size. Every open reader materializes the result once: it is **one version
by construction** (``PINNED_READ``), even while the tables change underneath.

``stat`` does not run the query: ``ObjectInfo.size`` is ``None`` (unknown until
materialized) and ``modified`` is the mapping's ``modified`` (or ``None``).
Capabilities: ``READ``, ``LIST``, ``METADATA``, ``PINNED_READ``. Writes, deletes,
copies and moves raise ``CapabilityNotSupported`` before any I/O (and ``PermissionError``
when the driver itself is asked: :class:`~omnistorage.driver.ReadOnlyBackend`).
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any, BinaryIO, Literal

import pyarrow as pa
from sqlalchemy import Engine, inspect, literal_column, select, table

from omnistorage.backends.sql._adbc import adbc_batches, check_adbc
from omnistorage.backends.sql._base import SQLEngineBackend, check_database_url
from omnistorage.backends.sql._mapping import (
    QueryMapping,
    QuerySpec,
    Resolved,
    extension_of,
    parse_mapping,
    statement,
)
from omnistorage.backends.sql._serializers import DEFAULT_SERIALIZERS, ResultSerializer
from omnistorage.backends.sql._sources import sqlalchemy_batches
from omnistorage.backends.sql._spool import Spool, SpoolPinned, SpoolReader
from omnistorage.backends.sql._types import parse_arrow_type
from omnistorage.capabilities import Capability, Features
from omnistorage.driver import PinnedReader, ReadOnlyBackend
from omnistorage.errors import ConfigurationError
from omnistorage.models import Location, ObjectInfo, SkippedEntry
from omnistorage.options import (
    OptionSchema,
    anything,
    arguments,
    flag,
    integer,
    path,
    text,
    texts,
)
from omnistorage.options import mapping as mapping_option

__all__ = ["SQLQueryBackend"]

log = logging.getLogger("omnistorage.sql")

_FEATURES = Features.of(
    [Capability.READ, Capability.LIST, Capability.METADATA, Capability.PINNED_READ]
)
_FALLBACKS = ("views", "tables")
_FETCH = ("sqlalchemy", "adbc")


def _check_more(options: Mapping[str, object]) -> None:
    check_database_url("sql-query", options)
    known = {k: options[k] for k in _Settings.FIELDS if k in options}
    _Settings.check(**known)  # type: ignore[arg-type]  # the mappings, fallbacks, formats


OPTIONS = OptionSchema(
    "sql-query",
    text("url", nullable=True, secret=True, example="sqlite://"),
    anything("engine", example=object()),
    mapping_option("queries", nullable=True, example={"totals.csv": "SELECT 1 AS one"}),
    flag("strict"),
    texts("fallbacks", nullable=True, example=["views"]),
    text("fallback_format"),
    text("fetch", choices=_FETCH),
    integer("batch_rows", ge=1),
    integer("spool_memory", ge=0, unit="bytes"),
    path("spool_dir", nullable=True, example="/tmp"),
    mapping_option("serializers", nullable=True, example={}),
    exactly_one=[("url", "engine")],
    check=_check_more,
)
"""The options of :class:`SQLQueryBackend`, checked without connecting."""


class SQLQueryBackend(ReadOnlyBackend, SQLEngineBackend):
    """Read-only: keys map to queries whose results are served as files (see the module
    docstring).

    Args:
        url: a SQLAlchemy URL; the backend owns (and on ``close`` disposes) the engine.
        engine: an ``Engine`` to borrow instead (its pool stays its owner's).
        queries: mapping key or key pattern → SQL text, a table/dict with ``sql``
            (and ``keys``, ``types``, ``modified``), or a :class:`QuerySpec`.
        strict: only ``queries`` resolve keys (the default). ``False`` adds the view
            and table fallbacks; read the module docstring's warning first.
        fallbacks: with ``strict=False``, which fallbacks in which order
            (default ``["views", "tables"]``).
        fallback_format: the extension fallback objects are listed with.
        fetch: ``"sqlalchemy"`` (rows through the DB-API driver, the type mapping of
            :mod:`._types`) or ``"adbc"`` (Arrow straight from the wire; see ``_adbc``).
        batch_rows: rows per fetch and per Arrow record batch.
        spool_memory: bytes of a result kept in memory before it spools to disk.
        spool_dir: where spooled results go (default: the system's temp folder).
        serializers: extra or replacement formats by extension
            (``{"tsv": MyTSV()}``), each a :class:`ResultSerializer`.

    Raises:
        ConfigurationError: a bad mapping (see :func:`parse_mapping`), option or
            option combination, before anything connects.
    """

    name = "sql-query"
    options_schema = OPTIONS
    may_declare = _FEATURES.capabilities

    def __init__(
        self,
        url: str | None = None,
        *,
        engine: Engine | None = None,
        queries: Mapping[str, Any] | None = None,
        strict: bool = True,
        fallbacks: Sequence[str] | None = None,
        fallback_format: str = "parquet",
        fetch: Literal["sqlalchemy", "adbc"] = "sqlalchemy",
        batch_rows: int = 10_000,
        spool_memory: int = 16 << 20,
        spool_dir: str | None = None,
        serializers: Mapping[str, ResultSerializer] | None = None,
    ) -> None:
        self.check_config(arguments(locals()))
        settings = _Settings.check(
            queries=queries,
            strict=strict,
            fallbacks=fallbacks,
            fallback_format=fallback_format,
            fetch=fetch,
            batch_rows=batch_rows,
            spool_memory=spool_memory,
            serializers=serializers,
        )
        super().__init__(url, engine, sqlite_pragmas=False)
        if settings.fetch == "adbc":
            try:
                check_adbc(self._engine.url)
            except BaseException:
                self.close()
                raise
        self._settings = settings
        self._spool_dir = spool_dir

    def __repr__(self) -> str:
        return f"SQLQueryBackend({self._shown_url()!r}, queries={len(self._settings.mappings)})"

    def features(self) -> Features:
        return _FEATURES

    def native_path(self, key: str) -> str:
        return f"{self._shown_url()}#query/{key}"

    def locations(self) -> tuple[Location, ...]:
        # Its keys are this backend's mappings: another query backend on the same
        # database is another namespace, so the handle is the place.
        return (Location("sql-query", f"{self._shown_url()}#instance:{id(self):x}"),)

    def key_from_native(self, native: str) -> str | None:
        _, sep, key = native.partition("#query/")
        return key if sep else None

    # ------------------------------------------------------------ resolution

    def resolve_key(self, key: str) -> Resolved | None:
        """What ``key`` resolves to, or ``None`` (no mapping, or a pattern key that its
        ``keys`` query does not list). Runs no query except ``keys`` and, with
        fallbacks, the database's catalog."""
        settings = self._settings
        found = settings.exact.get(key)
        if found is not None:
            return self._resolved(key, found, "explicit", {})
        for mapping in settings.patterns:
            assert mapping.pattern is not None
            values = mapping.pattern.match(key)
            if values is None:
                continue
            if mapping.spec.keys is not None:
                listed = self._pattern_keys(mapping)
                try:
                    if not any(candidate == key for candidate in listed):  # never a skipped
                        return None
                finally:
                    listed.close()  # returns its connection at once
            return self._resolved(key, mapping, "pattern", values)
        if not settings.strict:
            return self._fallback(key)
        return None

    def _resolved(
        self, key: str, mapping: QueryMapping, source: str, params: Mapping[str, Any]
    ) -> Resolved:
        return Resolved(
            key,
            source,
            statement(mapping.spec.sql),
            params,
            mapping.extension,
            mapping.spec,
            mapping.key,
        )

    def _fallback(self, key: str) -> Resolved | None:
        extension = extension_of(key)
        settings = self._settings
        if extension not in settings.serializers:
            return None
        parts = key[: -len(extension) - 1].split("/")
        if len(parts) > 2:
            return None
        schema, name = (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        catalog = inspect(self._engine)
        if schema is not None and schema not in catalog.get_schema_names():
            return None
        for kind in settings.fallbacks:
            names = (
                catalog.get_view_names(schema=schema)
                if kind == "views"
                else catalog.get_table_names(schema=schema)
            )
            if name in names:
                query: Any = select(literal_column("*")).select_from(table(name, schema=schema))
                qualified = f"{schema}.{name}" if schema else name
                spec = QuerySpec(sql=query)
                return Resolved(key, kind[:-1], query, {}, extension, spec, qualified)
        return None

    def resolution_steps(self, key: str) -> tuple[str, ...]:
        resolved = self.resolve_key(key)
        if resolved is None:
            mode = "strict: explicit mappings only" if self._settings.strict else "no view or table"
            return (f"no mapping resolves {key!r} ({mode})",)
        steps = [
            f"source: {resolved.source} {resolved.mapping!r}",
            f"query: {resolved.sql}",
        ]
        if resolved.params:
            steps.append(f"parameters (bound): {dict(resolved.params)!r}")
        serializer = self._settings.serializers[resolved.extension]
        steps.append(f"format: {resolved.extension} ({type(serializer).__name__})")
        steps.append(f"fetch: {self._settings.fetch}")
        return tuple(steps)

    def _pattern_keys(self, mapping: QueryMapping) -> Generator[str | SkippedEntry, None, None]:
        """The keys the mapping's ``keys`` query lists, in its order; a row whose values
        make no key of the pattern (a value holding ``/``, such as ``../../etc`` or
        ``a/b``, an empty one, a non-canonical integer) is logged and yielded as a
        :class:`~omnistorage.models.SkippedEntry` naming what it would have made, so the
        Store counts it (``invalid_count``) instead of the listing losing it silently."""
        assert mapping.pattern is not None
        assert mapping.spec.keys is not None
        pattern = mapping.pattern
        with self._engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=1000).execute(
                statement(mapping.spec.keys)
            )
            columns = list(result.keys())
            missing = [name for name in pattern.names if name not in columns]
            if missing:
                raise ValueError(
                    f"the 'keys' query of {mapping.key!r} returns columns {columns}, "
                    f"not the placeholders {missing}"
                )
            for row in result.mappings():
                values = dict(row)
                key = pattern.format(values)
                if key is None:
                    named = pattern.render(values)
                    log.warning(
                        "sql-query: %r: keys row %r does not make a key of the pattern (%r)",
                        mapping.key,
                        values,
                        named,
                    )
                    reason = f"a row of the keys query of {mapping.key!r} makes no key"
                    yield SkippedEntry(named, size=None, reason=reason)
                    continue
                yield key

    # ------------------------------------------------------------ reads

    def _materialize(self, key: str) -> Spool:
        resolved = self.resolve_key(key)
        if resolved is None:
            raise FileNotFoundError(f"no query is mapped to {key!r}")
        settings = self._settings
        serializer = settings.serializers[resolved.extension]
        overrides = settings.overrides.get(resolved.mapping, {})
        spool = Spool(settings.spool_memory, self._spool_dir)
        try:
            if settings.fetch == "adbc":
                source = adbc_batches(
                    self._engine.url,
                    resolved.statement,
                    resolved.params,
                    overrides,
                    settings.batch_rows,
                )
            else:
                source = sqlalchemy_batches(
                    self._engine,
                    resolved.statement,
                    resolved.params,
                    overrides,
                    settings.batch_rows,
                )
            with source as (schema, batches):
                serializer.write(schema, batches, spool.sink())  # type: ignore[arg-type]
            spool.finish()
        except BaseException:
            spool.close()
            raise
        return spool

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        spool = self._materialize(key)
        end = spool.size if length is None else min(spool.size, offset + length)
        return SpoolReader(spool, min(offset, spool.size), end)  # type: ignore[return-value]

    def open_pinned(self, key: str) -> PinnedReader:
        return SpoolPinned(self._materialize(key))

    def exists(self, key: str) -> bool:
        return self.resolve_key(key) is not None

    def stat(self, key: str) -> ObjectInfo:
        resolved = self.resolve_key(key)
        if resolved is None:
            raise FileNotFoundError(f"no query is mapped to {key!r}")
        return ObjectInfo(
            path=key,
            size=None,
            modified=resolved.spec.modified,
            content_type=self._settings.serializers[resolved.extension].content_type,
        )

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        listed: dict[str, ObjectInfo] = {}
        skipped: list[SkippedEntry] = []
        for key, info in self._all_keys():
            if not key.startswith(prefix):
                continue
            if isinstance(info, SkippedEntry):
                if recursive or "/" not in key[len(prefix) :]:
                    skipped.append(info)
            elif key not in listed:
                listed[key] = info
        yield from skipped
        folders: set[str] = set()
        for key in sorted(listed):
            rest = key[len(prefix) :]
            if not recursive and "/" in rest:
                folder = prefix + rest.split("/", 1)[0]
                if folder not in folders:
                    folders.add(folder)
                    yield ObjectInfo(path=folder, is_dir=True)
                continue
            yield listed[key]

    def _all_keys(self) -> Iterator[tuple[str, ObjectInfo]]:
        settings = self._settings
        for mapping in settings.mappings:
            content_type = settings.serializers[mapping.extension].content_type
            if mapping.exact is not None:
                keys: Iterator[str | SkippedEntry] = iter((mapping.exact,))
            elif mapping.spec.keys is not None:
                keys = self._pattern_keys(mapping)
            else:
                continue
            for key in keys:
                if isinstance(key, SkippedEntry):
                    yield key.path, key
                else:
                    info = ObjectInfo(key, None, mapping.spec.modified, content_type=content_type)
                    yield key, info
        if not settings.strict:
            catalog = inspect(self._engine)
            content_type = settings.serializers[settings.fallback_format].content_type
            for kind in settings.fallbacks:
                names = catalog.get_view_names() if kind == "views" else catalog.get_table_names()
                for name in names:
                    key = f"{name}.{settings.fallback_format}"
                    yield key, ObjectInfo(key, None, None, content_type=content_type)


class _Settings:
    """The checked options (no I/O), shared by the constructor and ``check_config``."""

    FIELDS = (
        "queries",
        "strict",
        "fallbacks",
        "fallback_format",
        "fetch",
        "batch_rows",
        "spool_memory",
        "serializers",
    )

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    mappings: tuple[QueryMapping, ...]
    exact: dict[str, QueryMapping]
    patterns: tuple[QueryMapping, ...]
    overrides: dict[str, dict[str, pa.DataType]]
    strict: bool
    fallbacks: tuple[str, ...]
    fallback_format: str
    fetch: str
    batch_rows: int
    spool_memory: int
    serializers: dict[str, ResultSerializer]

    @classmethod
    def check(
        cls,
        *,
        queries: Mapping[str, Any] | None = None,
        strict: bool = True,
        fallbacks: Sequence[str] | None = None,
        fallback_format: str = "parquet",
        fetch: str = "sqlalchemy",
        batch_rows: int = 10_000,
        spool_memory: int = 16 << 20,
        serializers: Mapping[str, ResultSerializer] | None = None,
    ) -> _Settings:
        formats = dict(DEFAULT_SERIALIZERS)
        for extension, serializer in (serializers or {}).items():
            if not isinstance(serializer, ResultSerializer) or not isinstance(extension, str):
                raise ConfigurationError(
                    f"serializers[{extension!r}] must be a ResultSerializer "
                    "(content_type and write(schema, batches, sink))"
                )
            formats[extension.lower().lstrip(".")] = serializer
        mappings = parse_mapping(queries or {}, frozenset(formats))
        overrides: dict[str, dict[str, pa.DataType]] = {}
        for mapping in mappings:
            overrides[mapping.key] = {
                column: parse_arrow_type(kind, where=f"query mapping {mapping.key!r} types")
                for column, kind in mapping.spec.types.items()
            }
        if not isinstance(strict, bool):
            raise ConfigurationError("strict must be true or false")
        if fallbacks is not None and strict:
            raise ConfigurationError("fallbacks take effect only with strict=False")
        chosen = tuple(fallbacks) if fallbacks is not None else _FALLBACKS
        if (
            not chosen
            or any(f not in _FALLBACKS for f in chosen)
            or len(set(chosen)) != len(chosen)
        ):
            raise ConfigurationError(f"fallbacks must be some of {list(_FALLBACKS)}, each once")
        if fallback_format not in formats:
            raise ConfigurationError(
                f"fallback_format {fallback_format!r} is not a known format ({sorted(formats)})"
            )
        if fetch not in _FETCH:
            raise ConfigurationError(f"fetch must be one of {list(_FETCH)}, not {fetch!r}")
        for option, value, least in (
            ("batch_rows", batch_rows, 1),
            ("spool_memory", spool_memory, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ConfigurationError(f"{option} must be an integer >= {least}")
        exact = {m.exact: m for m in mappings if m.exact is not None}
        return cls(
            mappings=mappings,
            exact=exact,
            patterns=tuple(m for m in mappings if m.pattern is not None),
            overrides=overrides,
            strict=strict,
            fallbacks=chosen,
            fallback_format=fallback_format,
            fetch=fetch,
            batch_rows=batch_rows,
            spool_memory=spool_memory,
            serializers=formats,
        )
