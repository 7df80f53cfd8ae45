"""SQL stores against racing writers and hostile names, on SQLite and the real PostgreSQL:

- a read racing overwrites returns one whole version or raises ``ChangedDuringRead``
  (SQLite's chunk reads used to fail with a plain ``StorageError``, "no such rowid");
- prefix queries are exact: ``child("data")`` never reaches ``DATA/…`` (SQLite's
  ``LIKE`` ignores case) nor ``da_a/…`` or ``d%/…``, neither in listings nor in
  ``cleanup``;
- a keys query that returns rows making no key (``../../etc``, ``a/b``) has them
  counted on ``invalid_count``, not dropped silently.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, event, text

from omnistorage import ChangedDuringRead, NotFound, Store
from omnistorage.backends.sql import SQLBlobBackend
from omnistorage.composite import CompositeStore, Tier
from omnistorage.errors import ObjectChanged, StorageError
from tests.backends.test_sql_blob import SEED_POSTGRES, SEED_SQLITE
from tests.support.servers import server_env

CHUNK = 4096
VERSIONS = [bytes([i]) * (10 * CHUNK + 123) for i in range(4)]


def _pg_url() -> str:
    return server_env("OMNI_TEST_POSTGRES_URL")["OMNI_TEST_POSTGRES_URL"]


def _drop(url: str, *tables: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for name in tables:
            conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "sqlite-single-row", "postgresql", "postgresql-single-row"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    kind: str = request.param
    if kind.startswith("postgresql"):
        request.applymarker(pytest.mark.server)
        url = _pg_url()
    else:
        url = f"sqlite:///{tmp_path}/race.db"
    name = f"r{uuid.uuid4().hex[:10]}"
    if kind.endswith("single-row"):
        engine = create_engine(url)
        with engine.begin() as conn:
            seed = SEED_POSTGRES if kind.startswith("postgresql") else SEED_SQLITE
            conn.execute(text(seed.format(name=name)))
        engine.dispose()
        backend = SQLBlobBackend(url, table=name)
        tables: tuple[str, ...] = (name,)
    else:
        backend = SQLBlobBackend(url, table_prefix=name, chunk_size=CHUNK)
        tables = (f"{name}_blobs", f"{name}_chunks", f"{name}_uploads")
    yield Store(backend)
    backend.close()
    if kind.startswith("postgresql"):
        _drop(url, *tables)


# ------------------------------------------------------------------ racing writers

READS: dict[str, Callable[[Store], bytes]] = {
    "read_bytes": lambda s: s.read_bytes("k"),
    "read_seekable": lambda s: _seekable(s),
    "read_range": lambda s: s.read_range("k", CHUNK - 7, 5 * CHUNK),
}


def _seekable(store: Store) -> bytes:
    with store.read_seekable("k") as reader:
        head = reader.read(CHUNK + 1)
        reader.seek(3 * CHUNK)
        middle = reader.read(CHUNK)
        reader.seek(CHUNK + 1)
        between = reader.read(2 * CHUNK - 1)
        reader.seek(4 * CHUNK)
        return head + between + middle + reader.read()


def _expected(read: str, version: bytes) -> bytes:
    if read == "read_range":
        return version[CHUNK - 7 : CHUNK - 7 + 5 * CHUNK]
    return version


@pytest.mark.parametrize("writer", ["overwrite", "delete-and-write"])
def test_reads_racing_writers_see_one_version_or_changed_during_read(
    store: Store, writer: str
) -> None:
    store.write("k", VERSIONS[0])
    stop = threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        i = 0
        try:
            while not stop.is_set():
                i += 1
                if writer == "delete-and-write":
                    store.delete("k", missing_ok=True)
                store.write("k", VERSIONS[i % 4], overwrite=True)
                stop.wait(0.005)  # let some reads finish between writes
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    outcomes: Counter[str] = Counter()

    def read(name: str) -> None:
        for _ in range(40):
            try:
                data = READS[name](store)
            except ChangedDuringRead:
                outcomes["changed"] += 1
            except NotFound:  # between a delete and the next write
                outcomes["missing"] += 1
            except StorageError as error:
                failures.append(error)
            else:
                if data not in [_expected(name, v) for v in VERSIONS]:
                    failures.append(AssertionError(f"{name} returned a mix of versions"))
                outcomes["whole"] += 1

    writing = threading.Thread(target=write)
    readers = [threading.Thread(target=read, args=(name,)) for name in READS for _ in (0, 1)]
    writing.start()
    for thread in readers:
        thread.start()
    for thread in readers:
        thread.join()
    stop.set()
    writing.join()
    assert failures == []
    assert sum(outcomes.values()) == len(readers) * 40
    assert outcomes["whole"] + outcomes["changed"] > 0, outcomes  # reads met the object
    if writer == "overwrite":
        assert outcomes["whole"] > 0, outcomes


def test_a_chunk_replaced_between_finding_and_opening_it_is_a_change(tmp_path: Path) -> None:
    """The exact interleaving behind "no such rowid": another connection replaces the
    version right after the reader found its chunk's row, before it opens the blob."""
    backend = SQLBlobBackend(f"sqlite:///{tmp_path}/x.db", chunk_size=CHUNK)
    store = Store(backend)
    store.write("k", VERSIONS[0])
    replaced = threading.Event()

    def after(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "rowid" in statement and not replaced.is_set():
            replaced.set()
            worker = threading.Thread(target=lambda: store.write("k", VERSIONS[1], overwrite=True))
            worker.start()
            worker.join()

    event.listen(backend.engine, "after_cursor_execute", after)
    pinned = backend.open_pinned("k")
    # Chunk 0 is found, replaced by the other writer, then opened: the snapshot it was
    # found in still holds it. Chunk 1 belongs to a version that is gone.
    assert pinned.read_range(0, CHUNK) == VERSIONS[0][:CHUNK]
    assert replaced.is_set()
    with pytest.raises(ObjectChanged):
        pinned.read_range(CHUNK, CHUNK)
    replaced.clear()
    with store.read_seekable("k") as reader, pytest.raises(ChangedDuringRead):
        reader.read()
    assert replaced.is_set()


# ------------------------------------------------------------------ exact prefixes

# Names that a LIKE pattern or a case-insensitive comparison would take for "data".
_LOOKALIKES = ["DATA", "Data", "dAta", "da_a", "d_ta", "d%", "da%a", "data_", "dat"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    prefix=st.sampled_from(["data", "da_a", "d%ta", "Data", "d_%"]),
    others=st.lists(st.sampled_from([*_LOOKALIKES, "data", "x"]), min_size=1, max_size=4),
)
def test_prefix_queries_are_exact_in_listings_and_cleanup(
    store: Store, prefix: str, others: list[str]
) -> None:
    run = uuid.uuid4().hex[:8]
    root = store.child(run)
    folders = sorted({prefix, *others})
    for folder in folders:
        root.write(f"{folder}/file.bin", folder.encode())
    staged = []
    for folder in folders:  # a writer that staged chunks and never published
        writer = root.open_writer(f"{folder}/big.bin")
        writer.write(b"s" * (3 * CHUNK))
        staged.append(writer)
    if not root.cleanup(older_than=timedelta(0), dry_run=True).removed:
        staged = []  # the single-row layout stages nothing: no leftovers to mix up
    child = root.child(prefix)
    assert [info.path for info in child.list_files(recursive=True)] == ["file.bin"]
    report = child.cleanup(older_than=timedelta(0))
    assert [left.key for left in report.removed] == (["big.bin"] if staged else [])
    rest = root.cleanup(older_than=timedelta(0), dry_run=True)
    assert sorted(left.key for left in rest.removed) == sorted(
        f"{folder}/big.bin" for folder in folders if folder != prefix and staged
    )
    for writer in staged:
        writer.abort()


# ------------------------------------------------------------------ keys-query rows


@pytest.fixture
def query_db(tmp_path: Path) -> str:
    path = tmp_path / "q.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE names (name TEXT, n INTEGER)")
        conn.executemany(
            "INSERT INTO names VALUES (?, ?)",
            [("ok", 1), ("../../etc", 2), ("a/b", 3), ("", 4), ("fine", 5)],
        )
        conn.execute("CREATE TABLE years (y INTEGER)")
        conn.executemany("INSERT INTO years VALUES (?)", [(2024,), (7.5,), (None,)])
    return f"sqlite:///{path}"


def _query_store(url: str) -> Store:
    from omnistorage.backends.sql import SQLQueryBackend

    return Store(
        SQLQueryBackend(
            url,
            queries={
                "named/{name}.csv": {
                    "sql": "SELECT n FROM names WHERE name = :name",
                    "keys": "SELECT name FROM names ORDER BY n",
                },
                "years/{y:int}.csv": {
                    "sql": "SELECT :y AS y",
                    "keys": "SELECT y FROM years",
                },
            },
        )
    )


def test_keys_query_rows_that_make_no_key_are_counted(query_db: str) -> None:
    pytest.importorskip("pyarrow")
    store = _query_store(query_db)
    listing = store.list_files(recursive=True)
    listed = sorted(info.path for info in listing)
    assert listed == ["named/fine.csv", "named/ok.csv", "years/2024.csv"]
    # ../../etc and a/b (a value with '/'), '' (empty), 7.5 and NULL (not integers)
    assert listing.invalid_count == 5
    assert sorted(listing.invalid) == sorted(
        ["named/../../etc.csv", "named/a/b.csv", "named/.csv", "years/7.5.csv", "years/None.csv"]
    )
    # Only the folder listed counts its own rows; a shallow listing counts what lies in it.
    named = store.list_files("named")
    assert sorted(info.path for info in named) == ["named/fine.csv", "named/ok.csv"]
    assert named.invalid_count == 1  # named/.csv; ../../etc and a/b lie deeper
    assert not store.exists("named/a/b.csv")
    assert store.read_text("named/ok.csv").splitlines() == ['"n"', "1"]


def test_skipped_keys_query_rows_count_through_a_composite(query_db: str) -> None:
    pytest.importorskip("pyarrow")
    from omnistorage import MemoryBackend

    hot = Store(MemoryBackend())
    hot.write("named/hot.csv", b"n\n9\n")
    composite = CompositeStore([Tier("hot", hot), Tier("query", _query_store(query_db))])
    listing = composite.list_files(recursive=True)
    assert "named/hot.csv" in [info.path for info in listing]
    assert listing.invalid_count == 5
