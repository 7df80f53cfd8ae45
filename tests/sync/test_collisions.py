"""Names one destination stores as one file (case, Unicode form) are reported, never merged.

The destinations are real: SQLite tables whose key column is ``COLLATE NOCASE`` and,
on the PostgreSQL server, a ``citext`` key and a nondeterministic ICU collation that
ignores case and Unicode form. A case-sensitive table is the control: nothing collides.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")

from sqlalchemy import create_engine, text

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.backends.sql import SQLBlobBackend
from omnistorage.sync import bisync, copy, sync
from tests.support.servers import server_env
from tests.sync.support import contents, fill

NFC = unicodedata.normalize("NFC", "caf\u00e9.txt")
NFD = unicodedata.normalize("NFD", NFC)

CASE_TWINS = {
    "README.md": b"upper",
    "readme.md": b"lower",
    "Docs/Guide.txt": b"guide one",
    "docs/guide.TXT": b"guide two",
}
UNIQUE = {"a.txt": b"alone", "sub/b.bin": b"\x00\x01"}


def sqlite_table(path: Path, collation: str) -> Store:
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE t (key TEXT PRIMARY KEY {collation}, data BLOB NOT NULL)"))
    engine.dispose()
    return Store(SQLBlobBackend(url, table="t"))


@pytest.fixture
def nocase(tmp_path: Path) -> Iterator[Store]:
    store = sqlite_table(tmp_path / "nocase.db", "COLLATE NOCASE")
    yield store
    store.close()


def memory_source(files: dict[str, bytes]) -> Store:
    store = Store(MemoryBackend())
    fill(store, files)
    return store


def test_the_destination_declares_what_its_collation_does(nocase: Store, tmp_path: Path) -> None:
    assert nocase.features.case_insensitive is True
    binary = sqlite_table(tmp_path / "binary.db", "")
    assert binary.features.case_insensitive is False
    binary.close()


@pytest.mark.parametrize("mode", ["sync", "copy"])
def test_case_twins_into_a_nocase_table_are_errors_and_nothing_merges(
    mode: str, nocase: Store
) -> None:
    nocase.write("old.txt", b"an extra file sync would delete")
    src = memory_source({**CASE_TWINS, **UNIQUE})
    report = (sync if mode == "sync" else copy)(src, nocase)
    assert not report.ok
    assert sorted(e.path for e in report.errors if e.path) == sorted(CASE_TWINS)
    assert all("one name on the destination" in e.error for e in report.errors)
    assert report.copied == sorted(UNIQUE)
    assert report.deleted == []
    assert contents(nocase) == {**UNIQUE, "old.txt": b"an extra file sync would delete"}


def test_a_source_name_twinned_by_a_destination_name_is_left_alone(nocase: Store) -> None:
    nocase.write("Readme.md", b"the destination's own")
    report = sync(memory_source({"README.md": b"source", **UNIQUE}), nocase)
    assert not report.ok
    assert {e.path for e in report.errors} == {"README.md", "Readme.md"}
    assert nocase.read_bytes("Readme.md") == b"the destination's own"
    assert report.deleted == []


def test_a_case_sensitive_table_takes_every_name(tmp_path: Path) -> None:
    binary = sqlite_table(tmp_path / "binary.db", "")
    src = memory_source({**CASE_TWINS, **UNIQUE})
    report = sync(src, binary)
    assert report.ok, report.errors
    assert contents(binary) == {**CASE_TWINS, **UNIQUE}
    binary.close()


def test_bisync_with_a_nocase_side_reports_twins_and_keeps_everything(
    nocase: Store, tmp_path: Path
) -> None:
    one = Store(LocalBackend(tmp_path / "one"))
    fill(one, {**CASE_TWINS, **UNIQUE})
    state = tmp_path / "state.bisync"
    report = bisync(one, nocase, state=state)
    assert not report.ok
    assert not report.state_saved
    assert {e.path for e in report.all_errors()} == set(CASE_TWINS)
    assert contents(one) == {**CASE_TWINS, **UNIQUE}
    assert contents(nocase) == UNIQUE


# ---------------------------------------------------------------- PostgreSQL


@pytest.fixture
def postgres_table() -> Iterator[object]:
    url = server_env("OMNI_TEST_POSTGRES_URL")["OMNI_TEST_POSTGRES_URL"]
    engine = create_engine(url)
    made: list[tuple[str, Store]] = []

    def make(column: str) -> Store:
        name = f"fold_{uuid.uuid4().hex[:10]}"
        with engine.begin() as conn:
            conn.execute(text(f"CREATE TABLE {name} (key {column} PRIMARY KEY, data BYTEA)"))
        store = Store(SQLBlobBackend(url, table=name))
        made.append((name, store))
        return store

    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS citext"))
        conn.execute(
            text(
                "CREATE COLLATION IF NOT EXISTS omni_fold_ci (provider = icu, "
                "locale = 'und-u-ks-level2', deterministic = false)"
            )
        )
    yield make
    for name, store in made:
        store.close()
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {name}"))
    engine.dispose()


@pytest.mark.server
def test_a_citext_key_folds_case(postgres_table: object) -> None:
    store = postgres_table("CITEXT")  # type: ignore[operator]
    assert store.features.case_insensitive is True
    assert store.features.normalizes_unicode is False
    report = sync(memory_source({**CASE_TWINS, **UNIQUE}), store)
    assert not report.ok
    assert sorted(e.path for e in report.errors if e.path) == sorted(CASE_TWINS)
    assert contents(store) == UNIQUE


@pytest.mark.server
def test_an_icu_collation_folds_case_and_unicode_form(postgres_table: object) -> None:
    store = postgres_table("TEXT COLLATE omni_fold_ci")  # type: ignore[operator]
    assert store.features.case_insensitive is True
    assert store.features.normalizes_unicode is True
    store.write(NFC, b"nfc")
    assert store.exists(NFD)
    store.delete(NFC)
    twins = {NFC: b"composed", NFD: b"decomposed", "CAF\u00c9.TXT": b"upper"}
    report = sync(memory_source({**twins, **UNIQUE}), store)
    assert not report.ok
    assert sorted(e.path for e in report.errors if e.path) == sorted(twins)
    assert contents(store) == UNIQUE


@pytest.mark.server
def test_a_deterministic_postgres_key_folds_nothing(postgres_table: object) -> None:
    store = postgres_table("TEXT")  # type: ignore[operator]
    assert store.features.case_insensitive is False
    assert store.features.normalizes_unicode is False
    twins = {**CASE_TWINS, NFC: b"composed", NFD: b"decomposed"}
    report = sync(memory_source(twins), store)
    assert report.ok, report.errors
    assert contents(store) == twins
