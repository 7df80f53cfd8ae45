"""SQLQueryBackend on the real PostgreSQL: the type mapping (DECIMAL, timestamptz, JSON,
arrays, NULLs, intervals, UUIDs) on both fetch paths, patterns through server-side
cursors, schema-qualified fallbacks, and typed errors."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

pytest.importorskip("sqlalchemy")
pytest.importorskip("pyarrow")

import pyarrow as pa
import pyarrow.ipc as paipc
import pyarrow.parquet as pq
from sqlalchemy import create_engine, text

from omnistorage import DataError, NotFound, PermissionDenied, StorageError, Store
from omnistorage.backends.sql import SQLQueryBackend
from tests.support.servers import server_env

pytestmark = pytest.mark.server

FETCH = ["sqlalchemy", "adbc"]

TYPED = r"""
SELECT id, price, total, happened, local_time, doc, docb, tags, scores, amounts, note, guid
FROM {schema}.typed ORDER BY id
"""


def _url() -> str:
    return server_env("OMNI_TEST_POSTGRES_URL")["OMNI_TEST_POSTGRES_URL"]


@pytest.fixture(scope="module")
def schema() -> Iterator[str]:
    name = f"omni_q_{uuid.uuid4().hex[:10]}"
    engine = create_engine(_url())
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
        conn.execute(
            text(
                f"""CREATE TABLE {name}.typed (
                    id int PRIMARY KEY, price numeric(12, 3), total numeric,
                    happened timestamptz, local_time timestamp, doc json, docb jsonb,
                    tags text[], scores int8[], amounts numeric[], note text, guid uuid)"""
            )
        )
        conn.execute(
            text(
                f"""INSERT INTO {name}.typed VALUES
                (1, 12345678.125, 0.1000000000000000000001, '2024-03-10 23:30:00-05',
                 '2024-03-10 23:30:00', '{{"a": 1.50, "b": [true, null]}}',
                 '{{"big": 123456789012345678901234567890}}', ARRAY['x', NULL, 'z'],
                 ARRAY[1, 9007199254740993], ARRAY[1.5, NULL], 'caf\u00e9',
                 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
                (2, NULL, 'NaN', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"""
            )
        )
        conn.execute(text(f"CREATE TABLE {name}.sales (year int, region text, amount float8)"))
        conn.execute(
            text(
                f"INSERT INTO {name}.sales VALUES (2023, 'north', 1.5), (2024, 'north', 2.5), "
                "(2024, 'south', 4)"
            )
        )
        conn.execute(
            text(
                f"CREATE VIEW {name}.yearly AS SELECT year, sum(amount) AS total "
                f"FROM {name}.sales GROUP BY year"
            )
        )
    yield name
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
    engine.dispose()


def _store(schema: str, fetch: str, queries: dict[str, object], **options: object) -> Store:
    if fetch == "adbc":
        pytest.importorskip("adbc_driver_postgresql")  # the sql-adbc extra, in dev
    return Store(SQLQueryBackend(_url(), queries=queries, fetch=fetch, **options))  # type: ignore[arg-type]


@pytest.mark.parametrize("fetch", FETCH)
def test_postgres_types_map_to_arrow_exactly(schema: str, fetch: str) -> None:
    store = _store(schema, fetch, {"typed.parquet": TYPED.format(schema=schema)})
    table = pq.read_table(io.BytesIO(store.read_bytes("typed.parquet")))
    types = {field.name: field.type for field in table.schema}
    assert types["id"] == pa.int32()
    assert types["price"] == pa.decimal128(12, 3)
    assert types["total"] == pa.string()  # unconstrained numeric: exact text
    assert types["happened"] == pa.timestamp("us", tz="UTC")
    assert types["local_time"] == pa.timestamp("us")
    assert types["doc"] == pa.json_()
    assert types["docb"] == pa.json_()
    assert types["tags"] == pa.list_(pa.string())
    assert types["scores"] == pa.list_(pa.int64())
    assert types["amounts"] == pa.list_(pa.string())
    assert types["guid"] == pa.uuid()
    first, second = table.to_pylist()
    assert first["price"] == Decimal("12345678.125")
    assert first["total"] == "0.1000000000000000000001"
    assert first["happened"] == datetime(2024, 3, 11, 4, 30, tzinfo=UTC)
    assert first["local_time"] == datetime(2024, 3, 10, 23, 30)
    assert json.loads(first["doc"]) == {"a": 1.5, "b": [True, None]}
    assert first["doc"] == '{"a": 1.50, "b": [true, null]}'  # json: the text as stored
    assert "123456789012345678901234567890" in first["docb"]  # no float rounding
    assert first["tags"] == ["x", None, "z"]
    assert first["scores"] == [1, 9007199254740993]
    assert first["amounts"] == ["1.5", None]
    assert first["note"] == "caf\u00e9"
    assert first["guid"] == uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    assert second["total"].lower() == "nan"
    nulls = {k for k, v in second.items() if v is None}
    assert nulls == set(types) - {"id", "total"}


def test_both_fetch_paths_produce_the_same_table(schema: str) -> None:
    pytest.importorskip("adbc_driver_postgresql")
    query = {"typed.arrow": TYPED.format(schema=schema)}
    tables = [
        paipc.open_file(
            io.BytesIO(_store(schema, fetch, query).read_bytes("typed.arrow"))
        ).read_all()
        for fetch in ("sqlalchemy", "adbc")
    ]
    assert tables[0].schema.remove_metadata() == tables[1].schema.remove_metadata()
    assert tables[0].to_pylist() == tables[1].to_pylist()


@pytest.mark.parametrize("fetch", FETCH)
def test_ndjson_embeds_json_and_exact_decimals(schema: str, fetch: str) -> None:
    sql = f"SELECT id, price, doc, happened FROM {schema}.typed WHERE id = 1"
    line = _store(schema, fetch, {"one.ndjson": sql}).read_text("one.ndjson")
    assert line == (
        '{"id":1,"price":12345678.125,"doc":{"a": 1.50, "b": [true, null]},'
        '"happened":"2024-03-11T04:30:00+00:00"}\n'
    )


@pytest.mark.parametrize("fetch", FETCH)
def test_intervals_keep_months_days_and_time_apart(schema: str, fetch: str) -> None:
    sql = "SELECT interval '1 year 2 mons -3 days 04:05:06.5' AS iv, NULL::interval AS none"
    store = _store(schema, fetch, {"iv.arrow": sql, "iv.parquet": sql})
    table = paipc.open_file(io.BytesIO(store.read_bytes("iv.arrow"))).read_all()
    value = table.column("iv")[0].as_py()
    assert (value.months, value.days, value.nanoseconds) == (14, -3, 14_706_500_000_000)
    assert table.column("none")[0].as_py() is None
    with pytest.raises(DataError, match="'iv'"):
        store.read_bytes("iv.parquet")


@pytest.mark.parametrize("fetch", FETCH)
def test_a_decimal_column_refuses_nan_naming_the_column(schema: str, fetch: str) -> None:
    sql = "SELECT 'NaN'::numeric(5, 1) AS ratio"
    with pytest.raises(DataError, match="'ratio'"):
        _store(schema, fetch, {"r.parquet": sql}).read_bytes("r.parquet")


def test_ndjson_refuses_nan_floats(schema: str) -> None:
    store = _store(schema, "sqlalchemy", {"f.ndjson": "SELECT 'NaN'::float8 AS x"})
    with pytest.raises(DataError, match="NaN"):
        store.read_bytes("f.ndjson")


@pytest.mark.parametrize("fetch", FETCH)
def test_patterns_bind_parameters_through_a_server_side_cursor(schema: str, fetch: str) -> None:
    queries = {
        "sales/{year:int}/{region}.csv": {
            "sql": f"SELECT amount FROM {schema}.sales WHERE year = :year AND region = :region",
            "keys": f"SELECT DISTINCT year, region FROM {schema}.sales",
        }
    }
    store = _store(schema, fetch, queries, batch_rows=1)
    assert store.read_text("sales/2024/south.csv") == '"amount"\n4\n'
    assert sorted(i.path for i in store.list_files("sales", recursive=True)) == [
        "sales/2023/north.csv",
        "sales/2024/north.csv",
        "sales/2024/south.csv",
    ]
    evil = "north' OR '1'='1"
    store = _store(
        schema,
        fetch,
        {"r/{region}.csv": f"SELECT amount FROM {schema}.sales WHERE region = :region"},
    )
    assert store.read_text(f"r/{evil}.csv") == '"amount"\n'
    assert store.read_text("r/north.csv") == '"amount"\n1.5\n2.5\n'


@pytest.mark.parametrize("fetch", FETCH)
def test_an_empty_result_keeps_its_columns(schema: str, fetch: str) -> None:
    queries = {
        "e/{year:int}.parquet": f"SELECT year, amount FROM {schema}.sales WHERE year = :year"
    }
    store = _store(schema, fetch, queries)
    table = pq.read_table(io.BytesIO(store.read_bytes("e/1999.parquet")))
    assert table.num_rows == 0
    assert table.schema.field("amount").type == pa.float64()


def test_fallbacks_resolve_schema_qualified_views_and_tables(schema: str) -> None:
    store = _store(schema, "sqlalchemy", {}, strict=False)
    lines = store.read_text(f"{schema}/yearly.csv").splitlines()
    assert lines[0] == '"year","total"'
    assert sorted(lines[1:]) == ["2023,1.5", "2024,6.5"]
    assert store.resolve(f"{schema}/yearly.csv").steps[0] == f"source: view '{schema}.yearly'"
    assert store.resolve(f"{schema}/sales.csv").steps[0] == f"source: table '{schema}.sales'"
    for key in (f"{schema}/nope.csv", "no_such_schema/sales.csv", f'{schema}/"sales".csv'):
        with pytest.raises(NotFound):
            store.read_bytes(key)


def test_a_refused_privilege_is_permission_denied(schema: str) -> None:
    role = f"omni_ro_{uuid.uuid4().hex[:8]}"
    engine = create_engine(_url())
    with engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} NOLOGIN"))
    try:
        # The query switches to a role that may not read the table (within its transaction).
        sql = f"SELECT * FROM {schema}.sales"
        store = _store(schema, "sqlalchemy", {"s.csv": sql})
        backend_engine = store.unwrap(type(engine))

        from sqlalchemy import event

        @event.listens_for(backend_engine, "begin")
        def _as_role(conn: object) -> None:
            conn.exec_driver_sql(f"SET LOCAL ROLE {role}")  # type: ignore[attr-defined]

        with pytest.raises(PermissionDenied) as info:
            store.read_bytes("s.csv")
        assert info.value.temporary is False
        store.close()
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP ROLE {role}"))
        engine.dispose()


def test_a_missing_table_is_a_permanent_error(schema: str) -> None:
    store = _store(schema, "sqlalchemy", {"x.csv": f"SELECT * FROM {schema}.missing"})
    with pytest.raises(StorageError) as info:
        store.read_bytes("x.csv")
    assert not isinstance(info.value, NotFound)
    assert info.value.temporary is False


def test_an_unreachable_server_is_temporary_and_hides_the_password() -> None:
    store = Store(
        SQLQueryBackend(
            "postgresql+psycopg://user:pw-s3cret@127.0.0.1:1/db?connect_timeout=2",
            queries={"a.csv": "SELECT 1"},
        )
    )
    with pytest.raises(StorageError) as info:
        store.read_bytes("a.csv")
    assert info.value.temporary is True
    assert "pw-s3cret" not in str(info.value)
    assert "pw-s3cret" not in repr(store)
    assert "pw-s3cret" not in store.resolve("a.csv").native_path


def test_adbc_dates_match_the_sqlalchemy_path(schema: str) -> None:
    pytest.importorskip("adbc_driver_postgresql")
    sql = "SELECT DATE '2024-02-29' AS d, TIME '01:02:03.5' AS t, true AS b, 1.5::float4 AS f"
    rows = [
        pq.read_table(
            io.BytesIO(_store(schema, f, {"d.parquet": sql}).read_bytes("d.parquet"))
        ).to_pylist()
        for f in ("sqlalchemy", "adbc")
    ]
    assert rows[0] == rows[1]
    assert rows[0][0]["d"] == date(2024, 2, 29)
