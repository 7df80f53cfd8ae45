"""Whether a table's ``key`` column folds keys: introspected, never assumed.

A key column whose collation ignores case (SQLite ``COLLATE NOCASE``, a
PostgreSQL ``citext`` column or a nondeterministic ICU collation) makes
``README.md`` and ``readme.md`` one row: the backend then declares
``Features.case_insensitive`` (and ``normalizes_unicode`` where canonically
equivalent strings compare equal), so sync reports colliding names instead of
letting one overwrite the other.

- SQLite: the collation of ``key`` in the table's unique indexes (its primary
  key or unique constraint, ``PRAGMA index_xinfo``); ``NOCASE`` folds ASCII
  letters.
- PostgreSQL: the column's type (``citext``) and collation; a
  nondeterministic collation is asked what it does (``'A' = 'a'`` and NFC vs
  NFD ``é`` under it).
- Other databases: nothing is folded (declared as such; the conformance facts
  test checks it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

__all__ = ["key_folding"]


def key_folding(engine: Engine, table: str, schema: str | None = None) -> tuple[bool, bool]:
    """``(case_insensitive, normalizes_unicode)`` of the ``key`` column of ``table``."""
    dialect = engine.dialect.name
    if dialect == "sqlite":
        return _sqlite(engine, table), False
    if dialect == "postgresql":
        return _postgresql(engine, table, schema)
    return False, False


def _sqlite(engine: Engine, table: str) -> bool:
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect() as conn:
        indexes = conn.exec_driver_sql(f"PRAGMA index_list({quote(table)})").fetchall()
        for index in indexes:
            name, unique = index[1], index[2]
            if not unique:
                continue
            columns = [
                row
                for row in conn.exec_driver_sql(f"PRAGMA index_xinfo({quote(name)})").fetchall()
                if row[5]  # a key column of the index (not the rowid)
            ]
            if len(columns) == 1 and columns[0][2] == "key":
                return str(columns[0][4]).upper() == "NOCASE"
    return False


_PG_COLUMN = text(
    "SELECT t.typname, c.collname, c.collisdeterministic "
    "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_collation c ON c.oid = a.attcollation "
    "WHERE a.attrelid = CAST(:rel AS regclass) AND a.attname = 'key'"
)


def _postgresql(engine: Engine, table: str, schema: str | None) -> tuple[bool, bool]:
    quote = engine.dialect.identifier_preparer.quote
    relation = f"{quote(schema)}.{quote(table)}" if schema else quote(table)
    with engine.connect() as conn:
        row: Any = conn.execute(_PG_COLUMN, {"rel": relation}).first()
        if row is None:
            return False, False
        type_name, collation, deterministic = row
        if type_name == "citext":
            return True, False
        if collation is None or deterministic is not False:
            return False, False
        name = quote(collation)
        folds_case = conn.execute(
            text(f"SELECT CAST(:a AS text) COLLATE {name} = CAST(:b AS text)"),
            {"a": "A", "b": "a"},
        ).scalar()
        folds_unicode = conn.execute(
            text(f"SELECT CAST(:a AS text) COLLATE {name} = CAST(:b AS text)"),
            {"a": "\u00e9", "b": "e\u0301"},
        ).scalar()
    return bool(folds_case), bool(folds_unicode)
