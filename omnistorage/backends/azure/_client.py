"""The service client from the credential options, and the secrets it must never show.

:func:`make_service` checks which credential options go together and builds a
``BlobServiceClient`` (``DefaultAzureCredential`` when ``azure-identity`` is
installed and nothing else is given; ``AZURE_STORAGE_CONNECTION_STRING`` when
no account is given at all). Account keys, SAS tokens (also their ``sig`` in
every quoting) and connection strings are returned as secrets to scrub, and
registered with :func:`~omnistorage._redact.protect_secrets` so SDK logs never
show them either.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from azure.core.credentials import AzureSasCredential
from azure.core.exceptions import ServiceResponseError
from azure.storage.blob import BlobServiceClient, ExponentialRetry

from omnistorage._net import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_BUDGET,
    RetryBudget,
)
from omnistorage._redact import protect_secrets
from omnistorage.backends.azure._limits import READ_CHUNK
from omnistorage.errors import ConfigurationError

__all__ = ["BudgetedRetry", "budget_scope", "client_secrets", "make_service"]

_scope = threading.local()


@contextlib.contextmanager
def budget_scope() -> Iterator[None]:
    """One call, for the retry budget, however many requests the SDK makes inside it.

    The download stream of the storage SDK reads a body up to three times (a new
    request each, 1 s apart) when the first read fails: each of those requests
    would start the budget afresh. Inside this scope they share the start of the
    outermost scope of the thread, and a request that could not end within the
    budget fails at once (``ServiceResponseError``, temporary) instead of waiting
    for a silent server again."""
    outer = getattr(_scope, "started", None)
    if outer is None:
        _scope.started = time.monotonic()
    try:
        yield
    finally:
        if outer is None:
            _scope.started = None


class BudgetedRetry(ExponentialRetry):
    """The storage SDK's exponential retry, which starts a retry only within the call's
    retry budget (:mod:`omnistorage._net`): a server that stays silent is not waited for
    once more past it."""

    def __init__(self, budget: RetryBudget, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._budget = budget

    def configure_retries(self, request: Any) -> dict[str, Any]:
        settings: dict[str, Any] = super().configure_retries(request)
        settings["omnistorage_started"] = getattr(_scope, "started", None) or time.monotonic()
        return settings

    def send(self, request: Any) -> Any:
        started = getattr(_scope, "started", None)
        if started is not None and not self._budget.allows(started):
            raise ServiceResponseError(
                f"no request started: the retry budget of {self._budget.budget:g} s of this "
                "call was spent waiting for a silent service"
            )
        return super().send(request)  # type: ignore[no-untyped-call]

    def increment(
        self, settings: Any, request: Any, response: Any = None, error: Any = None
    ) -> bool:
        again = bool(super().increment(settings, request, response=response, error=error))
        started = settings.get("omnistorage_started")
        if again and started is not None:
            return self._budget.allows(started, self.get_backoff_time(settings))
        return again


def make_service(
    *,
    account_url: str | None,
    connection_string: str | None,
    account_name: str | None,
    account_key: str | None,
    sas_token: str | None,
    credential: Any,
    service_client: BlobServiceClient | None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    retry_budget: float = DEFAULT_RETRY_BUDGET,
) -> tuple[BlobServiceClient, bool, list[str]]:
    """The service client, whether the backend owns it, and the secrets to scrub."""
    given = {
        "account_url": account_url,
        "connection_string": connection_string,
        "account_name": account_name,
        "account_key": account_key,
        "sas_token": sas_token,
        "credential": credential,
    }
    if service_client is not None:
        extra = sorted(k for k, v in given.items() if v is not None)
        if extra:
            raise ConfigurationError(f"azure: service_client excludes {', '.join(extra)}")
        return service_client, False, []
    client_options: dict[str, Any] = {
        "max_single_get_size": READ_CHUNK,
        "max_chunk_get_size": READ_CHUNK,
        "connection_timeout": connect_timeout,
        "read_timeout": read_timeout,
        # The SDK's default waits 15 s, then 18 s … between attempts; a service that is
        # down must fail within about 10 s (omnistorage._net).
        "retry_policy": BudgetedRetry(
            RetryBudget(retry_budget, connect_timeout, read_timeout),
            initial_backoff=1,
            increment_base=1,
            retry_total=retries,
            random_jitter_range=1,
        ),
    }
    if connection_string is None and not (account_url or account_name):
        if account_key or sas_token or credential is not None:
            raise ConfigurationError(
                "azure: account_key, sas_token and credential need account_url or account_name"
            )
        connection_string = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
        if not connection_string:
            raise ConfigurationError(
                "azure: no account given: pass connection_string, account_url or account_name "
                "(or set AZURE_STORAGE_CONNECTION_STRING)"
            )
    if connection_string is not None:
        extra = sorted(k for k, v in given.items() if v is not None and k != "connection_string")
        if extra:
            raise ConfigurationError(f"azure: connection_string excludes {', '.join(extra)}")
        secrets = _connection_string_secrets(connection_string)
        protect_secrets(*secrets)  # scrubbed from the SDK's (and urllib3's) logs too
        try:
            service = BlobServiceClient.from_connection_string(connection_string, **client_options)
        except ValueError:
            raise ConfigurationError("azure: the connection string is not valid") from None
        return service, True, secrets
    url = account_url or f"https://{account_name}.blob.core.windows.net"
    secrets = []
    query = urlsplit(url).query
    if query:
        secrets += _sas_secrets(query)
    chosen = [k for k in ("account_key", "sas_token", "credential") if given[k] is not None]
    if len(chosen) > 1:
        raise ConfigurationError(f"azure: give only one of {', '.join(chosen)}")
    cred: Any
    if account_key is not None:
        name = account_name or _account_from_url(url)
        if not name:
            raise ConfigurationError("azure: account_key needs account_name")
        cred = {"account_name": name, "account_key": account_key}
        secrets.append(account_key)
    elif sas_token is not None:
        secrets += _sas_secrets(sas_token)
        cred = AzureSasCredential(sas_token.lstrip("?"))
    elif credential is not None:
        cred = credential
    elif query:
        cred = None  # the SAS is in the URL
    else:
        cred = _default_credential()
    protect_secrets(*secrets)  # scrubbed from the SDK's (and urllib3's) logs too
    return BlobServiceClient(url, credential=cred, **client_options), True, secrets


def client_secrets(service: BlobServiceClient) -> list[str]:
    """Secrets a ready client holds (also one passed in as ``service_client``)."""
    secrets: list[str] = []
    credential = getattr(service, "credential", None)
    key = getattr(credential, "account_key", None)
    if isinstance(key, str):
        secrets.append(key)
    if isinstance(credential, AzureSasCredential):
        secrets += _sas_secrets(credential.signature)
    query = urlsplit(str(getattr(service, "url", "") or "")).query
    if query:
        secrets += _sas_secrets(query)
    protect_secrets(*secrets)
    return secrets


def _default_credential() -> Any:
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise ConfigurationError(
            "azure: no credentials given (account_key, sas_token, credential or "
            "connection_string), and DefaultAzureCredential needs azure-identity: "
            "pip install azure-identity"
        ) from None
    return DefaultAzureCredential()


def _connection_string_secrets(connection_string: str) -> list[str]:
    secrets = [connection_string]
    for part in connection_string.split(";"):
        name, _, value = part.partition("=")
        if name.strip().lower() == "accountkey":
            secrets.append(value.strip())
        elif name.strip().lower() == "sharedaccesssignature":
            secrets += _sas_secrets(value.strip())
    return secrets


def _sas_secrets(token: str) -> list[str]:
    token = token.lstrip("?")
    secrets = [token]
    for part in token.split("&"):
        name, _, value = part.partition("=")
        if name == "sig" and value:
            plain = unquote(value)
            secrets += [value, plain, quote(plain, safe="")]
    return secrets


def _account_from_url(url: str) -> str | None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ".blob." in host:
        return host.split(".", 1)[0]
    segment = parts.path.strip("/").split("/", 1)[0]  # emulator style: http://host:port/account
    return segment or None
