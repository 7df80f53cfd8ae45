"""What the SQL backends share: the engine they own or borrow, and error classification.

- Given a URL, a backend **owns** its engine and disposes it on ``close()``.
  Given an ``Engine``, it **borrows** it: ``close()`` leaves the pool to its
  owner (a web application sharing its pool). ``Store.child()`` stores share
  the backend, so they share its engine too.
- Native errors are classified once here: lost connections, lock timeouts,
  serialization failures and a busy SQLite file are temporary
  (``BackendUnavailable``); a refused privilege is ``PermissionDenied``; SQL
  that is wrong (a syntax error, a missing table) is a plain, permanent
  ``StorageError``, never "temporary", so retry layers do not retry it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import Engine, exc, make_url

from omnistorage.backends.sql._schema import make_engine
from omnistorage.driver import ExtendedBackend
from omnistorage.errors import Classification, ConfigurationError, ErrorKind, classify_builtin

__all__ = ["SQLEngineBackend", "check_database_url"]

T = TypeVar("T")

# PostgreSQL SQLSTATE classes worth retrying: connection exceptions, transaction
# rollback (serialization failure, deadlock), insufficient resources, operator
# intervention (admin shutdown, cancel), lock not available.
_PG_TEMPORARY_CLASSES = ("08", "40", "53", "57")
_PG_TEMPORARY_STATES = ("55P03",)
_PG_PERMISSION_STATES = ("42501",)
# SQLite primary result codes: BUSY, LOCKED, IOERR, PROTOCOL are temporary;
# PERM, READONLY, AUTH refuse the operation.
_SQLITE_TEMPORARY = (5, 6, 10, 15)
_SQLITE_PERMISSION = (3, 8, 23)


class SQLEngineBackend(ExtendedBackend):
    """Base of :class:`SQLBlobBackend` and :class:`SQLQueryBackend`: the engine, owned
    (``url=``) or borrowed (``engine=``), and the classification of its errors.

    ``unwrap(sqlalchemy.Engine)`` on a Store over either backend returns the engine.
    """

    def __init__(
        self, url: str | None, engine: Engine | None, *, sqlite_pragmas: bool = True
    ) -> None:
        if (url is None) == (engine is None):
            raise ConfigurationError(f"{type(self).__name__} needs exactly one of url= or engine=")
        self._owned = engine is None
        self._engine = engine if engine is not None else make_engine(str(url), wal=sqlite_pragmas)
        password = self._engine.url.password
        self.secret_values = (str(password),) if password else ()

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (owned or borrowed, see the module docstring)."""
        return self._engine

    @property
    def owns_engine(self) -> bool:
        """True when the backend made the engine from a URL and disposes it on ``close``."""
        return self._owned

    def _shown_url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        if self._owned:
            self._engine.dispose()
        self.closed = True

    def as_native(self, kind: type[T]) -> T | None:
        return self._engine if isinstance(self._engine, kind) else None

    def classify_error(self, error: BaseException) -> Classification:
        return classify_sql_error(error)


def check_database_url(backend: str, options: Mapping[str, object]) -> None:
    """Refuse a ``url`` option that SQLAlchemy cannot parse or whose dialect and driver it
    does not know, without connecting and without echoing it (it may hold a password)."""
    url = options.get("url")
    if not isinstance(url, str):
        return
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError):
        raise ConfigurationError(
            f"{backend} option 'url' is not a database URL "
            "(dialect+driver://user:password@host:port/database, or sqlite:///file.db)"
        ) from None
    try:
        parsed.get_dialect()
    except (exc.ArgumentError, exc.NoSuchModuleError, ImportError):
        raise ConfigurationError(
            f"{backend} option 'url' names a database dialect or driver SQLAlchemy does not know"
        ) from None


def classify_sql_error(error: BaseException) -> Classification:
    """What a SQLAlchemy / DB-API exception means (see the module docstring)."""
    if isinstance(error, exc.IntegrityError):
        return Classification(ErrorKind.ALREADY_EXISTS)
    if isinstance(error, exc.TimeoutError):  # the pool had no connection in time
        return Classification(ErrorKind.UNAVAILABLE, temporary=True)
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return Classification(ErrorKind.UNAVAILABLE, temporary=True)
        verdict = _classify_native(error.orig)
        if verdict is not None:
            return verdict
        if (
            isinstance(error, exc.OperationalError)
            and _sqlstate(error.orig) is None
            and _sqlite_code(error.orig) is None
        ):
            # No SQLSTATE and no SQLite code: the driver lost or never had a connection.
            return Classification(ErrorKind.UNAVAILABLE, temporary=True)
        return Classification(ErrorKind.UNKNOWN)
    if _is_dbapi_error(error):  # raised by a DB-API cursor used directly (query results)
        verdict = _classify_native(error)
        if verdict is not None:
            return verdict
        lost = _sqlstate(error) is None and _sqlite_code(error) is None
        if lost and any(c.__name__ == "OperationalError" for c in type(error).__mro__):
            return Classification(ErrorKind.UNAVAILABLE, temporary=True)
        return Classification(ErrorKind.UNKNOWN)
    return classify_builtin(error)


def _is_dbapi_error(error: BaseException) -> bool:
    """A DB-API driver's own exception (PEP 249 ``Error``: psycopg, sqlite3 …)."""
    return any(
        c.__name__ == "Error" and c.__module__ not in ("builtins", __name__)
        for c in type(error).__mro__[1:]
    )


def _sqlstate(native: Any) -> str | None:
    state = getattr(native, "sqlstate", None) or getattr(native, "pgcode", None)
    return state if isinstance(state, str) else None


def _sqlite_code(native: Any) -> int | None:
    code = getattr(native, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _classify_native(native: Any) -> Classification | None:
    state = _sqlstate(native)
    if state is not None:
        if state in _PG_PERMISSION_STATES:
            return Classification(ErrorKind.PERMISSION_DENIED)
        if state[:2] in _PG_TEMPORARY_CLASSES or state in _PG_TEMPORARY_STATES:
            return Classification(ErrorKind.UNAVAILABLE, temporary=True)
        return None
    code = _sqlite_code(native)
    if code is not None:
        if code in _SQLITE_TEMPORARY:
            return Classification(ErrorKind.UNAVAILABLE, temporary=True)
        if code in _SQLITE_PERMISSION:
            return Classification(ErrorKind.PERMISSION_DENIED)
    return None
