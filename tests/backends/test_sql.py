"""SQLBlobBackend: the conformance suite and the model on SQLite (a file) and on the real
PostgreSQL server, plus what is particular to SQL (escaping, streaming, engines)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

pytest.importorskip("sqlalchemy")

from sqlalchemy import create_engine, text

from omnistorage import ChangedDuringRead, Store
from omnistorage.backends.sql import SQLBlobBackend
from omnistorage.testing import SLOW_SERVER_WRAPPER_VARIANTS, StoreConformance, make_state_machine
from tests.support.servers import server_env

CHUNK = 64 << 10


def _pg_url() -> str:
    return server_env("OMNI_TEST_POSTGRES_URL")["OMNI_TEST_POSTGRES_URL"]


class TestSQLiteConformance(StoreConformance):
    crash_leaves_leftovers = True
    backend_name = "sqlite"
    variants = (*StoreConformance.variants, *SLOW_SERVER_WRAPPER_VARIANTS)

    @pytest.fixture
    def empty_store(self, tmp_path: Path) -> Iterator[Store]:
        self._url = f"sqlite:///{tmp_path}/blobs.db"
        store = Store(SQLBlobBackend(self._url, chunk_size=CHUNK))
        yield store
        store.close()

    def second_handle(self, store: Store) -> Store:
        return Store(SQLBlobBackend(self._url, chunk_size=CHUNK), store.root)


@pytest.mark.server
class TestPostgresConformance(StoreConformance):
    crash_leaves_leftovers = True
    backend_name = "postgresql"
    variants = (*StoreConformance.variants, *SLOW_SERVER_WRAPPER_VARIANTS)
    many_keys: ClassVar[int] = 400

    @pytest.fixture
    def empty_store(self) -> Iterator[Store]:
        prefix = f"t{uuid.uuid4().hex[:12]}"
        backend = SQLBlobBackend(_pg_url(), table_prefix=prefix, chunk_size=CHUNK)
        yield Store(backend)
        engine = create_engine(_pg_url())
        with engine.begin() as conn:
            for table in ("blobs", "chunks", "uploads"):
                conn.execute(text(f"DROP TABLE IF EXISTS {prefix}_{table}"))
        engine.dispose()
        backend.close()


def _sqlite_model_store() -> Store:
    import tempfile

    folder = tempfile.mkdtemp(prefix="omni-sql-model-")
    return Store(SQLBlobBackend(f"sqlite:///{folder}/m.db", chunk_size=1024))


TestSQLiteModel = make_state_machine(_sqlite_model_store).TestCase


def test_prefix_listing_escapes_like_wildcards(tmp_path: Path) -> None:
    store = Store(SQLBlobBackend(f"sqlite:///{tmp_path}/b.db"))
    for key in ("a_b/x", "axb/y", "a%b/z", "a%c/w"):
        store.write(key, b"1")
    assert [i.path for i in store.list_files("a_b", recursive=True)] == ["a_b/x"]
    assert [i.path for i in store.list_files("a%b", recursive=True)] == ["a%b/z"]


def test_large_objects_stream_in_chunks_and_pinned_reads_see_one_version(tmp_path: Path) -> None:
    store = Store(SQLBlobBackend(f"sqlite:///{tmp_path}/b.db", chunk_size=CHUNK))
    data = bytes(range(256)) * (40 * CHUNK // 256)
    store.write("big.bin", iter([data[i : i + 10_000] for i in range(0, len(data), 10_000)]))
    assert store.read_bytes("big.bin") == data
    with store.read_seekable("big.bin") as reader:
        reader.read(CHUNK)
        store.write("big.bin", b"new", overwrite=True)
        with pytest.raises(ChangedDuringRead):
            reader.read()


def test_a_borrowed_engine_is_not_disposed(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/b.db")
    store = Store(SQLBlobBackend(engine=engine))
    store.write("k", b"v")
    store.close()
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from omnistorage_blobs")).scalar_one() == 1


def test_repr_and_resolve_show_the_table_not_the_password() -> None:
    url = "postgresql+psycopg://user:s3cretpw@127.0.0.1:1/db"
    engine = create_engine(url)
    store = Store(SQLBlobBackend(engine=engine, create_tables=False), "root")
    assert "s3cretpw" not in repr(store)
    plan = store.resolve("k.bin")
    assert plan.native_path.endswith("#omnistorage_blobs/root/k.bin")
    assert "s3cretpw" not in plan.native_path
