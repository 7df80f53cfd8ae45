"""Stores as configuration: what a task carries instead of a live, credentialed client.

A :class:`StoreSpec` names a store by address: a URL (``s3://bucket/prefix?endpoint_url=…``,
``file:///abs/path``, ``gs://…``) or ``profile:path`` of a configuration file (the
:class:`omnistorage.RegistryConfig` TOML format). Each worker opens it itself, so
credentials come from the worker's environment (``AWS_*``, ``GOOGLE_APPLICATION_CREDENTIALS``,
``AZURE_STORAGE_CONNECTION_STRING`` …) or from the configuration file on the worker,
and are never pickled into a task. A spec that holds a credential (a URL password, a
query parameter or option the secret scrubber recognises) is refused when it is built.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from omnistorage._redact import redact_url, scrub
from omnistorage.errors import ConfigurationError
from omnistorage.store import Store

__all__ = ["CONFIG_ENV", "StoreSpec"]

CONFIG_ENV = "OMNISTORAGE_CONFIG"
"""The environment variable naming a worker's configuration file (as for the CLI)."""

_PROFILE = re.compile(r"^(?P<name>[A-Za-z0-9_][A-Za-z0-9_.-]*):(?P<rest>(?!//).*)$", re.DOTALL)


@dataclass(frozen=True)
class StoreSpec:
    """How a worker opens a store: ``address`` (a URL, a ``profile:path`` or an absolute
    local path), ``config`` (the configuration file a profile address is read from on
    the worker; ``None`` means ``$OMNISTORAGE_CONFIG``) and plain, non-secret backend
    ``options``. Raises :class:`~omnistorage.ConfigurationError` when any part holds a
    credential or the address is empty."""

    address: str
    config: str | None = None
    options: Mapping[str, str | int | float | bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.address, str) or not self.address:
            raise ConfigurationError("a StoreSpec needs an address (a URL, profile:path or path)")
        object.__setattr__(self, "options", dict(self.options))
        text = self.address + "?" + urlencode({k: str(v) for k, v in self.options.items()})
        if redact_url(self.address) != self.address or scrub(text) != text:
            raise ConfigurationError(
                f"StoreSpec {redact_url(scrub(self.address))!r} holds a credential: tasks would "
                "carry it to every worker; give credentials through each worker's environment "
                "or configuration file instead"
            )

    def describe(self) -> str:
        """The address, for messages and the job manifest (it holds no secret)."""
        return self.address

    def open(self) -> Store:
        """Open the store (on the worker: credentials come from its environment)."""
        match = _PROFILE.match(self.address)
        if match is not None and "://" not in self.address:
            return self._open_profile(match["name"], match["rest"])
        from omnistorage.registry import open_store

        options: dict[str, Any] = dict(self.options)
        return open_store(self.address, **options)

    def _open_profile(self, name: str, rest: str) -> Store:
        from omnistorage.config import Registry, RegistryConfig

        path = self.config or os.environ.get(CONFIG_ENV)
        if not path:
            raise ConfigurationError(
                f"profile address {self.address!r}: no configuration file on this worker "
                f"(set {CONFIG_ENV} or give StoreSpec(config=...))"
            )
        registry = Registry(RegistryConfig.from_toml(path))
        store = registry.store(name)
        rest = rest.strip("/")
        return store.child(rest) if rest else store
