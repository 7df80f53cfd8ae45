"""Buckets themselves: list, make and remove the buckets (containers) of an account.

A :class:`~omnistorage.Store` lives *inside* one bucket; making the bucket and
seeing which ones exist is the job of the account (``aws s3 mb`` / ``aws s3
ls``, ``rclone mkdir remote:bucket`` / ``rclone lsd remote:``). A backend type
that has buckets declares a *bucket service* when it registers
(:func:`omnistorage.register` ``buckets=``): S3, GCS and Azure Blob do.
Whether a type has one is that declared fact, never its name.

>>> from omnistorage.buckets import open_buckets
>>> with open_buckets("s3://?endpoint_url=http://127.0.0.1:9000") as buckets:  # doctest: +SKIP
...     buckets.make("reports")
...     print([b.name for b in buckets.list()])

:func:`open_buckets` takes a URL of the type's scheme (the bucket part, if
any, is ignored; query parameters are options, as for
:func:`~omnistorage.open_store`); :func:`buckets_for` takes a backend type and
its options (a configured profile) and also returns the bucket they name.
Options that matter only to the objects (``part_size`` …) are accepted and
unused; an option the backend does not know is a :class:`ConfigurationError`.

Errors are the Store's: making a bucket that is there raises
:class:`~omnistorage.AlreadyExists`; removing one that is not raises
:class:`~omnistorage.BucketNotFound`; removing one that holds anything (folder
markers included) raises :class:`~omnistorage.DirectoryNotEmpty`, on Azure too,
whose service would delete a full container (checked by a listing first, so a
blob written in between is deleted with it).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, urlsplit

from omnistorage.errors import (
    Classification,
    ConfigurationError,
    ErrorKind,
    StorageError,
    map_error,
    native_cause,
)

__all__ = ["BucketInfo", "BucketService", "Buckets", "buckets_for", "has_buckets", "open_buckets"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BucketInfo:
    """One bucket (container) of an account."""

    name: str
    created: datetime | None = None


class BucketService(Protocol):
    """What a backend type implements to manage its buckets (native errors, classified).

    Attributes:
        noun: what the service calls a bucket (``"bucket"``, ``"container"``).
        bucket_option: the backend option that names the bucket (``"bucket"``,
            ``"container"``).
        secret_values: strings never to show in messages.
    """

    noun: str
    bucket_option: str
    secret_values: tuple[str, ...]

    def list_buckets(self) -> Iterator[BucketInfo]: ...

    def make_bucket(self, name: str) -> None:
        """Create the bucket; one that exists raises a native error classified
        ``ALREADY_EXISTS`` (a :class:`FileExistsError` will do)."""

    def remove_bucket(self, name: str) -> None:
        """Delete the bucket when it is empty; else a native error classified
        ``DIRECTORY_NOT_EMPTY`` (``OSError(ENOTEMPTY)``); a missing one raises
        :class:`~omnistorage.errors.BucketMissing` or a ``BUCKET_NOT_FOUND`` error."""

    def classify_error(self, exc: BaseException) -> Classification: ...

    def close(self) -> None: ...


class Buckets:
    """The buckets of one account, with the Store's typed errors (see the module doc).

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, service: BucketService, backend: str, secrets: tuple[str, ...] = ()) -> None:
        self._service = service
        self._backend = backend
        self._secrets = tuple(service.secret_values) + tuple(secrets)

    @property
    def noun(self) -> str:
        """What this account calls a bucket: ``"bucket"`` or ``"container"``."""
        return self._service.noun

    def __repr__(self) -> str:
        return f"Buckets({self._backend!r})"

    def list(self) -> list[BucketInfo]:
        """Every bucket the credentials can see, sorted by name."""
        found = self._call(lambda: list(self._service.list_buckets()), "list_buckets", None)
        return sorted(found, key=lambda info: info.name)

    def make(self, name: str) -> None:
        """Create the bucket ``name`` (``AlreadyExists`` when it is there)."""
        self._check_name(name)
        self._call(lambda: self._service.make_bucket(name), "make_bucket", name)

    def remove(self, name: str) -> None:
        """Delete the empty bucket ``name`` (``DirectoryNotEmpty``, ``BucketNotFound``)."""
        self._check_name(name)
        self._call(lambda: self._service.remove_bucket(name), "remove_bucket", name)

    def close(self) -> None:
        self._service.close()

    def __enter__(self) -> Buckets:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_name(self, name: str) -> None:
        if not isinstance(name, str) or not name or "/" in name:
            raise ConfigurationError(f"{name!r} is not a {self.noun} name")

    def _call(self, call: Callable[[], T], op: str, name: str | None) -> T:
        try:
            return call()
        except Exception as exc:
            raise self._fail(exc, op, name) from native_cause(exc)

    def _fail(self, exc: Exception, op: str, name: str | None) -> StorageError:
        try:
            found = self._service.classify_error(exc)
        except Exception:  # a broken classifier must not hide the error
            found = Classification(ErrorKind.UNKNOWN)
        if found.kind is ErrorKind.BUCKET_NOT_FOUND and found.bucket is None:
            found = dataclasses.replace(found, bucket=name, noun=self._service.noun)
        return map_error(
            exc,
            found,
            backend=self._backend,
            op=op,
            path=name,
            secrets=self._secrets,
        )


def has_buckets(backend_type: str) -> bool:
    """True when the backend type declares a bucket service (no import, no I/O)."""
    from omnistorage.registry import backend_types

    found = backend_types().get(backend_type)
    return found is not None and found.buckets is not None


def open_buckets(target: str, **options: Any) -> Buckets:
    """The buckets of the account a URL points at: ``s3://``, ``gs://?project=p``,
    ``az://?connection_string=…`` (any bucket and path in the URL are ignored).

    ``options`` override the URL's query parameters. ``ConfigurationError`` when
    the scheme's backend type has no buckets.
    """
    from omnistorage.registry import _scheme_type

    split = urlsplit(target)
    backend_type = _scheme_type(split.scheme.lower(), target)
    url_options: dict[str, Any] = dict(parse_qsl(split.query, keep_blank_values=True))
    url_options.update(options)
    return _open(backend_type, url_options)[0]


def buckets_for(
    backend_type: str, options: Mapping[str, Any], *, secrets: tuple[str, ...] = ()
) -> tuple[Buckets, str | None]:
    """The buckets of the account a backend's options point at, and the bucket they
    name (``None`` when they name none), e.g. for a configured profile. ``secrets``
    are further strings never to show (values that came from ``${ENV}``)."""
    return _open(backend_type, dict(options), secrets)


def _open(
    backend_type: str, options: dict[str, Any], secrets: tuple[str, ...] = ()
) -> tuple[Buckets, str | None]:
    from omnistorage.registry import _coerce_options, _factory, _load_buckets, _lookup

    found = _lookup(backend_type)
    if found.buckets is None:
        raise ConfigurationError(f"the {backend_type} backend has no buckets to list or make")
    service_type = _load_buckets(found)
    factory = _factory(backend_type)
    bucket_option = str(service_type.bucket_option)
    bucket = options.pop(bucket_option, None)
    backend_params = _parameters(factory)
    service_params = _parameters(service_type)
    unknown = sorted(set(options) - backend_params - service_params)
    if unknown:
        raise ConfigurationError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for the {backend_type} backend"
        )
    kept = {key: value for key, value in options.items() if key in service_params}
    service = service_type(**_coerce_options(service_type, kept, backend_type))
    return Buckets(service, backend_type, secrets), None if bucket is None else str(bucket)


def _parameters(factory: Any) -> set[str]:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return set()
    return {
        name
        for name, param in params.items()
        if param.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    }
