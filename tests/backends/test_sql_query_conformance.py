"""SQLQueryBackend through the read-only conformance suite, on SQLite and the real
PostgreSQL, through both fetch paths.

The suite needs a tree of files with known bytes; here every file is a query whose
serialized result is computed independently below (pyarrow's CSV quoting, orjson's
NDJSON), in the suite's shapes: nested folders, an empty file (an empty NDJSON
result), a file of several MiB, names outside ASCII and full of URL syntax, and
names that are prefixes of others (``data/`` beside ``database.csv``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import pytest

pytest.importorskip("sqlalchemy")
pytest.importorskip("pyarrow")

from omnistorage import Store
from omnistorage.backends.sql import SQLQueryBackend
from omnistorage.testing.readonly import ReadOnlyConformance
from tests.support.servers import server_env

LARGE_ROWS = 40_000
PAD = "x" * 70


def _csv(header: list[str], rows: list[tuple[Any, ...]]) -> bytes:
    def cell(value: Any) -> str:
        return f'"{value}"' if isinstance(value, str) else str(value)

    lines = [",".join(f'"{h}"' for h in header)]
    lines += [",".join(cell(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def _words(name: str) -> str:
    return f"SELECT 1 AS id, '{name}' AS name"


# key as mapped (``{{``/``}}`` escape literal braces) -> (SQL, the key read, exact bytes)
_TREE: dict[str, tuple[str, str, bytes]] = {
    "top.ndjson": ("SELECT 'top level' AS t", "top.ndjson", b'{"t":"top level"}\n'),
    "empty.ndjson": ("SELECT 1 AS x WHERE 1 = 0", "empty.ndjson", b""),
    "data/a.csv": (
        "SELECT 1 AS id, 'alpha' AS name UNION ALL SELECT 2, 'beta'",
        "data/a.csv",
        _csv(["id", "name"], [(1, "alpha"), (2, "beta")]),
    ),
    "data/b.jsonl": ("SELECT 3 AS b", "data/b.jsonl", b'{"b":3}\n'),
    "data/sub/c.csv": ("SELECT 3 AS id", "data/sub/c.csv", _csv(["id"], [(3,)])),
    "data/sub/deeper/d.ndjson": (
        "SELECT 'deep' AS level, NULL AS none",
        "data/sub/deeper/d.ndjson",
        b'{"level":"deep","none":null}\n',
    ),
    "database.csv": (_words("sibling"), "database.csv", _csv(["id", "name"], [(1, "sibling")])),
    "data2/e.csv": (_words("data2"), "data2/e.csv", _csv(["id", "name"], [(1, "data2")])),
    "large/rows.ndjson": (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < "
        f"{LARGE_ROWS}) SELECT i, '{PAD}' AS pad FROM n",
        "large/rows.ndjson",
        b"".join(b'{"i":%d,"pad":"%s"}\n' % (i, PAD.encode()) for i in range(1, LARGE_ROWS + 1)),
    ),
    "special/with space.csv": (
        _words("s"),
        "special/with space.csv",
        _csv(["id", "name"], [(1, "s")]),
    ),
    "special/caf\u00e9/na\u00efve \u00fcml\u00e4ut.csv": (
        "SELECT 'caf\u00e9' AS w",
        "special/caf\u00e9/na\u00efve \u00fcml\u00e4ut.csv",
        _csv(["w"], [("caf\u00e9",)]),
    ),
    "special/emoji-\U0001f600.csv": (
        _words("e"),
        "special/emoji-\U0001f600.csv",
        _csv(["id", "name"], [(1, "e")]),
    ),
    "special/%2e%2e.csv": (_words("p"), "special/%2e%2e.csv", _csv(["id", "name"], [(1, "p")])),
    "special/a+b=c&d;e,f.csv": (
        _words("q"),
        "special/a+b=c&d;e,f.csv",
        _csv(["id", "name"], [(1, "q")]),
    ),
    "special/q?x=1#frag.csv": (
        _words("h"),
        "special/q?x=1#frag.csv",
        _csv(["id", "name"], [(1, "h")]),
    ),
    "special/[brackets] (parens) {{braces}}.csv": (
        _words("b"),
        "special/[brackets] (parens) {braces}.csv",
        _csv(["id", "name"], [(1, "b")]),
    ),
    "special/-dash~tilde'quote\".csv": (
        _words("d"),
        "special/-dash~tilde'quote\".csv",
        _csv(["id", "name"], [(1, "d")]),
    ),
}
QUERIES = {mapped: sql for mapped, (sql, _, _) in _TREE.items()}
FILES: Mapping[str, bytes] = MappingProxyType({key: data for _, key, data in _TREE.values()})


def test_the_large_file_is_several_mib() -> None:
    assert len(FILES["large/rows.ndjson"]) > 3 << 20


class _QueryConformance(ReadOnlyConformance):
    fixture: ClassVar[Mapping[str, bytes]] = FILES
    size_may_be_unknown = True
    fetch: ClassVar[str] = "sqlalchemy"

    def _url(self, tmp_path: Path) -> str:
        raise NotImplementedError

    @pytest.fixture
    def populated_store(self, tmp_path: Path) -> Iterator[Store]:
        if self.fetch == "adbc":
            pytest.importorskip("adbc_driver_sqlite")
            pytest.importorskip("adbc_driver_postgresql")
        store = Store(SQLQueryBackend(self._url(tmp_path), queries=QUERIES, fetch=self.fetch))  # type: ignore[arg-type]
        yield store
        store.close()


class TestSQLiteQueries(_QueryConformance):
    backend_name = "sql-query-sqlite"

    def _url(self, tmp_path: Path) -> str:
        (tmp_path / "q.db").touch()
        return f"sqlite:///{tmp_path}/q.db"


class TestSQLiteQueriesADBC(TestSQLiteQueries):
    backend_name = "sql-query-sqlite-adbc"
    fetch = "adbc"


@pytest.mark.server
class TestPostgresQueries(_QueryConformance):
    backend_name = "sql-query-postgresql"

    def _url(self, tmp_path: Path) -> str:
        return server_env("OMNI_TEST_POSTGRES_URL")["OMNI_TEST_POSTGRES_URL"]


@pytest.mark.server
class TestPostgresQueriesADBC(TestPostgresQueries):
    backend_name = "sql-query-postgresql-adbc"
    fetch = "adbc"
