"""SQLBlobBackend against the issue: the single-row layout on existing tables (conformance
and model on SQLite and PostgreSQL, optional columns by introspection), max_blob_size,
SQLite pragmas and blobopen reads, owned and borrowed engines shared by children,
resolve() showing table and key."""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pytest

pytest.importorskip("sqlalchemy")

from sqlalchemy import Engine, create_engine, event, text

from omnistorage import (
    Capability,
    ConfigurationError,
    HashType,
    LimitExceeded,
    NotFound,
    Store,
)
from omnistorage.backends.sql import SQLBlobBackend
from omnistorage.testing import StoreConformance, make_state_machine
from tests.support.servers import server_env

SEED_SQLITE = """CREATE TABLE {name} (
    key TEXT PRIMARY KEY CHECK (length(key) > 0),
    data BLOB NOT NULL,
    size INTEGER NOT NULL,
    modified_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    content_type TEXT,
    digest TEXT,
    extra TEXT)"""
SEED_POSTGRES = SEED_SQLITE.replace("BLOB", "BYTEA")


def _pg_url() -> str:
    return server_env("OMNI_TEST_POSTGRES_URL")["OMNI_TEST_POSTGRES_URL"]


def _sqlite_table(path: Path, ddl: str = SEED_SQLITE, name: str = "remote_store_objects") -> str:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text(ddl.format(name=name)))
    engine.dispose()
    return f"sqlite:///{path}"


class TestSingleRowSQLiteConformance(StoreConformance):
    backend_name = "sqlite-single-row"

    @pytest.fixture
    def empty_store(self, tmp_path: Path) -> Iterator[Store]:
        url = _sqlite_table(tmp_path / "seed.db")
        store = Store(SQLBlobBackend(url, table="remote_store_objects"))
        yield store
        store.close()


@pytest.mark.server
class TestSingleRowPostgresConformance(StoreConformance):
    backend_name = "postgresql-single-row"
    many_keys: ClassVar[int] = 400

    @pytest.fixture
    def empty_store(self) -> Iterator[Store]:
        name = f"seed_{uuid.uuid4().hex[:12]}"
        engine = create_engine(_pg_url())
        with engine.begin() as conn:
            conn.execute(text(SEED_POSTGRES.format(name=name)))
        backend = SQLBlobBackend(_pg_url(), table=name)
        yield Store(backend)
        backend.close()
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {name}"))
        engine.dispose()


def _single_row_model_store() -> Store:
    folder = Path(tempfile.mkdtemp(prefix="omni-sql-single-"))
    return Store(SQLBlobBackend(_sqlite_table(folder / "m.db"), table="remote_store_objects"))


TestSingleRowSQLiteModel = make_state_machine(_single_row_model_store).TestCase

# The model on PostgreSQL: one backend per layout for the module (tables under a unique
# name, dropped at the end); every run works in a fresh folder that teardown empties.
_PG_MODEL: dict[str, SQLBlobBackend] = {}
_PG_NAME = f"model_{uuid.uuid4().hex[:10]}"


def _pg_model_store(layout: str) -> Store:
    backend = _PG_MODEL.get(layout)
    if backend is None:
        if layout == "single-row":
            engine = create_engine(_pg_url())
            with engine.begin() as conn:
                conn.execute(text(SEED_POSTGRES.format(name=_PG_NAME)))
            engine.dispose()
            backend = SQLBlobBackend(_pg_url(), table=_PG_NAME)
        else:
            backend = SQLBlobBackend(_pg_url(), table_prefix=_PG_NAME, chunk_size=1024)
        _PG_MODEL[layout] = backend
    return Store(backend, f"run-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module", autouse=True)
def _drop_pg_model_tables() -> Iterator[None]:
    yield
    if not _PG_MODEL:
        return
    for backend in _PG_MODEL.values():
        backend.close()
    engine = create_engine(_pg_url())
    with engine.begin() as conn:
        for table in (_PG_NAME, f"{_PG_NAME}_blobs", f"{_PG_NAME}_chunks", f"{_PG_NAME}_uploads"):
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()


TestChunkedPostgresModel = pytest.mark.server(
    make_state_machine(lambda: _pg_model_store("chunked")).TestCase
)
TestSingleRowPostgresModel = pytest.mark.server(
    make_state_machine(lambda: _pg_model_store("single-row")).TestCase
)


# ------------------------------------------------------------ the single-row layout


def test_optional_columns_are_found_by_introspection(tmp_path: Path) -> None:
    full = Store(SQLBlobBackend(_sqlite_table(tmp_path / "a.db"), table="remote_store_objects"))
    ddl = "CREATE TABLE {name} (key TEXT PRIMARY KEY, data BLOB NOT NULL)"
    bare = Store(SQLBlobBackend(_sqlite_table(tmp_path / "b.db", ddl, "kv"), table="kv"))
    optional = {Capability.SET_MOD_TIME, Capability.CONTENT_TYPE, Capability.USER_METADATA}
    assert optional <= full.features.capabilities
    assert not optional & bare.features.capabilities
    assert full.features.hash_types == {HashType.MD5}
    assert bare.features.hash_types == frozenset()
    full.write("a.txt", b"hello", content_type="text/plain", metadata={"k": "v"})
    info = full.get_file_info("a.txt")
    assert (info.size, info.content_type, dict(info.metadata)) == (5, "text/plain", {"k": "v"})
    assert info.hashes[HashType.MD5] == "5d41402abc4b2a76b9719d911017c592"
    assert info.modified is not None
    bare.write("a.txt", b"hello")
    info = bare.get_file_info("a.txt")
    assert (info.size, info.modified, info.content_type, dict(info.hashes)) == (5, None, None, {})
    assert [(i.path, i.size) for i in bare.list_files()] == [("a.txt", 5)]


def test_rows_other_tools_wrote_are_read(tmp_path: Path) -> None:
    url = _sqlite_table(tmp_path / "a.db")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO remote_store_objects (key, data, size, extra) VALUES (:k, :d, 3, :e)"
            ),
            {"k": "theirs.bin", "d": b"abc", "e": "not json"},
        )
    store = Store(SQLBlobBackend(engine=engine, table="remote_store_objects"))
    assert store.read_bytes("theirs.bin") == b"abc"
    info = store.get_file_info("theirs.bin")
    assert info.metadata == {}
    assert info.modified is not None  # the column's default


@pytest.mark.parametrize(
    ("ddl", "message"),
    [
        ("CREATE TABLE {name} (k TEXT PRIMARY KEY, data BLOB)", "lacks"),
        ("CREATE TABLE {name} (key TEXT PRIMARY KEY, payload BLOB)", "lacks"),
        ("CREATE TABLE {name} (key TEXT, data BLOB)", "primary key"),
    ],
)
def test_an_unsuitable_table_is_refused(tmp_path: Path, ddl: str, message: str) -> None:
    url = _sqlite_table(tmp_path / "a.db", ddl, "t")
    with pytest.raises(ConfigurationError, match=message):
        SQLBlobBackend(url, table="t")


def test_a_missing_table_is_refused_with_the_schema_it_needs(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"does not exist.*key TEXT PRIMARY KEY"):
        SQLBlobBackend(f"sqlite:///{tmp_path}/x.db", table="nope")


def test_single_row_reads_stream_with_blobopen(tmp_path: Path) -> None:
    url = _sqlite_table(tmp_path / "a.db")
    store = Store(SQLBlobBackend(url, table="remote_store_objects"))
    data = bytes(range(256)) * 12_000  # 3 MiB: more than the 1 MiB spool in memory
    store.write("big.bin", data)
    seen = _statements(store)
    assert store.read_bytes("big.bin") == data
    assert store.read_range("big.bin", 1_000_000, 10) == data[1_000_000:1_000_010]
    assert seen
    assert not any(_selects_data(sql) for sql in seen), seen


# ------------------------------------------------------------ max_blob_size


@pytest.mark.parametrize("layout", ["chunked", "single-row"])
def test_max_blob_size_refuses_larger_objects_publishing_nothing(
    tmp_path: Path, layout: str
) -> None:
    if layout == "chunked":
        backend = SQLBlobBackend(f"sqlite:///{tmp_path}/c.db", chunk_size=1024, max_blob_size=4096)
    else:
        url = _sqlite_table(tmp_path / "s.db")
        backend = SQLBlobBackend(url, table="remote_store_objects", max_blob_size=4096)
    store = Store(backend)
    store.write("fits.bin", b"x" * 4096)
    with pytest.raises(LimitExceeded, match="max_blob_size=4096") as info:
        store.write("big.bin", iter([b"y" * 3000, b"y" * 3000]))
    assert info.value.path == "big.bin"
    with pytest.raises(LimitExceeded):
        store.write("big.bin", b"z" * 5000)  # the size is known: refused before any I/O
    assert not store.exists("big.bin")
    assert [i.path for i in store.list_files()] == ["fits.bin"]
    assert store.cleanup(older_than=timedelta(0)).removed == ()


def test_the_single_row_layout_limits_objects_to_64_mib_by_default(tmp_path: Path) -> None:
    store = Store(SQLBlobBackend(_sqlite_table(tmp_path / "a.db"), table="remote_store_objects"))
    assert store.features.max_object_size == 64 << 20
    with pytest.raises(LimitExceeded):
        store.write("huge.bin", b"\0" * ((64 << 20) + 1))


# ------------------------------------------------------------ SQLite, engines, resolve


def _selects_data(sql: str) -> bool:
    """True when the statement fetches a whole ``data`` value (the bytes) into Python."""
    return re.match(r"SELECT \w+\.data\b", sql) is not None


def _statements(store: Store) -> list[str]:
    seen: list[str] = []
    engine = store.unwrap(Engine)

    @event.listens_for(engine, "before_cursor_execute")
    def _record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    return seen


def test_sqlite_runs_in_wal_mode_with_synchronous_normal(tmp_path: Path) -> None:
    store = Store(SQLBlobBackend(f"sqlite:///{tmp_path}/b.db"))
    with store.unwrap(Engine).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 30000


def test_chunked_sqlite_reads_fetch_only_the_range_through_blobopen(tmp_path: Path) -> None:
    store = Store(SQLBlobBackend(f"sqlite:///{tmp_path}/b.db", chunk_size=64 << 10))
    data = bytes(range(256)) * 1024  # 4 chunks
    store.write("d.bin", data)
    seen = _statements(store)
    assert store.read_range("d.bin", 70_000, 100_000) == data[70_000:170_000]
    with store.read_seekable("d.bin") as reader:
        reader.seek(200_000)
        assert reader.read(5) == data[200_000:200_005]
    assert seen
    assert not any(_selects_data(sql) for sql in seen), seen


def test_children_share_the_backend_and_its_engine(tmp_path: Path) -> None:
    backend = SQLBlobBackend(f"sqlite:///{tmp_path}/b.db")
    store = Store(backend)
    child = store.child("a").child("b")
    assert child.unwrap() is backend
    assert child.unwrap(Engine) is store.unwrap(Engine) is backend.engine
    assert backend.owns_engine
    child.write("x.txt", b"1")
    assert store.read_bytes("a/b/x.txt") == b"1"
    engine = backend.engine
    store.close()
    assert engine.pool.checkedin() == 0  # owned: disposed


def test_a_borrowed_engine_stays_usable_after_close(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/b.db")
    backend = SQLBlobBackend(engine=engine)
    assert not backend.owns_engine
    Store(backend).child("c").write("x", b"v")
    Store(backend).close()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM omnistorage_blobs").scalar_one() == 1


@pytest.mark.parametrize("layout", ["chunked", "single-row"])
def test_resolve_shows_the_table_and_the_key(tmp_path: Path, layout: str) -> None:
    if layout == "chunked":
        backend = SQLBlobBackend(f"sqlite:///{tmp_path}/b.db", table_prefix="shop")
        table = "shop_blobs"
    else:
        backend = SQLBlobBackend(_sqlite_table(tmp_path / "s.db"), table="remote_store_objects")
        table = "remote_store_objects"
    plan = Store(backend).child("models").resolve("v3.pkl")
    assert plan.steps == (f"table {table!r} ({layout} layout), key 'models/v3.pkl'",)
    assert plan.native_path.endswith(f"#{table}/models/v3.pkl")


def test_a_missing_key_in_a_single_row_table_is_not_found(tmp_path: Path) -> None:
    store = Store(SQLBlobBackend(_sqlite_table(tmp_path / "s.db"), table="remote_store_objects"))
    with pytest.raises(NotFound):
        store.read_bytes("nope")
