"""Backend types by name, URLs, and :func:`open_store`.

The only process-wide state is this table of backend *types*. Built-in types
register themselves here by import path (so ``import omnistorage`` imports
no cloud SDK); third-party types either call :func:`register` or publish an
``omnistorage.backends`` entry point whose object is a :class:`BackendType`
or a backend factory.

URLs: ``memory://[name][/root]``, ``file:///abs/dir``, ``s3://bucket/prefix``,
``gs://bucket/prefix``, ``az://container/prefix``,
``sftp://user@host:port/path``, ``https://host/folder/`` (read-only). Query
parameters are backend options (``s3://b/p?endpoint_url=http://127.0.0.1:9000``).
A plain path opens the local backend.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from omnistorage._redact import redact_url
from omnistorage.driver import Backend
from omnistorage.errors import ConfigurationError, DependencyMissing, StorageError, redact
from omnistorage.options import OptionSchema
from omnistorage.store import Store

__all__ = [
    "BackendType",
    "backend_options",
    "backend_types",
    "check_backend_options",
    "open_backend",
    "open_store",
    "register",
]

Factory = Callable[..., Backend]
UrlParser = Callable[[SplitResult], tuple[dict[str, Any], str]]
"""Turns a split URL into (backend options, store root inside the backend)."""


@dataclass(frozen=True, slots=True)
class BackendType:
    """A kind of backend: how to build one, and how to read its URLs.

    ``factory`` and ``parse_url`` may be import paths (``"pkg.mod:attr"``)
    resolved on first use; ``extra`` names the ``pip install
    'omnistorage[extra]'`` that brings its dependencies. ``buckets`` is the
    type's :class:`~omnistorage.buckets.BucketService` class (or its import
    path), for types whose stores live in buckets an account can list and make.
    """

    name: str
    factory: Factory | str
    parse_url: UrlParser | str | None = None
    schemes: tuple[str, ...] = ()
    extra: str | None = None
    buckets: Any = None


_TYPES: dict[str, BackendType] = {}
_SCHEMES: dict[str, str] = {}
_LOCK = threading.Lock()
_ENTRY_POINTS_LOADED = False


def register(
    name: str,
    factory: Factory | str,
    *,
    schemes: tuple[str, ...] = (),
    parse_url: UrlParser | str | None = None,
    extra: str | None = None,
    buckets: Any = None,
) -> None:
    """Register (or replace) a backend type under ``name`` and its URL ``schemes``
    (``buckets``: see :class:`BackendType`)."""
    backend_type = BackendType(name, factory, parse_url, schemes or (name,), extra, buckets)
    with _LOCK:
        _TYPES[name] = backend_type
        for scheme in backend_type.schemes:
            _SCHEMES[scheme] = name


def backend_types() -> dict[str, BackendType]:
    """The registered backend types by name (entry points included)."""
    _load_entry_points()
    with _LOCK:
        return dict(_TYPES)


def _load_entry_points() -> None:
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    for ep in entry_points(group="omnistorage.backends"):
        if ep.name in _TYPES:
            continue
        try:
            obj = ep.load()
        except Exception as exc:
            raise ConfigurationError(
                f"backend entry point {ep.name!r} failed to load: {exc}"
            ) from exc
        if isinstance(obj, BackendType):
            register(
                obj.name,
                obj.factory,
                schemes=obj.schemes,
                parse_url=obj.parse_url,
                extra=obj.extra,
                buckets=obj.buckets,
            )
        else:
            register(ep.name, obj)


def _lookup(name: str) -> BackendType:
    backend_type = _TYPES.get(name)
    if backend_type is None:
        _load_entry_points()
        backend_type = _TYPES.get(name)
    if backend_type is None:
        known = sorted(_TYPES)
        close = (
            difflib.get_close_matches(name, known, n=1, cutoff=0.5) if isinstance(name, str) else []
        )
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigurationError(f"unknown backend type {name!r} (known: {', '.join(known)}){hint}")
    return backend_type


def _resolve(target: Any, backend_type: BackendType, what: str) -> Any:
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f": pip install 'omnistorage[{backend_type.extra}]'" if backend_type.extra else ""
        raise DependencyMissing(
            f"the {backend_type.name} backend needs a package that is not installed "
            f"({exc.name or exc}){hint}"
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ConfigurationError(
            f"{what} {target!r} of backend {backend_type.name!r} not found"
        ) from exc


def _factory(name: str) -> Factory:
    """The factory of the backend type ``name`` (imported on first use)."""
    backend_type = _lookup(name)
    factory: Factory = _resolve(backend_type.factory, backend_type, "factory")
    return factory


def _load_buckets(backend_type: BackendType) -> Any:
    """The bucket service class of ``backend_type`` (imported on first use)."""
    return _resolve(backend_type.buckets, backend_type, "bucket service")


def _scheme_type(scheme: str, target: str) -> str:
    """The backend type name of a URL scheme; ``ConfigurationError`` when unknown."""
    name = _SCHEMES.get(scheme)
    if name is None:
        _load_entry_points()
        name = _SCHEMES.get(scheme)
    if name is None:
        known = ", ".join(sorted(_SCHEMES))
        raise ConfigurationError(
            f"unknown URL scheme {scheme!r} in {redact_url(target)!r} (known: {known})"
        )
    return name


def open_backend(name: str, /, **options: Any) -> Backend:
    """Build a backend of type ``name`` with keyword ``options``.

    An unknown option raises :class:`ConfigurationError` naming it and the
    known ones; a missing optional dependency raises :class:`DependencyMissing`
    with the ``pip install`` to run.
    """
    backend_type = _lookup(name)
    factory: Factory = _resolve(backend_type.factory, backend_type, "factory")
    options = _coerce_options(factory, options, name)
    _check_config(factory, options)
    return factory(**options)


def check_backend_options(name: str, options: Mapping[str, Any]) -> None:
    """Check a backend type name and its options without building the backend.

    Raises :class:`ConfigurationError` for an unknown type, an unknown option
    name, a value of the wrong type, a missing required option, or anything
    the backend's own :meth:`~omnistorage.driver.Backend.check_config` refuses
    (an endpoint without a scheme, a secret without its key id …). Nothing
    connects. When the backend's optional dependency is not installed the
    names cannot be checked here; that is reported (with the ``pip install``
    hint) when the backend is used.
    """
    backend_type = _lookup(name)
    try:
        factory: Factory = _resolve(backend_type.factory, backend_type, "factory")
    except DependencyMissing:
        return
    coerced = _coerce_options(factory, dict(options), name)
    _check_config(factory, coerced)


def backend_options(name: str) -> OptionSchema | None:
    """The options backend type ``name`` declares (:mod:`omnistorage.options`), or
    ``None`` when its factory declares none (it is then checked by its signature only).
    Imports the backend's module; a missing optional dependency raises
    :class:`DependencyMissing`."""
    backend_type = _lookup(name)
    factory: Factory = _resolve(backend_type.factory, backend_type, "factory")
    schema = getattr(factory, "options_schema", None)
    return schema if isinstance(schema, OptionSchema) else None


def _check_config(factory: Factory, options: Mapping[str, Any]) -> None:
    check = getattr(factory, "check_config", None)
    if callable(check):
        check(options)


def _coerce_options(factory: Factory, options: dict[str, Any], name: str) -> dict[str, Any]:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return options
    params = signature.parameters
    schema = getattr(factory, "options_schema", None)
    if isinstance(schema, OptionSchema):
        # Strings (URL query values) become numbers or flags by the declared type, also
        # where the default (None) says nothing; the schema then checks every value.
        options = schema.coerce(options)
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    known = [p for p, v in params.items() if v.kind is not inspect.Parameter.VAR_KEYWORD]
    out: dict[str, Any] = {}
    for key, value in options.items():
        param = params.get(key)
        if param is None:
            if accepts_any:
                out[key] = value
                continue
            raise ConfigurationError(
                f"unknown option {key!r} for the {name} backend (known: {', '.join(known)})"
            )
        out[key] = _coerce(value, param, key, name)
    missing = [
        p
        for p, v in params.items()
        if v.default is inspect.Parameter.empty
        and v.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        and p not in out
        and p != "self"
    ]
    if missing:
        raise ConfigurationError(
            f"the {name} backend needs option(s) {', '.join(map(repr, missing))}"
        )
    try:
        signature.bind(**out)
    except TypeError as exc:
        raise ConfigurationError(f"bad options for the {name} backend: {exc}") from exc
    return out


def _coerce(value: Any, param: inspect.Parameter, key: str, name: str) -> Any:
    """Give a value the type of the option's default.

    URL query values are strings and are converted (``"8"`` → 8, ``"yes"`` →
    True); other values must already have the type. Messages never echo the
    value: it may be a credential or come from the environment.
    """
    default = param.default
    if default is inspect.Parameter.empty or default is None:
        return value
    expected = type(default)
    if isinstance(value, str) and expected is not str:
        converted = _from_string(value, expected)
        if converted is None:
            # Raised outside any ``except``: int()'s own message quotes the value, which
            # may be a secret, and must not travel as the context either.
            raise ConfigurationError(
                f"option {key!r} of the {name} backend must be a {expected.__name__} "
                f"(got a string that is not one)"
            )
        return converted
    if expected is bool and not isinstance(value, bool):
        ok = False
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif expected is str:
        ok = isinstance(value, str)
    else:
        ok = True
    if not ok:
        raise ConfigurationError(
            f"option {key!r} of the {name} backend must be a {expected.__name__}, "
            f"not a {type(value).__name__}"
        )
    return value


def _from_string(value: str, expected: type) -> object | None:
    """``value`` as an ``expected`` (bool, int, float), or ``None`` when it is not one;
    other types are returned as the string."""
    if expected is bool:
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        return None
    if expected in (int, float):
        try:
            return expected(value)
        except ValueError:
            return None
    return value


def open_store(target: str, **options: Any) -> Store:
    """Open a :class:`Store` from a URL or a local path.

    >>> store = open_store("memory://")
    >>> store.write("a.txt", b"hi").size
    2

    ``options`` are backend options; they override URL query parameters.
    """
    if not isinstance(target, str) or not target:
        shown = redact_url(str(target))
        raise ConfigurationError(f"open_store needs a URL or a path, got {shown!r}")
    if "://" not in target:
        return Store(open_backend("local", root=target, **options))
    split = urlsplit(target)
    name = _scheme_type(split.scheme.lower(), target)
    password = split.password
    try:
        return _open_url(name, split, options)
    except StorageError as exc:
        if not password:
            raise
        failure = exc
    # Never let the URL's password reach a message, a chained cause or the context
    # (raised outside the ``except`` block, so the original is not its __context__).
    secrets = (password, unquote(password))
    message = redact(str(failure), secrets)
    raise type(failure)(
        message,
        path=failure.path,
        backend=failure.backend,
        op=failure.op,
        temporary=failure.temporary,
    ) from None


def _open_url(name: str, split: SplitResult, options: Mapping[str, Any]) -> Store:
    backend_type = _lookup(name)
    if backend_type.parse_url is None:
        url_options: dict[str, Any] = {}
        root = unquote(split.path).strip("/")
    else:
        parser: UrlParser = _resolve(backend_type.parse_url, backend_type, "URL parser")
        url_options, root = parser(split)
    for key, value in parse_qsl(split.query, keep_blank_values=True):
        url_options.setdefault(key, value)
    url_options.update(options)
    backend = open_backend(name, **url_options)
    try:
        return Store(backend, root)
    except BaseException:
        backend.close()
        raise


# ---------------------------------------------------------------- built-in types


def _parse_memory(split: SplitResult) -> tuple[dict[str, Any], str]:
    options: dict[str, Any] = {"name": split.netloc} if split.netloc else {}
    return options, unquote(split.path).strip("/")


def _parse_file(split: SplitResult) -> tuple[dict[str, Any], str]:
    if split.netloc not in ("", "localhost"):
        raise ConfigurationError(f"file URLs name no host, got {split.netloc!r}")
    path = unquote(split.path)
    if not path.startswith("/"):
        raise ConfigurationError(f"file URLs need an absolute path, got {path!r}")
    return {"root": path}, ""


def _builtin(
    name: str,
    module: str,
    cls: str,
    schemes: tuple[str, ...],
    extra: str | None = None,
    buckets: str | None = None,
) -> None:
    register(
        name,
        f"omnistorage.backends.{module}:{cls}",
        schemes=schemes,
        parse_url=f"omnistorage.backends.{module}:parse_url",
        extra=extra,
        buckets=None if buckets is None else f"omnistorage.backends.{module}:{buckets}",
    )


register(
    "memory",
    "omnistorage.backends.memory:MemoryBackend",
    schemes=("memory",),
    parse_url=_parse_memory,
)
register(
    "local",
    "omnistorage.backends.local:LocalBackend",
    schemes=("file", "local"),
    parse_url=_parse_file,
)
_builtin("channel", "channel", "ChannelBackend", ("channel",))
_builtin("s3", "s3", "S3Backend", ("s3",), "s3", "S3Buckets")
_builtin("gcs", "gcs", "GCSBackend", ("gs", "gcs"), "gcs", "GCSBuckets")
_builtin(
    "azure", "azure", "AzureBackend", ("az", "azure", "abfs", "abfss"), "azure", "AzureBuckets"
)
_builtin("sftp", "sftp", "SFTPBackend", ("sftp",), "sftp")
_builtin("http", "http", "HTTPBackend", ("http", "https"), "http")
register("sql", "omnistorage.backends.sql:SQLBlobBackend", schemes=("sqlblob",), extra="sql")
register(
    "sql-query",
    "omnistorage.backends.sql._query:SQLQueryBackend",
    schemes=("sql-query",),
    extra="sql-query",
)
