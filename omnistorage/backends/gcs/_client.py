"""Building the ``google.cloud.storage.Client`` from the connection options.

With an ``endpoint_url`` (an emulator, a private endpoint) the client uses
anonymous credentials unless ``credentials`` or ``credentials_file`` is given;
otherwise ``credentials``, the service-account key file, or the
application-default credentials.

:func:`credential_secrets` lists the secret strings a credentials object holds
(OAuth access and refresh tokens, client secrets) and registers them with
:func:`~omnistorage._redact.protect_secrets`. An access token that is refreshed
later is not known in advance; the scrubber's ``Bearer …`` and
``Authorization`` patterns cover it in SDK logs.
"""

from __future__ import annotations

from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.oauth2 import service_account

from omnistorage._redact import protect_secrets

__all__ = ["credential_secrets", "make_client"]

_SECRET_ATTRIBUTES = ("token", "refresh_token", "client_secret", "id_token", "rapt_token")


def credential_secrets(credentials: Any) -> tuple[str, ...]:
    """The secret strings ``credentials`` holds now, registered to be scrubbed from logs."""
    found: list[str] = []
    for name in _SECRET_ATTRIBUTES:
        try:
            value = getattr(credentials, name, None)
        except Exception:  # noqa: BLE001 - an odd credentials type holds nothing we can read
            continue
        if isinstance(value, str) and value:
            found.append(value)
    secrets = tuple(dict.fromkeys(found))
    protect_secrets(*secrets)
    return secrets


def make_client(
    project: str | None,
    endpoint_url: str | None,
    credentials: Any,
    credentials_file: str | None,
) -> Any:
    # GCSBackend's options schema has refused credentials with credentials_file, and an
    # endpoint without a scheme (guessing http:// could send credentials in clear text).
    if credentials_file is not None:
        load = service_account.Credentials.from_service_account_file
        credentials = load(credentials_file, scopes=storage.Client.SCOPE)  # type: ignore[no-untyped-call]
        project = project or credentials.project_id
    client_options = None
    if endpoint_url:
        client_options = {"api_endpoint": endpoint_url.rstrip("/")}
        if credentials is None:
            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    credential_secrets(credentials)
    # project=None (explicitly) means "no project": object operations need none.
    return storage.Client(project=project, credentials=credentials, client_options=client_options)
