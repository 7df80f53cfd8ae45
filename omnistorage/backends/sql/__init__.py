"""SQL backends (SQLAlchemy 2): :class:`SQLBlobBackend`, objects stored in SQLite or
PostgreSQL (``pip install 'omnistorage[sql]'``), and :class:`SQLQueryBackend`, a
read-only store of query results materialized as Parquet, CSV, Arrow IPC or NDJSON
(``pip install 'omnistorage[sql-query]'``; importing it needs pyarrow, importing
:class:`SQLBlobBackend` does not)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from omnistorage.backends.sql._backend import SQLBlobBackend

if TYPE_CHECKING:
    from omnistorage.backends.sql._mapping import QuerySpec
    from omnistorage.backends.sql._query import SQLQueryBackend
    from omnistorage.backends.sql._serializers import (
        CSVSerializer,
        IPCSerializer,
        NDJSONSerializer,
        ParquetSerializer,
        ResultSerializer,
    )

__all__ = [
    "CSVSerializer",
    "IPCSerializer",
    "NDJSONSerializer",
    "ParquetSerializer",
    "QuerySpec",
    "ResultSerializer",
    "SQLBlobBackend",
    "SQLQueryBackend",
]

_LAZY = {
    "QuerySpec": "omnistorage.backends.sql._mapping",
    "SQLQueryBackend": "omnistorage.backends.sql._query",
    "CSVSerializer": "omnistorage.backends.sql._serializers",
    "IPCSerializer": "omnistorage.backends.sql._serializers",
    "NDJSONSerializer": "omnistorage.backends.sql._serializers",
    "ParquetSerializer": "omnistorage.backends.sql._serializers",
    "ResultSerializer": "omnistorage.backends.sql._serializers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
