"""The single-row layout of :class:`SQLBlobBackend`: an existing table, one row per object.

The seed's schema (SQLAR, Zarr's SQLiteStore)::

    CREATE TABLE remote_store_objects (
        key TEXT PRIMARY KEY CHECK (length(key) > 0),
        data BLOB NOT NULL,
        size INTEGER NOT NULL,
        modified_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        content_type TEXT,
        digest TEXT,
        extra TEXT  -- JSON
    );

Only ``key`` (the primary key, or unique) and ``data`` are required. The other
columns are found by introspection and each brings what it holds: ``size`` (else
``length(data)``), ``modified_at`` (``SET_MOD_TIME``; else ``modified`` is
``None``), ``content_type`` (``CONTENT_TYPE``), ``digest`` (an MD5 hex digest,
``hashes``), ``extra`` (user metadata as a JSON object, ``USER_METADATA``).

A value is one column of one row, so a write holds the whole object in memory
once, when it publishes: ``max_blob_size`` (64 MiB unless set) refuses larger
objects while they are written, before anything is published. Reads copy the
row's value once into a spooled temporary file (memory up to 1 MiB, then disk;
on SQLite streamed with ``blobopen``, never whole in memory), so a reader sees
one version. A publish is one ``INSERT`` (create-only: the primary key decides)
or ``UPDATE``, committed in one transaction. Nothing is staged, so a crashed
writer leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

from sqlalchemy import (
    Engine,
    MetaData,
    Table,
    delete,
    exc,
    func,
    insert,
    inspect,
    literal,
    literal_column,
    select,
    update,
)

from omnistorage.backends.sql._chunked import too_large, under_prefix, utc
from omnistorage.backends.sql._folding import key_folding
from omnistorage.backends.sql._schema import sqlite_snapshot
from omnistorage.backends.sql._spool import Spool, SpoolPinned, SpoolReader
from omnistorage.capabilities import Capability, Features
from omnistorage.driver import PinnedReader, WriteOptions, Writer
from omnistorage.errors import ConfigurationError, ObjectChanged
from omnistorage.models import HashType, Leftover, ObjectInfo

__all__ = ["DEFAULT_MAX_BLOB_SIZE", "SingleRowLayout"]

DEFAULT_MAX_BLOB_SIZE = 64 << 20
_OPTIONAL = ("size", "modified_at", "content_type", "digest", "extra")
_PIECE = 1 << 20
_SQLITE_ABORT = 4


class SingleRowLayout:
    """One row per object in an existing table (see the module docstring)."""

    def __init__(self, engine: Engine, table: str, max_blob_size: int | None) -> None:
        schema, _, name = table.rpartition(".")
        catalog = inspect(engine)
        if not catalog.has_table(name, schema=schema or None):
            raise ConfigurationError(
                f"table {table!r} does not exist: the single-row layout uses an existing "
                "table (key TEXT PRIMARY KEY, data BLOB, and optional size, modified_at, "
                "content_type, digest, extra)"
            )
        self.table = Table(name, MetaData(), schema=schema or None, autoload_with=engine)
        columns = set(self.table.c.keys())
        missing = [c for c in ("key", "data") if c not in columns]
        if missing:
            raise ConfigurationError(f"table {table!r} lacks the column(s) {missing}")
        primary = [c.name for c in self.table.primary_key.columns]
        unique = [
            u["column_names"] for u in catalog.get_unique_constraints(name, schema=schema or None)
        ]
        if primary != ["key"] and ["key"] not in unique:
            raise ConfigurationError(
                f"table {table!r}: 'key' must be the primary key (or unique): create-only "
                "writes rely on it"
            )
        self._engine = engine
        self._max = DEFAULT_MAX_BLOB_SIZE if max_blob_size is None else max_blob_size
        self.table_name = table
        self.optional = frozenset(c for c in _OPTIONAL if c in columns)
        caps = {
            Capability.READ,
            Capability.WRITE,
            Capability.DELETE,
            Capability.LIST,
            Capability.METADATA,
            Capability.COPY,
            Capability.MOVE,
            Capability.ATOMIC_WRITE,
            Capability.CONDITIONAL_WRITE,
            Capability.PINNED_READ,
        }
        extra = {
            "modified_at": Capability.SET_MOD_TIME,
            "content_type": Capability.CONTENT_TYPE,
            "extra": Capability.USER_METADATA,
        }
        caps |= {cap for column, cap in extra.items() if column in self.optional}
        hashes = [HashType.MD5] if "digest" in self.optional else []
        case, unicode = key_folding(engine, name, schema or None)
        self.features = Features.of(
            caps,
            hashes,
            max_object_size=self._max,
            case_insensitive=case,
            normalizes_unicode=unicode,
        )
        self._sqlite = engine.dialect.name == "sqlite"
        modified = self.table.c.get("modified_at")
        self._aware = (
            bool(getattr(modified.type, "timezone", False)) if modified is not None else False
        )

    # ------------------------------------------------------------ rows

    def _size_column(self) -> Any:
        c = self.table.c
        return c.size if "size" in self.optional else func.length(c.data)

    def _meta_columns(self) -> list[Any]:
        c = self.table.c
        columns = [c.key, self._size_column().label("size")]
        columns += [
            c[name]
            for name in ("modified_at", "content_type", "digest", "extra")
            if name in self.optional
        ]
        return columns

    def _info(self, row: Any) -> ObjectInfo:
        data = row._mapping
        digest = data.get("digest")
        return ObjectInfo(
            path=data["key"],
            size=int(data["size"]) if data["size"] is not None else None,
            modified=utc(data.get("modified_at")),
            content_type=data.get("content_type"),
            hashes={HashType.MD5: digest} if _is_md5(digest) else {},
            metadata=_metadata(data.get("extra")),
        )

    def stat(self, key: str) -> ObjectInfo:
        with self._engine.connect() as conn:
            row = conn.execute(select(*self._meta_columns()).where(self.table.c.key == key)).first()
        if row is None:
            raise FileNotFoundError(f"no object {key!r}")
        return self._info(row)

    def exists(self, key: str) -> bool:
        c = self.table.c
        with self._engine.connect() as conn:
            return conn.execute(select(c.key).where(c.key == key)).first() is not None

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        c = self.table.c
        query = select(*self._meta_columns()).order_by(c.key)
        if prefix:
            query = query.where(under_prefix(c.key, prefix))
        last_folder = None
        with self._engine.connect() as conn:
            rows = conn.execution_options(stream_results=True, yield_per=1000).execute(query)
            for row in rows:
                key = row.key
                if not key.startswith(prefix):
                    continue
                rest = key[len(prefix) :]
                if not recursive and "/" in rest:
                    folder = prefix + rest.split("/", 1)[0]
                    if folder != last_folder:
                        last_folder = folder
                        yield ObjectInfo(path=folder, is_dir=True)
                    continue
                yield self._info(row)

    # ------------------------------------------------------------ reads

    def _copy_out(self, key: str) -> Spool:
        """The row's value, copied once into a spool (one version)."""
        spool = Spool(_PIECE, None)
        try:
            if self._sqlite:
                self._copy_blob(key, spool)
            else:
                with self._engine.connect() as conn:
                    row = conn.execute(
                        select(self.table.c.data).where(self.table.c.key == key)
                    ).first()
                if row is None:
                    raise FileNotFoundError(f"no object {key!r}")
                spool.file.write(bytes(row.data))
            spool.finish()
        except BaseException:
            spool.close()
            raise
        return spool

    def _copy_blob(self, key: str, spool: Spool) -> None:
        import sqlite3

        c = self.table.c
        with self._engine.connect() as conn, sqlite_snapshot(conn) as raw:
            rowid = conn.execute(
                select(literal_column("rowid")).select_from(self.table).where(c.key == key)
            ).scalar()
            if rowid is None:
                raise FileNotFoundError(f"no object {key!r}")
            try:
                with raw.blobopen(self.table.name, "data", rowid, readonly=True) as blob:
                    while piece := blob.read(_PIECE):
                        spool.file.write(piece)
            except sqlite3.OperationalError as error:
                if getattr(error, "sqlite_errorcode", 0) & 0xFF == _SQLITE_ABORT:
                    raise ObjectChanged(f"{key!r} changed while it was read") from error
                raise

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        spool = self._copy_out(key)
        end = spool.size if length is None else min(spool.size, offset + length)
        return SpoolReader(spool, min(offset, spool.size), end)  # type: ignore[return-value]

    def open_pinned(self, key: str) -> PinnedReader:
        return SpoolPinned(self._copy_out(key))

    # ------------------------------------------------------------ writes

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return _RowWriter(self, key, options)

    def _values(self, key: str, data: bytes, options: WriteOptions) -> dict[str, Any]:
        values: dict[str, Any] = {"key": key, "data": data}
        if "size" in self.optional:
            values["size"] = len(data)
        if "modified_at" in self.optional:
            when = options.modified or datetime.now(UTC)
            values["modified_at"] = (
                when if self._aware else when.astimezone(UTC).replace(tzinfo=None)
            )
        if "content_type" in self.optional:
            values["content_type"] = options.content_type
        if "digest" in self.optional:
            values["digest"] = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if "extra" in self.optional:
            values["extra"] = json.dumps(dict(options.metadata)) if options.metadata else None
        return values

    def publish(self, key: str, values: dict[str, Any], overwrite: bool) -> None:
        c = self.table.c
        with self._engine.begin() as conn:
            if overwrite:
                done = conn.execute(
                    update(self.table).where(c.key == key).values(**values)
                ).rowcount
                if done:
                    return
            try:
                with conn.begin_nested():
                    conn.execute(insert(self.table).values(**values))
            except exc.IntegrityError:
                if not overwrite:
                    raise FileExistsError(f"an object exists at {key!r}") from None
                conn.execute(update(self.table).where(c.key == key).values(**values))

    def delete(self, key: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(self.table).where(self.table.c.key == key))

    def delete_many(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.delete(key)

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        c = self.table.c
        others = [column.name for column in self.table.columns if column.name != "key"]
        with self._engine.begin() as conn:
            if conn.execute(select(c.key).where(c.key == src)).first() is None:
                raise FileNotFoundError(f"no object {src!r}")
            if overwrite:
                conn.execute(delete(self.table).where(c.key == dst))
            source = select(literal(dst, c.key.type), *[c[n] for n in others]).where(c.key == src)
            try:
                with conn.begin_nested():
                    conn.execute(insert(self.table).from_select(["key", *others], source))
            except exc.IntegrityError:
                raise FileExistsError(f"an object exists at {dst!r}") from None

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        c = self.table.c
        with self._engine.begin() as conn:
            if conn.execute(select(c.key).where(c.key == src)).first() is None:
                raise FileNotFoundError(f"no object {src!r}")
            if overwrite:
                conn.execute(delete(self.table).where(c.key == dst))
            try:
                with conn.begin_nested():
                    conn.execute(update(self.table).where(c.key == src).values(key=dst))
            except exc.IntegrityError:
                raise FileExistsError(f"an object exists at {dst!r}") from None

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        return iter(())

    def remove_leftover(self, leftover: Leftover) -> None:
        return None


class _RowWriter(Writer):
    """Spools the object (bounded by ``max_blob_size``); ``close`` publishes one row."""

    def __init__(self, layout: SingleRowLayout, key: str, options: WriteOptions) -> None:
        if options.size_hint is not None and options.size_hint > layout._max:
            raise too_large(key, layout._max)
        self._layout = layout
        self._key = key
        self._options = options
        self._file = tempfile.SpooledTemporaryFile(max_size=_PIECE)  # noqa: SIM115
        self._size = 0
        self._done = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._done:
            raise ValueError("write to a finished writer")
        size = len(data) if not isinstance(data, memoryview) else data.nbytes
        self._size += size
        if self._size > self._layout._max:
            raise too_large(self._key, self._layout._max)
        self._file.write(data)
        return size

    def close(self) -> None:
        if self._done:
            raise ValueError("writer already finished")
        self._done = True
        try:
            self._file.seek(0)
            data = self._file.read()
            values = self._layout._values(self._key, data, self._options)
            self._layout.publish(self._key, values, self._options.overwrite)
        finally:
            self._file.close()

    def abort(self) -> None:
        self._done = True
        self._file.close()


def _is_md5(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) == 32
        and all(ch in "0123456789abcdef" for ch in value)
    )


def _metadata(value: Any) -> dict[str, str]:
    """User metadata from the ``extra`` column: a JSON object of strings, else nothing."""
    if not value:
        return {}
    try:
        loaded = json.loads(value)
    except (TypeError, ValueError):
        return {}
    if isinstance(loaded, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
    ):
        return loaded
    return {}
