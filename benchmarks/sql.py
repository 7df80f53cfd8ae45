"""SQL backends, measured against their peers in the same run.

    eval "$(bash scripts/servers.sh env)"   # for the PostgreSQL rows
    python benchmarks/sql.py [--blobs] [--query] [--rows 1000000] [--repeat 3]

**Blobs** (``SQLBlobBackend``): write (create-only) and read of 10 KiB and 1 MiB
objects, best of ``--repeat`` rounds, in MiB/s and as a ratio of the local
backend (the issue's peer) and of raw ``sqlite3`` (one ``INSERT`` / ``SELECT``
per object into a ``key, data`` table: the practical limit of a SQLite file).
Rows: SQLite chunked layout (the default), SQLite single-row table, and the same
two on PostgreSQL when ``OMNI_TEST_POSTGRES_URL`` is set.

**Query → Parquet** (``SQLQueryBackend``): a ``--rows`` table (int, float, text,
timestamp, and on PostgreSQL ``numeric(12, 2)``) read into a Parquet file on disk,
through our SQLAlchemy path and our ADBC path, against
``pandas.read_sql(...).to_parquet(...)`` (zstd on both sides). Each case runs in a
fresh process: the wall time and the peak RSS growth (``VmHWM`` minus ``VmRSS``
after imports). Target (issue 12): at least 1.0x pandas' speed with a lower peak.

The machine is shared: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

MiB = 1 << 20


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ---------------------------------------------------------------- blobs


def best(repeat: int, run: Callable[[int], None]) -> float:
    times = []
    for attempt in range(repeat):
        start = time.perf_counter()
        run(attempt)
        times.append(time.perf_counter() - start)
    return min(times)


def blob_stores(
    base: Path, pg_url: str | None
) -> dict[str, Callable[[], tuple[object, Callable[[], None]]]]:
    from sqlalchemy import create_engine, text

    from omnistorage import LocalBackend, Store
    from omnistorage.backends.sql import SQLBlobBackend

    def local() -> tuple[object, Callable[[], None]]:
        folder = Path(tempfile.mkdtemp(dir=base))
        return Store(LocalBackend(folder)), lambda: shutil.rmtree(folder)

    def sqlite_chunked() -> tuple[object, Callable[[], None]]:
        path = base / f"{uuid.uuid4().hex}.db"
        store = Store(SQLBlobBackend(f"sqlite:///{path}"))
        return store, store.close

    def sqlite_single() -> tuple[object, Callable[[], None]]:
        path = base / f"{uuid.uuid4().hex}.db"
        with sqlite3.connect(path) as conn:
            conn.execute(
                "CREATE TABLE objects (key TEXT PRIMARY KEY, data BLOB NOT NULL, size INTEGER, "
                "modified_at TIMESTAMP, content_type TEXT, digest TEXT, extra TEXT)"
            )
        store = Store(SQLBlobBackend(f"sqlite:///{path}", table="objects"))
        return store, store.close

    def pg(single: bool) -> Callable[[], tuple[object, Callable[[], None]]]:
        def make() -> tuple[object, Callable[[], None]]:
            assert pg_url is not None
            name = f"bench_{uuid.uuid4().hex[:10]}"
            engine = create_engine(pg_url)
            if single:
                with engine.begin() as conn:
                    conn.execute(
                        text(
                            f"CREATE TABLE {name} (key TEXT PRIMARY KEY, data BYTEA NOT NULL, "
                            "size BIGINT, modified_at TIMESTAMPTZ, content_type TEXT, "
                            "digest TEXT, extra TEXT)"
                        )
                    )
                store = Store(SQLBlobBackend(pg_url, table=name))
                drops = [name]
            else:
                store = Store(SQLBlobBackend(pg_url, table_prefix=name))
                drops = [f"{name}_blobs", f"{name}_chunks", f"{name}_uploads"]

            def cleanup() -> None:
                store.close()
                with engine.begin() as conn:
                    for table in drops:
                        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
                engine.dispose()

            return store, cleanup

        return make

    stores = {
        "local": local,
        "sqlite chunked": sqlite_chunked,
        "sqlite single-row": sqlite_single,
    }
    if pg_url:
        stores["postgresql chunked"] = pg(False)
        stores["postgresql single-row"] = pg(True)
    return stores


def raw_sqlite(base: Path, payload: bytes, count: int, repeat: int) -> tuple[float, float]:
    path = base / f"raw-{uuid.uuid4().hex}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE kv (key TEXT PRIMARY KEY, data BLOB NOT NULL)")

    def write(attempt: int) -> None:
        for i in range(count):
            conn.execute("INSERT INTO kv VALUES (?, ?)", (f"r{attempt}/o{i}", payload))

    def read(attempt: int) -> None:
        for i in range(count):
            conn.execute("SELECT data FROM kv WHERE key = ?", (f"r0/o{i}",)).fetchone()

    w, r = best(repeat, write), best(repeat, read)
    conn.close()
    return w, r


def time_store(store: Any, payload: bytes, count: int, repeat: int) -> tuple[float, float]:
    """Best (write, read) seconds for ``count`` objects of ``payload``."""

    def write(attempt: int) -> None:
        for i in range(count):
            store.write(f"r{attempt}/o{i}.bin", payload)

    def read(attempt: int) -> None:
        for i in range(count):
            store.read_bytes(f"r0/o{i}.bin")

    return best(repeat, write), best(repeat, read)


def run_blobs(repeat: int, pg_url: str | None) -> None:
    base = Path(tempfile.mkdtemp(prefix="omni-bench-sql-"))
    try:
        for size, count in ((10 << 10, 500), (1 << 20, 40)):
            payload = os.urandom(size)
            volume = size * count / MiB
            raw_w, raw_r = raw_sqlite(base, payload, count, repeat)
            results: dict[str, tuple[float, float]] = {}
            for name, make in blob_stores(base, pg_url).items():
                store, cleanup = make()
                try:
                    results[name] = time_store(store, payload, count, repeat)
                finally:
                    cleanup()
            local_w, local_r = results["local"]
            print(f"\n{size >> 10} KiB objects x {count} (best of {repeat}), MiB/s:")
            print(
                f"  {'store':24} {'write':>8} {'read':>8}   vs local (w/r)   vs raw sqlite3 (w/r)"
            )
            print(f"  {'raw sqlite3 (kv table)':24} {volume / raw_w:8.1f} {volume / raw_r:8.1f}")
            for name, (w, r) in results.items():
                print(
                    f"  {name:24} {volume / w:8.1f} {volume / r:8.1f}   "
                    f"{local_w / w:6.2f}x /{local_r / r:5.2f}x   "
                    f"{raw_w / w:9.2f}x /{raw_r / r:5.2f}x"
                )
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------- query -> Parquet

_CASE = textwrap.dedent(
    """
    import json, sys, time
    def status(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    import pyarrow, pyarrow.parquet, pandas, sqlalchemy
    from omnistorage import Store
    from omnistorage.backends.sql import SQLQueryBackend
    case, url, sql, out = sys.argv[1:5]
    if case == "adbc":
        import adbc_driver_manager.dbapi, adbc_driver_sqlite.dbapi, adbc_driver_postgresql.dbapi
    before = status("VmRSS")
    start = time.perf_counter()
    if case == "pandas":
        engine = sqlalchemy.create_engine(url)
        frame = pandas.read_sql(sql, engine)
        frame.to_parquet(out, compression="zstd", index=False)
        engine.dispose()
    else:
        store = Store(SQLQueryBackend(url, queries={"q.parquet": sql}, fetch=case))
        with store.read("q.parquet") as source, open(out, "wb") as target:
            while chunk := source.read(1 << 20):
                target.write(chunk)
        store.close()
    seconds = time.perf_counter() - start
    growth = status("VmHWM") - before
    rows = pyarrow.parquet.ParquetFile(out).metadata.num_rows
    print(json.dumps({"seconds": seconds, "growth": growth, "rows": rows}))
    """
)


def make_sqlite_table(path: Path, rows: int) -> str:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE facts (id INTEGER, amount REAL, label TEXT, created TEXT)")
        conn.execute(
            "INSERT INTO facts WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
            f"WHERE i < {rows}) SELECT i, i * 0.25, 'label ' || (i % 1000), "
            "datetime(1700000000 + i, 'unixepoch') FROM n"
        )
    return f"sqlite:///{path}"


def make_pg_table(url: str, rows: int) -> tuple[str, Callable[[], None]]:
    from sqlalchemy import create_engine, text

    name = f"bench_facts_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE {name} AS SELECT g AS id, g * 0.25::float8 AS amount, "
                "'label ' || (g % 1000) AS label, "
                "timestamptz '2024-01-01 00:00+00' + g * interval '1 second' AS created, "
                f"(g % 100000 / 100.0)::numeric(12, 2) AS price FROM generate_series(1, {rows}) g"
            )
        )

    def drop() -> None:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {name}"))
        engine.dispose()

    return name, drop


def run_case(case: str, url: str, sql: str, out: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CASE, case, url, sql, str(out)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{case} failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    out.unlink()
    return result


def run_query(rows: int, repeat: int, pg_url: str | None) -> None:
    base = Path(tempfile.mkdtemp(prefix="omni-bench-sql-"))
    drops: list[Callable[[], None]] = []
    try:
        targets = [("sqlite", make_sqlite_table(base / "facts.db", rows), "SELECT * FROM facts")]
        if pg_url:
            name, drop = make_pg_table(pg_url, rows)
            drops.append(drop)
            targets.append(("postgresql", pg_url, f"SELECT * FROM {name}"))
        cases = ["pandas", "sqlalchemy", "adbc"]
        for database, url, sql in targets:
            found: dict[str, list[dict[str, float]]] = {case: [] for case in cases}
            for _ in range(repeat):  # interleaved, so drifting load biases no case
                for case in cases:
                    found[case].append(run_case(case, url, sql, base / "out.parquet"))
            print(
                f"\n{database}: {rows:,} rows -> Parquet "
                f"(best time of {repeat}, the largest peak RSS growth):"
            )
            pandas_time = min(r["seconds"] for r in found["pandas"])
            pandas_rss = max(r["growth"] for r in found["pandas"])
            for case in cases:
                seconds = min(r["seconds"] for r in found[case])
                rss = max(r["growth"] for r in found[case])
                assert all(r["rows"] == rows for r in found[case])
                runs = ", ".join(f"{r['seconds']:.2f}" for r in found[case])
                label = (
                    "pandas read_sql+to_parquet" if case == "pandas" else f"SQLQueryBackend {case}"
                )
                print(
                    f"  {label:30} {seconds:7.2f} s  {rows / seconds / 1e6:5.2f} M rows/s  "
                    f"speed {pandas_time / seconds:5.2f}x pandas   "
                    f"RSS +{rss / MiB:6.0f} MiB ({rss / pandas_rss:4.2f}x pandas)   "
                    f"all runs: {runs} s"
                )
    finally:
        for drop in drops:
            drop()
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blobs", action="store_true", help="only the blob benchmark")
    parser.add_argument("--query", action="store_true", help="only the query benchmark")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pg_url = os.environ.get("OMNI_TEST_POSTGRES_URL")
    both = not args.blobs and not args.query
    print(
        f"load average before: {load()}; PostgreSQL: "
        f"{'yes' if pg_url else 'no (set OMNI_TEST_POSTGRES_URL)'}"
    )
    if args.blobs or both:
        run_blobs(args.repeat, pg_url)
    if args.query or both:
        run_query(args.rows, args.repeat, pg_url)
    print(f"\nload average after: {load()}")


if __name__ == "__main__":
    main()
