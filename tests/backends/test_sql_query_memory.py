"""A 5M-row query materializes with RSS growth under 200 MiB, on SQLite and PostgreSQL,
through both fetch paths.

RSS is measured in a fresh subprocess from ``/proc/self/status``: the peak
(``VmHWM``) minus the resident size before the read (``VmRSS``), after the
libraries are imported and a one-row read of the same mapping has run. Not
``ru_maxrss``: Linux carries it across ``execve`` from the forking process.
``OMNI_SQL_MEMORY_ROWS`` changes the row count (default 5,000,000; each case takes
about 10-25 s on two cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")
pytest.importorskip("pyarrow")

from tests.support.servers import server_env

pytestmark = pytest.mark.slow  # minutes: collected first (tests/conftest.py)

MiB = 1 << 20
BUDGET = 200 * MiB
ROWS = int(os.environ.get("OMNI_SQL_MEMORY_ROWS", "5000000"))

_SCRIPT = textwrap.dedent(
    """
    import json, sys, time

    def status(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError(field)

    import pyarrow, pyarrow.parquet as pq, sqlalchemy
    from omnistorage import Store
    from omnistorage.backends.sql import SQLQueryBackend

    url, fetch, sql, spool = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[5]
    rows = int(sys.argv[4])
    if fetch == "adbc":
        import adbc_driver_manager.dbapi, adbc_driver_sqlite.dbapi, adbc_driver_postgresql.dbapi
    store = Store(SQLQueryBackend(
        url, queries={"big/{start:int}.parquet": sql}, fetch=fetch, spool_dir=spool
    ))
    assert pq.ParquetFile(store.read_seekable(f"big/{rows - 1}.parquet")).metadata.num_rows == 1
    before = status("VmRSS")
    started = time.monotonic()
    with store.read_seekable("big/0.parquet") as reader:
        seconds = time.monotonic() - started
        growth = status("VmHWM") - before
        meta = pq.ParquetFile(reader).metadata
    print(json.dumps({"growth": growth, "rows": meta.num_rows, "groups": meta.num_row_groups,
                      "seconds": round(seconds, 1)}))
    """
)

SQLITE_SQL = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) "
    "SELECT i AS id, i * 0.5 AS half, 'row ' || i AS label FROM n WHERE i > :start"
)
POSTGRES_SQL = (
    "SELECT g AS id, g * 0.5::float8 AS half, 'row ' || g AS label, "
    "timestamptz '2024-01-01 00:00+00' + g * interval '1 second' AS at, "
    "(g % 1000)::numeric(10, 2) AS price "
    "FROM generate_series(1, {rows}) g WHERE g > :start"
)


def _measure(url: str, fetch: str, sql: str, spool: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, url, fetch, sql.format(rows=ROWS), str(ROWS), str(spool)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _check(result: dict[str, float]) -> None:
    assert result["rows"] == ROWS, result
    assert result["groups"] > 1, result  # row groups were written as the rows came
    assert result["growth"] < BUDGET, f"RSS grew {result['growth'] / MiB:.0f} MiB: {result}"


def test_the_measurement_sees_growth(tmp_path: Path) -> None:
    code = _SCRIPT.split("import pyarrow")[0] + (
        "before = status('VmRSS'); block = bytearray(96 << 20); print(status('VmHWM') - before)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(done.stdout) >= 96 * MiB


@pytest.mark.parametrize("fetch", ["sqlalchemy", "adbc"])
def test_a_large_sqlite_result_materializes_in_bounded_memory(tmp_path: Path, fetch: str) -> None:
    if fetch == "adbc":
        pytest.importorskip("adbc_driver_sqlite")
    (tmp_path / "empty.db").touch()
    _check(_measure(f"sqlite:///{tmp_path}/empty.db", fetch, SQLITE_SQL, tmp_path))


@pytest.mark.server
@pytest.mark.parametrize("fetch", ["sqlalchemy", "adbc"])
def test_a_large_postgres_result_materializes_in_bounded_memory(tmp_path: Path, fetch: str) -> None:
    if fetch == "adbc":
        pytest.importorskip("adbc_driver_postgresql")
    url = server_env("OMNI_TEST_POSTGRES_URL")["OMNI_TEST_POSTGRES_URL"]
    _check(_measure(url, fetch, POSTGRES_SQL, tmp_path))
