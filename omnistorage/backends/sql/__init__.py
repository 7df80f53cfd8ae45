"""SQL backends (SQLAlchemy 2): :class:`SQLBlobBackend`, objects as chunked rows in
SQLite or PostgreSQL. ``pip install 'omnistorage[sql]'``."""

from omnistorage.backends.sql._backend import SQLBlobBackend

__all__ = ["SQLBlobBackend"]
