"""SQLQueryBackend on SQLite (a file): mappings, patterns, formats, the read-only contract,
capabilities, spooling, type errors, configuration. PostgreSQL and ADBC are in
test_sql_query_postgres.py, memory in test_sql_query_memory.py."""

from __future__ import annotations

import doctest
import io
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")
pytest.importorskip("pyarrow")

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as paipc
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine

from omnistorage import (
    BackendClosed,
    Capability,
    CapabilityNotSupported,
    ConfigurationError,
    DataError,
    NotFound,
    RegistryConfig,
    StorageError,
    Store,
)
from omnistorage.backends.sql import QuerySpec, SQLQueryBackend
from omnistorage.registry import check_backend_options

SALES = [
    (2023, "north", 10.5),
    (2023, "south", 7.25),
    (2024, "north", 3.0),
    (2024, "o'brien; DROP TABLE sales; --", 1.0),
]


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE sales (year INTEGER, region TEXT, amount REAL)")
        conn.executemany("INSERT INTO sales VALUES (?, ?, ?)", SALES)
        conn.execute("CREATE TABLE secrets (token TEXT)")
        conn.execute("INSERT INTO secrets VALUES ('hunter2')")
        conn.execute(
            "CREATE VIEW yearly AS SELECT year, SUM(amount) AS total FROM sales GROUP BY year"
        )
    return str(path)


def _store(db: str, **options: object) -> Store:
    queries = options.pop(
        "queries",
        {
            "reports/all.parquet": "SELECT year, region, amount FROM sales ORDER BY rowid",
            "reports/all.csv": "SELECT year, region, amount FROM sales ORDER BY rowid",
            "sales/{year:int}/{region}.ndjson": {
                "sql": "SELECT year, region, amount FROM sales "
                "WHERE year = :year AND region = :region",
                "keys": "SELECT DISTINCT year, region FROM sales",
            },
            "by-region/{region}.csv": "SELECT year, amount FROM sales WHERE region = :region",
        },
    )
    return Store(SQLQueryBackend(f"sqlite:///{db}", queries=queries, **options))  # type: ignore[arg-type]


def _sales_count(db: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM sales").fetchone()[0])


# ------------------------------------------------------------ formats


def _rows(table: pa.Table) -> list[tuple[object, ...]]:
    return [tuple(row.values()) for row in table.to_pylist()]


@pytest.mark.parametrize(
    "extension", ["parquet", "csv", "arrow", "feather", "arrows", "ndjson", "jsonl"]
)
def test_each_format_extension_serves_the_query_result(db: str, extension: str) -> None:
    store = _store(
        db, queries={f"all.{extension}": "SELECT year, region, amount FROM sales ORDER BY rowid"}
    )
    data = store.read_bytes(f"all.{extension}")
    if extension == "parquet":
        table = pq.read_table(io.BytesIO(data))
    elif extension == "csv":
        table = pacsv.read_csv(io.BytesIO(data))
    elif extension in ("arrow", "feather"):
        table = paipc.open_file(io.BytesIO(data)).read_all()
    elif extension == "arrows":
        table = paipc.open_stream(io.BytesIO(data)).read_all()
    else:
        table = pa.Table.from_pylist([json.loads(line) for line in data.splitlines()])
        assert data.endswith(b"\n")
    assert _rows(table) == SALES


def test_an_empty_result_is_a_valid_file_with_the_columns(db: str) -> None:
    store = _store(db, queries={"none.parquet": "SELECT year, region FROM sales WHERE 0"})
    table = pq.read_table(io.BytesIO(store.read_bytes("none.parquet")))
    assert table.num_rows == 0
    assert table.column_names == ["year", "region"]


def test_csv_keeps_null_and_empty_string_apart(db: str) -> None:
    store = _store(db, queries={"n.csv": "SELECT NULL AS a, '' AS b, 'x,\"y\"' AS c"})
    assert store.read_text("n.csv") == '"a","b","c"\n,"","x,""y"""\n'


def test_ndjson_refuses_infinity_instead_of_writing_null(db: str) -> None:
    store = _store(db, queries={"inf.ndjson": "SELECT 1e999 AS x"})
    with pytest.raises(DataError, match="Infinity"):
        store.read_bytes("inf.ndjson")


def test_csv_refuses_binary_columns_naming_them(db: str) -> None:
    store = _store(db, queries={"b.csv": "SELECT x'00ff' AS payload"})
    with pytest.raises(DataError, match="'payload'"):
        store.read_bytes("b.csv")


def test_types_overrides_cast_columns(db: str) -> None:
    spec = QuerySpec(
        sql="SELECT '2024-02-29' AS day, '12.50' AS price, '{\"a\": [1]}' AS doc",
        types={"day": "date32", "price": "decimal128(10, 2)", "doc": "json"},
    )
    store = _store(db, queries={"t.parquet": spec})
    table = pq.read_table(io.BytesIO(store.read_bytes("t.parquet")))
    assert table.schema.field("day").type == pa.date32()
    assert table.schema.field("price").type == pa.decimal128(10, 2)
    assert table.schema.field("doc").type == pa.json_()
    row = table.to_pylist()[0]
    assert row["day"] == date(2024, 2, 29)
    assert str(row["price"]) == "12.50"


def test_a_value_that_does_not_fit_the_inferred_type_names_the_column(db: str) -> None:
    # SQLite is dynamically typed: the first batch fixes the column as integers.
    sql = "SELECT CASE WHEN year = 2024 THEN 'text' ELSE year END AS mixed FROM sales ORDER BY year"
    store = _store(db, queries={"m.parquet": sql}, batch_rows=2)
    with pytest.raises(DataError, match=r"column 'mixed'.*types"):
        store.read_bytes("m.parquet")


def test_a_lossy_types_override_is_refused(db: str) -> None:
    spec = QuerySpec(sql="SELECT 1.005 AS x", types={"x": "decimal128(5, 2)"})
    with pytest.raises(DataError, match="'x'"):
        _store(db, queries={"x.parquet": spec}).read_bytes("x.parquet")


# ------------------------------------------------------------ keys and patterns


def test_pattern_placeholders_select_rows(db: str) -> None:
    store = _store(db)
    lines = store.read_text("sales/2023/south.ndjson").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"year": 2023, "region": "south", "amount": 7.25}
    ]


def test_int_placeholders_take_only_canonical_integers(db: str) -> None:
    store = _store(db, queries={"y/{year:int}.csv": "SELECT * FROM sales WHERE year = :year"})
    assert store.read_text("y/2024.csv").count("\n") == 3
    for key in ("y/02024.csv", "y/-0.csv", "y/20x4.csv", "y/+1.csv"):
        assert not store.exists(key)
        with pytest.raises(NotFound):
            store.read_bytes(key)


def test_a_keys_query_lists_pattern_keys_and_only_listed_keys_exist(db: str) -> None:
    store = _store(db)
    listed = sorted(i.path for i in store.list_files("sales", recursive=True))
    assert "sales/2023/north.ndjson" in listed
    assert "sales/2024/north.ndjson" in listed
    assert not store.exists("sales/2022/north.ndjson")  # matches the pattern, not in keys
    with pytest.raises(NotFound):
        store.read_bytes("sales/2022/north.ndjson")


def test_a_pattern_without_keys_is_not_listed_but_every_match_exists(db: str) -> None:
    store = _store(db)
    assert [i.path for i in store.list_files("by-region")] == []
    assert store.exists("by-region/nowhere.csv")
    assert store.read_text("by-region/nowhere.csv") == '"year","amount"\n'


def test_listing_is_folder_aware_and_sorted(db: str) -> None:
    store = _store(db)
    assert sorted(store.list_folders("")) == ["reports", "sales"]
    assert [i.path for i in store.list_files("reports")] == [
        "reports/all.csv",
        "reports/all.parquet",
    ]
    assert sorted(store.list_folders("sales")) == ["sales/2023", "sales/2024"]


def test_glob_matches_mapped_keys(db: str) -> None:
    store = _store(db)
    assert [i.path for i in store.glob("reports/*.csv")] == ["reports/all.csv"]
    assert sorted(i.path for i in store.glob("sales/2023/*.ndjson")) == [
        "sales/2023/north.ndjson",
        "sales/2023/south.ndjson",
    ]


def test_exact_keys_win_over_patterns(db: str) -> None:
    store = _store(
        db,
        queries={
            "r/{region}.csv": "SELECT 'pattern' AS src WHERE :region IS NOT NULL",
            "r/special.csv": "SELECT 'exact' AS src",
        },
    )
    assert store.read_text("r/special.csv") == '"src"\n"exact"\n'
    assert store.read_text("r/other.csv") == '"src"\n"pattern"\n'


# ------------------------------------------------------------ SQL injection through keys

_NASTY = st.text(
    alphabet=st.sampled_from(list("'\";-)(*%_=/\\ ORANDdrop1xX\u00e9")) | st.characters(),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(region=_NASTY)
def test_key_values_are_bound_never_spliced_into_sql(db: str, region: str) -> None:
    store = _store(db)
    key = f"by-region/{region}.csv"
    try:
        text = store.read_text(key)
    except StorageError:
        # Keys outside the grammar ('/', control characters …) never reach SQL.
        assert _sales_count(db) == len(SALES)
        return
    got = text.splitlines()[1:]
    expected = [f"{y},{a:g}" for y, r, a in SALES if r == region]
    assert got == expected
    assert _sales_count(db) == len(SALES)


def test_a_key_holding_sql_reads_only_its_own_row(db: str) -> None:
    store = _store(db)
    evil = "o'brien; DROP TABLE sales; --"
    assert store.read_text(f"by-region/{evil}.csv") == '"year","amount"\n2024,1\n'
    assert store.read_text("by-region/x' OR '1'='1.csv") == '"year","amount"\n'
    assert _sales_count(db) == len(SALES)
    assert "parameters (bound)" in " ".join(store.resolve(f"by-region/{evil}.csv").steps)


@pytest.mark.parametrize(
    "key",
    [
        "sales; DROP TABLE sales.parquet",
        "secrets UNION SELECT 1.parquet",
        '"secrets".parquet',
        "main/sales; --.parquet",
        "sales WHERE 1=1.parquet",
    ],
)
def test_fallback_names_must_be_listed_by_the_database(db: str, key: str) -> None:
    store = _store(db, queries={}, strict=False)
    with pytest.raises(NotFound):
        store.read_bytes(key)
    assert _sales_count(db) == len(SALES)


# ------------------------------------------------------------ strict and fallbacks


def test_strict_mode_serves_only_mapped_keys(db: str) -> None:
    store = _store(db)
    for key in ("sales.parquet", "secrets.csv", "yearly.parquet", "main/secrets.csv"):
        assert not store.exists(key)
        with pytest.raises(NotFound):
            store.read_bytes(key)
    assert "strict" in store.resolve("secrets.csv").steps[0]


def test_fallbacks_serve_views_then_tables_when_not_strict(db: str) -> None:
    store = _store(db, queries={}, strict=False)
    assert store.read_text("yearly.csv") == '"year","total"\n2023,17.75\n2024,4\n'
    assert "hunter2" in store.read_text("secrets.csv")  # the convention exposes tables
    assert store.resolve("yearly.csv").steps[0] == "source: view 'yearly'"
    assert store.resolve("main/secrets.csv").steps[0] == "source: table 'main.secrets'"
    assert sorted(i.path for i in store.list_files()) == [
        "sales.parquet",
        "secrets.parquet",
        "yearly.parquet",
    ]


def test_fallbacks_can_be_limited_to_views(db: str) -> None:
    store = _store(db, queries={}, strict=False, fallbacks=["views"])
    assert store.exists("yearly.parquet")
    assert not store.exists("secrets.csv")
    assert [i.path for i in store.list_files()] == ["yearly.parquet"]


# ------------------------------------------------------------ read-only contract and capabilities


def test_capabilities_are_read_list_metadata_and_pinned_reads(db: str) -> None:
    store = _store(db)
    assert store.features.capabilities == {
        Capability.READ,
        Capability.LIST,
        Capability.METADATA,
        Capability.PINNED_READ,
    }


def _unreachable_store() -> Store:
    # No server at this port: any I/O would raise BackendUnavailable, not the capability error.
    engine = create_engine("postgresql+psycopg://u:p@127.0.0.1:1/db")
    return Store(SQLQueryBackend(engine=engine, queries={"a.csv": "SELECT 1"}))


@pytest.mark.parametrize(
    "operation",
    [
        lambda s: s.write("a.csv", b"x", overwrite=True),
        lambda s: s.write("new.csv", b"x"),
        lambda s: s.write_atomic("new.csv", b"x"),
        lambda s: s.open_atomic("new.csv"),
        lambda s: s.open_writer("new.csv"),
        lambda s: s.delete("a.csv"),
        lambda s: s.delete_folder("", recursive=True),
        lambda s: s.copy("a.csv", "b.csv"),
        lambda s: s.move("a.csv", "b.csv"),
        lambda s: s.make_folder("f"),
    ],
    ids=[
        "overwrite",
        "write",
        "write_atomic",
        "open_atomic",
        "open_writer",
        "delete",
        "delete_folder",
        "copy",
        "move",
        "make_folder",
    ],
)
def test_every_change_is_refused_before_any_io(operation: object) -> None:
    store = _unreachable_store()
    with pytest.raises(CapabilityNotSupported):
        operation(store)  # type: ignore[operator]


def test_stat_does_not_run_the_query_and_reports_an_unknown_size(db: str) -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    spec = {"sql": "SELECT * FROM no_such_table", "modified": "2024-05-01T12:00:00+00:00"}
    store = _store(db, queries={"lazy.parquet": spec})
    info = store.get_file_info("lazy.parquet")  # the query would fail: it never runs
    assert info.size is None
    assert info.modified == when
    assert info.content_type == "application/vnd.apache.parquet"
    assert store.get_folder_info("").total_size == 0
    assert [i.size for i in store.list_files()] == [None]
    with pytest.raises(StorageError, match="no_such_table"):
        store.read_bytes("lazy.parquet")


def test_a_seekable_reader_keeps_its_version_while_the_table_changes(db: str) -> None:
    store = _store(db)
    with store.read_seekable("reports/all.parquet") as reader:
        head = reader.read(4)
        with sqlite3.connect(db) as conn:
            conn.execute("DELETE FROM sales")
        reader.seek(0)
        data = reader.read()
    assert head == b"PAR1"
    assert _rows(pq.read_table(io.BytesIO(data))) == SALES
    assert pq.read_table(io.BytesIO(store.read_bytes("reports/all.parquet"))).num_rows == 0


def test_ranged_reads_are_slices_of_the_materialized_file(db: str) -> None:
    store = _store(db)
    whole = store.read_bytes("reports/all.csv")
    assert store.read_range("reports/all.csv", 3, 10) == whole[3:13]
    assert store.read_range("reports/all.csv", len(whole) - 2, 10) == whole[-2:]
    assert store.read_range("reports/all.csv", len(whole) + 5, 10) == b""


def _fds_into(folder: Path) -> list[str]:
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            targets.append(target)
    return targets


def test_results_past_the_spool_threshold_go_to_a_temp_file(db: str, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    big = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 20000) "
        "SELECT i, 'row ' || i AS label FROM n"
    )
    store = _store(
        db,
        queries={"big.csv": big, "small.csv": "SELECT 1 AS x"},
        spool_memory=64 << 10,
        spool_dir=str(spool),
    )
    with store.read("small.csv") as reader:
        assert _fds_into(spool) == []
        assert reader.read() == b'"x"\n1\n'
    with store.read("big.csv") as reader:
        assert len(_fds_into(spool)) == 1  # on disk, already unlinked
        assert reader.read().count(b"\n") == 20001
    assert _fds_into(spool) == []
    assert os.listdir(spool) == []


def test_sql_errors_are_typed_and_not_temporary(db: str) -> None:
    store = _store(db, queries={"bad.csv": "SELEC nonsense"})
    with pytest.raises(StorageError) as info:
        store.read_bytes("bad.csv")
    assert info.value.temporary is False
    assert info.value.path == "bad.csv"
    assert "syntax" in str(info.value)


# ------------------------------------------------------------ engines


def test_a_borrowed_engine_is_left_open_and_children_share_it(db: str) -> None:
    engine = create_engine(f"sqlite:///{db}")
    backend = SQLQueryBackend(engine=engine, queries={"a/b.csv": "SELECT 1 AS x"})
    store = Store(backend)
    child = store.child("a")
    assert child.unwrap() is backend
    assert child.unwrap(Engine) is engine
    assert child.read_text("b.csv") == '"x"\n1\n'
    store.close()
    with pytest.raises(BackendClosed):
        child.read_bytes("b.csv")
    with engine.connect() as conn:  # still usable: the owner disposes it
        assert conn.exec_driver_sql("SELECT 2").scalar_one() == 2


def test_an_owned_engine_is_disposed_on_close(db: str) -> None:
    store = _store(db)
    engine = store.unwrap(Engine)
    store.read_bytes("reports/all.csv")
    assert engine.pool.checkedin() == 1
    store.close()
    assert engine.pool.checkedin() == 0


def test_a_read_only_database_file_can_be_served(db: str) -> None:
    store = Store(
        SQLQueryBackend(
            f"sqlite:///file:{db}?mode=ro&uri=true",
            queries={"a.csv": "SELECT count(*) AS n FROM sales"},
        )
    )
    assert store.read_text("a.csv") == '"n"\n4\n'


# ------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    ("queries", "options", "message"),
    [
        ({"a.xlsx": "SELECT 1"}, {}, "format extension"),
        ({"a}.csv": "SELECT 1"}, {}, "unbalanced brace"),
        ({"a": "SELECT 1"}, {}, "format extension"),
        ({"../a.csv": "SELECT 1"}, {}, r"'\.\./a\.csv'"),
        ({"a/{x}.csv": "SELECT 1"}, {}, "placeholders"),
        ({"a/{x}.csv": "SELECT :y"}, {}, "placeholders"),
        ({"a.csv": "SELECT :y"}, {}, "parameters"),
        ({"a/{x:float}.csv": "SELECT :x"}, {}, "bad placeholder"),
        ({"a/{x}{x}.csv": "SELECT :x"}, {}, "twice"),
        ({"a/{x}.{fmt}": "SELECT :x, :fmt"}, {}, "literal format extension"),
        ({"a.csv": {"sql": "SELECT 1", "colour": "red"}}, {}, "'colour'"),
        ({"a.csv": {"keys": "SELECT 1"}}, {}, "needs 'sql'"),
        ({"a.csv": {"sql": "SELECT 1", "keys": "SELECT 1"}}, {}, "no placeholders"),
        ({"a.csv": {"sql": "SELECT 1", "types": {"x": "bogus"}}}, {}, "'bogus'"),
        ({"a.csv": {"sql": "SELECT 1", "modified": "yesterday"}}, {}, "ISO 8601"),
        ({"a.csv": "SELECT 1"}, {"fallbacks": ["views"]}, "strict=False"),
        ({"a.csv": "SELECT 1"}, {"strict": False, "fallbacks": ["indexes"]}, "fallbacks"),
        ({"a.csv": "SELECT 1"}, {"fetch": "odbc"}, "fetch"),
        ({"a.csv": "SELECT 1"}, {"batch_rows": 0}, "batch_rows"),
    ],
)
def test_bad_configuration_is_refused_naming_the_problem(
    db: str, queries: dict[str, object], options: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        SQLQueryBackend(f"sqlite:///{db}", queries=queries, **options)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=message):
        check_backend_options("sql-query", {"url": "sqlite://", "queries": queries, **options})


def test_a_registry_builds_it_from_toml(db: str, tmp_path: Path) -> None:
    config = tmp_path / "omni.toml"
    config.write_text(
        f"""
[backends.reports]
type = "sql-query"

[backends.reports.options]
url = "sqlite:///{db}"

[backends.reports.options.queries]
"totals.csv" = "SELECT year, SUM(amount) AS total FROM sales GROUP BY year"

[backends.reports.options.queries."sales/{{year:int}}.parquet"]
sql = "SELECT region, amount FROM sales WHERE year = :year"
keys = "SELECT DISTINCT year FROM sales"
types = {{ amount = "float32" }}

[stores.reports]
backend = "reports"
"""
    )
    registry_config = RegistryConfig.from_toml(config)
    from omnistorage import Registry

    with Registry(registry_config) as registry:
        store = registry.store("reports")
        assert store.read_text("totals.csv") == '"year","total"\n2023,17.75\n2024,4\n'
        table = pq.read_table(io.BytesIO(store.read_bytes("sales/2024.parquet")))
        assert table.schema.field("amount").type == pa.float32()
        assert sorted(i.path for i in store.list_files("sales")) == [
            "sales/2023.parquet",
            "sales/2024.parquet",
        ]


def _imported_after(statement: str) -> list[str]:
    found = "[m for m in ('sqlalchemy', 'pyarrow') if m in sys.modules]"
    code = f"import sys; {statement}; print({found})"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.replace("'", '"'))  # type: ignore[no-any-return]


def test_importing_omnistorage_imports_neither_sqlalchemy_nor_pyarrow() -> None:
    assert _imported_after("import omnistorage") == []


def test_the_blob_backend_does_not_need_pyarrow() -> None:
    assert _imported_after("from omnistorage.backends.sql import SQLBlobBackend") == ["sqlalchemy"]


def test_the_module_example_runs() -> None:
    from omnistorage.backends.sql import _query

    failures, tried = doctest.testmod(_query, optionflags=doctest.ELLIPSIS)
    assert tried > 0
    assert failures == 0


def test_pandas_and_pyarrow_read_results_through_the_adapters(db: str) -> None:
    pd = pytest.importorskip("pandas")
    from omnistorage.ext.arrow import arrow_filesystem

    store = _store(db)
    frame = pd.read_csv("omni://reports/all.csv", storage_options={"store": store})
    assert frame["amount"].sum() == pytest.approx(21.75)
    table = pq.read_table("reports/all.parquet", filesystem=arrow_filesystem(store))
    assert _rows(table) == SALES
