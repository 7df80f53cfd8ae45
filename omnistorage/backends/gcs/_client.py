"""Building the ``google.cloud.storage.Client`` from the connection options.

With an ``endpoint_url`` (an emulator, a private endpoint) the client uses
anonymous credentials unless ``credentials`` or ``credentials_file`` is given;
otherwise ``credentials``, the service-account key file, or the
application-default credentials.
"""

from __future__ import annotations

from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.oauth2 import service_account

from omnistorage.errors import ConfigurationError

__all__ = ["make_client"]


def make_client(
    project: str | None,
    endpoint_url: str | None,
    credentials: Any,
    credentials_file: str | None,
) -> Any:
    if credentials is not None and credentials_file is not None:
        raise ConfigurationError("give GCS credentials or credentials_file, not both")
    if credentials_file is not None:
        load = service_account.Credentials.from_service_account_file
        credentials = load(credentials_file, scopes=storage.Client.SCOPE)  # type: ignore[no-untyped-call]
        project = project or credentials.project_id
    client_options = None
    if endpoint_url:
        if "://" not in endpoint_url:
            endpoint_url = f"http://{endpoint_url}"
        client_options = {"api_endpoint": endpoint_url.rstrip("/")}
        if credentials is None:
            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    # project=None (explicitly) means "no project": object operations need none.
    return storage.Client(project=project, credentials=credentials, client_options=client_options)
