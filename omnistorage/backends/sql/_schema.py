"""The tables of the SQL blob store, and engine setup (no I/O until used).

Layout (the prefix defaults to ``omnistorage``):

- ``<prefix>_blobs``: one row per published object: ``key`` (primary key),
  the ``upload`` that holds its bytes, ``size``, ``chunk_size``, ``modified``,
  ``content_type``, ``metadata`` (JSON) and ``md5``.
- ``<prefix>_chunks``: the bytes, ``chunk_size`` bytes per row, keyed by
  ``(upload, seq)``. A write stages its chunks under a fresh upload id, each
  in its own short transaction (bounded memory, no long lock), and publishes
  them with ONE transaction that points the key's row at the upload.
- ``<prefix>_uploads``: uploads in flight (``upload``, ``key``, ``started``).
  Publishing deletes the row; a crashed writer's row and chunks are the
  leftovers ``cleanup`` removes.

A PostgreSQL engine built here through libpq (psycopg, psycopg2) connects with
``connect_timeout`` (3 s, :mod:`omnistorage._net`) unless the URL sets one, so a
server that accepts the connection and never answers fails within seconds.
libpq has no timeout for a reply once connected: a server that stalls mid-query
holds the call until the operating system gives up on the connection.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    make_url,
)
from sqlalchemy.engine import Connection

from omnistorage._net import DEFAULT_CONNECT_TIMEOUT

__all__ = ["Tables", "make_engine", "sqlite_snapshot"]


class Tables:
    """The three tables under one name prefix."""

    def __init__(self, prefix: str = "omnistorage") -> None:
        if not prefix.replace("_", "").isalnum():
            raise ValueError(f"table prefix must be letters, digits and '_', got {prefix!r}")
        self.metadata = MetaData()
        self.blobs = Table(
            f"{prefix}_blobs",
            self.metadata,
            Column("key", String(1024), primary_key=True),
            Column("upload", String(32), nullable=False),
            Column("size", BigInteger, nullable=False),
            Column("chunk_size", Integer, nullable=False),
            Column("modified", DateTime(timezone=True), nullable=False),
            Column("content_type", String(255)),
            Column("metadata", Text),
            Column("md5", String(32)),
        )
        self.chunks = Table(
            f"{prefix}_chunks",
            self.metadata,
            Column("upload", String(32), primary_key=True),
            Column("seq", Integer, primary_key=True),
            Column("data", LargeBinary, nullable=False),
        )
        self.uploads = Table(
            f"{prefix}_uploads",
            self.metadata,
            Column("upload", String(32), primary_key=True),
            Column("key", String(1024), nullable=False),
            Column("started", DateTime(timezone=True), nullable=False),
        )

    def create(self, engine: Engine) -> None:
        self.metadata.create_all(engine, checkfirst=True)


def make_engine(url: str, *, wal: bool = True) -> Engine:
    """An engine for ``url``. SQLite connections get a 30 s busy timeout and, with
    ``wal`` (the blob store), ``journal_mode=WAL`` and ``synchronous=NORMAL``: readers
    never block the writer, and a commit waits for the WAL write, not for a full
    fsync (an OS crash may lose the last commits, never corrupt the file). The query
    backend passes ``wal=False``: it only reads, and switching the journal mode is a
    write a read-only database file refuses."""
    options: dict[str, Any] = {}
    if url.startswith("sqlite"):
        options["connect_args"] = {"check_same_thread": False, "timeout": 30}
    elif _libpq_without_timeout(url):
        # libpq waits forever for a server that accepts the connection and never
        # answers; bound the connection (startup and authentication included).
        options["connect_args"] = {"connect_timeout": math.ceil(DEFAULT_CONNECT_TIMEOUT)}
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine


def _libpq_without_timeout(url: str) -> bool:
    """A PostgreSQL URL for a libpq driver (psycopg, psycopg2) that sets no
    ``connect_timeout`` of its own (a URL's value wins)."""
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - create_engine reports a bad URL itself
        return False
    return (
        parsed.get_backend_name() == "postgresql"
        and parsed.get_driver_name() in ("psycopg", "psycopg2")
        and "connect_timeout" not in parsed.query
    )


@contextmanager
def sqlite_snapshot(conn: Connection) -> Iterator[Any]:
    """The raw ``sqlite3`` connection of ``conn``, with ``conn`` inside one read
    transaction.

    Every statement run through ``conn`` and every blob handle opened through the raw
    connection read the same snapshot (WAL), whatever other connections commit
    meanwhile: a row a ``SELECT`` found is the row ``blobopen`` then opens. Outside a
    transaction (the driver's default for reads) each statement reads its own
    snapshot, so a row could be deleted, and its rowid even reused by another row,
    between finding it and opening it. The transaction ends (rolled back: it wrote
    nothing) when the block does.
    """
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute("BEGIN")
    try:
        yield raw
    finally:
        raw.rollback()
