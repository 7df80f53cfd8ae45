"""Declarative configuration: named backends, named stores, and a :class:`Registry`.

.. code-block:: toml

    [backends.logs]
    type = "s3"
    options = { bucket = "acme-logs", region = "eu-west-1" }

    [stores.events]
    backend = "logs"
    root_path = "events/v1"

    [clusters.etl]                 # for omnistorage.distributed and --cluster etl
    engine = "dask"                # or "ray"
    address = "tcp://scheduler:8786"

``${NAME}`` in a string value is replaced by the environment variable
``NAME`` (a missing one is an error naming it); nothing else is expanded.
Values taken from the environment are treated as secrets: they never appear
in messages or in the SDK logs.

Everything is checked when the configuration is read, without connecting:
unknown keys anywhere, unknown backend types, option names, types, ranges, URL
schemes and combinations against each backend's declared options
(:mod:`omnistorage.options`, checked by
:meth:`~omnistorage.driver.Backend.check_config`), missing required options. A
backend whose optional dependency is not installed is reported when it is
used, with the ``pip install`` to run. TOML syntax errors name the file and
the line.
"""

from __future__ import annotations

import os
import re
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from omnistorage import paths
from omnistorage._redact import protect_secrets
from omnistorage.driver import Backend
from omnistorage.errors import ConfigurationError, StorageError, redact
from omnistorage.registry import check_backend_options, open_backend
from omnistorage.store import Store

__all__ = ["BackendConfig", "ClusterProfile", "Registry", "RegistryConfig", "StoreProfile"]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class BackendConfig:
    """One backend: its type name and keyword options."""

    type: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        # Option values may be credentials: show only the keys.
        return f"BackendConfig(type={self.type!r}, options=<{', '.join(sorted(self.options))}>)"


@dataclass(frozen=True, slots=True)
class StoreProfile:
    """One store: which named backend, and the folder inside it."""

    backend: str
    root_path: str = ""


_DASK_ADDRESS = re.compile(r"(tcp|tls|ucx|inproc)://\S+|local:[1-9][0-9]{0,3}")
_RAY_ADDRESS = re.compile(r"ray://\S+|auto|local")


@dataclass(frozen=True, slots=True)
class ClusterProfile:
    """One cluster for distributed jobs: the engine and where its scheduler is.

    ``engine = "dask"``: ``address`` is a scheduler (``tcp://host:8786``, ``tls://…``) or
    ``local:N`` (a LocalCluster of N processes started for the job). ``engine = "ray"``:
    ``ray://host:10001`` (Ray Client), ``auto`` (the cluster this machine belongs to) or
    ``local`` (a Ray instance started for the job). Checked when the file is read.
    """

    engine: str
    address: str

    def __post_init__(self) -> None:
        if self.engine == "dask":
            pattern, forms = _DASK_ADDRESS, "tcp://HOST:PORT, tls://HOST:PORT or local:N"
        elif self.engine == "ray":
            pattern, forms = _RAY_ADDRESS, "ray://HOST:PORT, auto or local"
        else:
            raise ConfigurationError(f"engine must be 'dask' or 'ray', got {self.engine!r}")
        if not isinstance(self.address, str) or not pattern.fullmatch(self.address):
            raise ConfigurationError(f"a {self.engine} address is {forms}, got {self.address!r}")

    @property
    def cluster(self) -> str:
        """The address in the command's ``--cluster`` form (Ray's prefixed ``ray:``)."""
        if self.engine == "ray" and not self.address.startswith("ray://"):
            return f"ray:{self.address}"
        return self.address


@dataclass(frozen=True, slots=True)
class RegistryConfig:
    """Named backends and named stores. Stores must name configured backends."""

    backends: Mapping[str, BackendConfig] = field(default_factory=dict)
    stores: Mapping[str, StoreProfile] = field(default_factory=dict)
    clusters: Mapping[str, ClusterProfile] = field(default_factory=dict)
    env_values: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    """Values that came from ``${ENV}`` placeholders: scrubbed from every message."""

    def validate(self) -> None:
        """Check every backend's type and options (see the module docstring); no I/O."""
        for name, backend in self.backends.items():
            try:
                check_backend_options(backend.type, backend.options)
            except ConfigurationError as exc:
                message = redact(f"backends.{name}: {exc}", self.env_values)
                raise ConfigurationError(message) from None

    def __post_init__(self) -> None:
        for name, profile in self.stores.items():
            if profile.backend not in self.backends:
                raise ConfigurationError(
                    f"store {name!r} names backend {profile.backend!r}, which is not configured"
                )
            try:
                paths.validate_folder(profile.root_path)
            except StorageError as exc:
                raise ConfigurationError(f"store {name!r}: root_path: {exc}") from exc

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RegistryConfig:
        """Build from plain data (as parsed from TOML, JSON, YAML …)."""
        _only(data, {"backends", "stores", "clusters"}, "config")
        env_values: set[str] = set()
        backends: dict[str, BackendConfig] = {}
        for name, raw in _table(data.get("backends", {}), "backends").items():
            where = f"backends.{name}"
            raw = _table(raw, where)
            _only(raw, {"type", "options"}, where)
            if not isinstance(raw.get("type"), str):
                raise ConfigurationError(f"{where}.type must be a backend type name")
            options = _expand(
                dict(_table(raw.get("options", {}), f"{where}.options")), where, env_values
            )
            backends[name] = BackendConfig(raw["type"], MappingProxyType(options))
        stores: dict[str, StoreProfile] = {}
        for name, raw in _table(data.get("stores", {}), "stores").items():
            where = f"stores.{name}"
            raw = _table(raw, where)
            _only(raw, {"backend", "root_path"}, where)
            if not isinstance(raw.get("backend"), str):
                raise ConfigurationError(f"{where}.backend must name a configured backend")
            root = _expand(raw.get("root_path", ""), where, env_values)
            if not isinstance(root, str):
                raise ConfigurationError(f"{where}.root_path must be a string")
            stores[name] = StoreProfile(raw["backend"], root)
        clusters: dict[str, ClusterProfile] = {}
        for name, raw in _table(data.get("clusters", {}), "clusters").items():
            where = f"clusters.{name}"
            raw = _table(raw, where)
            _only(raw, {"engine", "address"}, where)
            engine, address = raw.get("engine"), _expand(raw.get("address"), where, env_values)
            if not isinstance(engine, str) or not isinstance(address, str):
                raise ConfigurationError(f"{where} needs engine and address strings")
            try:
                clusters[name] = ClusterProfile(engine, address)
            except ConfigurationError as exc:
                raise ConfigurationError(redact(f"{where}: {exc}", env_values)) from None
        protect_secrets(*env_values)
        config = cls(
            MappingProxyType(backends),
            MappingProxyType(stores),
            MappingProxyType(clusters),
            frozenset(env_values),
        )
        config.validate()
        return config

    @classmethod
    def from_toml(cls, source: str | os.PathLike[str]) -> RegistryConfig:
        """Build from a TOML file path, or TOML text (a string containing a newline or ``=``)."""
        where = "TOML text"
        try:
            if isinstance(source, str) and ("\n" in source or "=" in source):
                data = tomllib.loads(source)
            else:
                where = os.fspath(source)
                data = tomllib.loads(Path(source).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"bad TOML in {where}: {exc}") from exc
        except OSError as exc:
            raise ConfigurationError(f"cannot read config {os.fspath(source)!r}: {exc}") from exc
        return cls.from_dict(data)


class Registry:
    """Builds configured backends lazily, shares one per name, and closes them all."""

    def __init__(self, config: RegistryConfig) -> None:
        config.validate()
        self._config = config
        self._backends: dict[str, Backend] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def config(self) -> RegistryConfig:
        return self._config

    def backend(self, name: str) -> Backend:
        """The backend configured as ``name``, built on first use."""
        config = self._config.backends.get(name)
        if config is None:
            raise ConfigurationError(f"no backend named {name!r} is configured")
        with self._lock:
            if self._closed:
                raise ConfigurationError("the registry is closed")
            backend = self._backends.get(name)
            if backend is None:
                try:
                    backend = open_backend(config.type, **dict(config.options))
                except StorageError as exc:
                    if not self._config.env_values:
                        raise
                    message = redact(str(exc), self._config.env_values)
                    raise type(exc)(
                        message,
                        path=exc.path,
                        backend=exc.backend,
                        op=exc.op,
                        temporary=exc.temporary,
                    ) from None
                self._backends[name] = backend
            return backend

    def store(self, name: str) -> Store:
        """The store profile ``name`` as a :class:`Store`."""
        profile = self._config.stores.get(name)
        if profile is None:
            known = ", ".join(sorted(self._config.stores))
            raise ConfigurationError(f"no store named {name!r} is configured (known: {known})")
        return Store(self.backend(profile.backend), profile.root_path)

    def close(self) -> None:
        """Close every backend built so far; later calls raise."""
        with self._lock:
            self._closed = True
            backends, self._backends = list(self._backends.values()), {}
        errors: list[BaseException] = []
        for backend in backends:
            try:
                backend.close()
            except Exception as exc:  # noqa: BLE001 - close the rest, then report
                errors.append(exc)
        if errors:
            raise ConfigurationError(
                f"{len(errors)} backend(s) failed to close: {errors[0]}"
            ) from errors[0]

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{where} must be a table, got {type(value).__name__}")
    return value


def _only(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise ConfigurationError(
                f"unknown key {key!r} in {where} (allowed: {', '.join(sorted(allowed))})"
            )


def _expand(value: Any, where: str, env_values: set[str]) -> Any:
    if isinstance(value, str):

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigurationError(f"{where}: environment variable {name!r} is not set")
            env_values.add(os.environ[name])
            return os.environ[name]

        return _ENV.sub(lookup, value)
    if isinstance(value, dict):
        return {k: _expand(v, where, env_values) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, where, env_values) for v in value]
    return value
