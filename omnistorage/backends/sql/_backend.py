"""SQLBlobBackend: objects in a SQL database (SQLAlchemy 2 Core; SQLite, PostgreSQL).

Two layouts:

- **Chunked** (the default, tables created on first use): objects of any size
  stream both ways with bounded memory, published in one transaction, pinned
  reads, crash leftovers for ``cleanup`` (see ``_chunked``).
- **Single-row** (``table="name"``): the seed's one-row-per-object schema, for an
  existing table (it is never created), with optional columns found by
  introspection and a ``max_blob_size`` guard (see ``_single``).

Engines: given a URL the backend owns the engine (disposed on ``close``); given an
``Engine`` it borrows it. ``Store.child()`` stores share the backend and so the
engine. SQLite connections of an owned engine run in WAL mode with
``synchronous=NORMAL`` and a 30 s busy timeout, and reads use ``blobopen``.
``Store.resolve`` shows the table and the key.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, BinaryIO

from sqlalchemy import Engine

from omnistorage.backends.sql._base import SQLEngineBackend, check_database_url
from omnistorage.backends.sql._chunked import FEATURES as CHUNKED_FEATURES
from omnistorage.backends.sql._chunked import ChunkedLayout
from omnistorage.backends.sql._schema import Tables
from omnistorage.backends.sql._single import SingleRowLayout
from omnistorage.backends.sql._staged import abort_staged, publish_staged
from omnistorage.capabilities import Features
from omnistorage.driver import PinnedReader, WriteOptions, Writer
from omnistorage.errors import ConfigurationError, StorageError, map_error
from omnistorage.models import Leftover, Location, ObjectInfo
from omnistorage.options import OptionSchema, anything, arguments, flag, integer, text

__all__ = ["SQLBlobBackend"]

_DEFAULT_PREFIX = "omnistorage"


def _check_more(options: Mapping[str, object]) -> None:
    check_database_url("sql", options)
    prefix = options.get("table_prefix", _DEFAULT_PREFIX)
    if isinstance(prefix, str) and not prefix.replace("_", "").isalnum():
        raise ConfigurationError("sql option 'table_prefix' must be letters, digits and '_'")
    if options.get("table") is not None and prefix != _DEFAULT_PREFIX:
        raise ConfigurationError(
            "sql option 'table' (the single-row layout) takes no 'table_prefix'"
        )


OPTIONS = OptionSchema(
    "sql",
    text("url", nullable=True, secret=True, example="sqlite://"),
    anything("engine", example=object()),
    text("table_prefix"),
    flag("create_tables"),
    integer("chunk_size", ge=1024, unit="bytes"),
    text("table", nullable=True, example="omni_objects"),
    integer("max_blob_size", ge=0, nullable=True, unit="bytes"),
    exactly_one=[("url", "engine")],
    check=_check_more,
)
"""The options of :class:`SQLBlobBackend`, checked without connecting (the URL too)."""


class SQLBlobBackend(SQLEngineBackend):
    """Objects in a SQL database (see the module docstring).

    Args:
        url: a SQLAlchemy URL (``sqlite:///data.db``,
            ``postgresql+psycopg://user:pw@host/db``); the backend owns the engine.
        engine: an existing ``Engine`` to borrow instead of ``url``.
        table_prefix: the chunked layout's table name prefix (``<prefix>_blobs`` …).
        create_tables: create the chunked layout's missing tables on first use.
        chunk_size: bytes per chunk row (chunked layout).
        table: use this existing table in the single-row layout instead (the seed's
            ``create_table=False``; ``schema.table`` on PostgreSQL).
        max_blob_size: refuse objects larger than this many bytes (``LimitExceeded``
            while writing, nothing published). Default: no limit for the chunked
            layout, 64 MiB for a single-row table (it holds a whole object in memory
            once when publishing).

    Raises:
        ConfigurationError: both or neither of ``url``/``engine``; a chunk size under
            1 KiB; a bad prefix; a ``table`` that does not exist or lacks ``key``
            (primary key) and ``data``.
    """

    name = "sql"
    options_schema = OPTIONS
    may_declare = CHUNKED_FEATURES.capabilities  # the single-row layout declares a subset

    def __init__(
        self,
        url: str | None = None,
        *,
        engine: Engine | None = None,
        table_prefix: str = _DEFAULT_PREFIX,
        create_tables: bool = True,
        chunk_size: int = 1 << 20,
        table: str | None = None,
        max_blob_size: int | None = None,
    ) -> None:
        self.check_config(arguments(locals()))
        tables = None
        if table is None:
            try:
                tables = Tables(table_prefix)
            except ValueError as error:
                raise ConfigurationError(str(error)) from None
        super().__init__(url, engine)
        try:
            self._layout: ChunkedLayout | SingleRowLayout
            if tables is not None:
                if create_tables:
                    tables.create(self._engine)
                # Opened without create_tables, the backend does no I/O until used.
                self._layout = ChunkedLayout(
                    self._engine, tables, chunk_size, max_blob_size, introspect=create_tables
                )
            else:
                assert table is not None
                self._layout = SingleRowLayout(self._engine, table, max_blob_size)
        except BaseException as exc:
            if self._owned:
                self._engine.dispose()
            if isinstance(exc, Exception) and not isinstance(exc, StorageError):
                # Creating the tables is the only I/O before a Store exists: its failure is
                # typed here, as the Store types every later one (a server that does not
                # answer is BackendUnavailable, temporary).
                raise map_error(
                    exc,
                    self.classify_error(exc),
                    backend=self.name,
                    op="open",
                    path=None,
                    secrets=self.secret_values,
                ) from exc
            raise

    def __repr__(self) -> str:
        return f"SQLBlobBackend({self._shown_url()!r}, table={self._layout.table_name!r})"

    def features(self) -> Features:
        return self._layout.features

    def native_path(self, key: str) -> str:
        return f"{self._shown_url()}#{self._layout.table_name}/{key}"

    def locations(self) -> tuple[Location, ...]:
        return (Location("sql", f"{self._shown_url()}#{self._layout.table_name}"),)

    def key_from_native(self, native: str) -> str | None:
        _, sep, key = native.partition(f"#{self._layout.table_name}/")
        return key if sep else None

    def resolution_steps(self, key: str) -> tuple[str, ...]:
        layout = self._layout
        kind = "chunked" if isinstance(layout, ChunkedLayout) else "single-row"
        return (f"table {layout.table_name!r} ({kind} layout), key {key!r}",)

    # ------------------------------------------------------------ the layout does the work

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return self._layout.new_writer(key, options)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        return self._layout.new_reader(key, offset=offset, length=length)

    def open_pinned(self, key: str) -> PinnedReader:
        return self._layout.open_pinned(key)

    def exists(self, key: str) -> bool:
        return self._layout.exists(key)

    def stat(self, key: str) -> ObjectInfo:
        return self._layout.stat(key)

    def delete(self, key: str) -> None:
        self._layout.delete(key)

    def delete_many(self, keys: Iterable[str]) -> None:
        self._layout.delete_many(keys)

    def delete_version(self, key: str, version: str) -> None:
        # Declared (CONDITIONAL_DELETE) by the chunked layout only: its upload ids.
        assert isinstance(self._layout, ChunkedLayout)
        self._layout.delete_version(key, version)

    def publish_staged(self, key: str, staged: Mapping[str, Any], *, overwrite: bool) -> str:
        # Declared (DEFERRED_PUBLISH) by the chunked layout only: its staged uploads.
        assert isinstance(self._layout, ChunkedLayout)
        return publish_staged(self._layout, key, staged, overwrite=overwrite)

    def abort_staged(self, key: str, staged: Mapping[str, Any]) -> None:
        assert isinstance(self._layout, ChunkedLayout)
        abort_staged(self._layout, key, staged)

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        return self._layout.list(prefix, recursive=recursive)

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._layout.copy(src, dst, overwrite=overwrite)

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._layout.move(src, dst, overwrite=overwrite)

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        return self._layout.list_leftovers(prefix)

    def remove_leftover(self, leftover: Leftover) -> None:
        self._layout.remove_leftover(leftover)
