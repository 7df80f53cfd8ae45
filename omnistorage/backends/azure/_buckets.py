"""The containers of an Azure storage account: list, create, delete.

See :mod:`omnistorage.buckets`. Azure deletes a container with everything in
it, so :meth:`AzureBuckets.remove_bucket` first lists one blob and refuses a
container that holds any (a blob written between that listing and the delete
is deleted with the container: the documented race).
"""

from __future__ import annotations

import errno
import itertools
from collections.abc import Iterator
from datetime import UTC
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from omnistorage._net import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_BUDGET,
)
from omnistorage.backends.azure._client import client_secrets, make_service
from omnistorage.backends.azure._errors import CONTAINER_MISSING_CODES, classify, error_code
from omnistorage.buckets import BucketInfo
from omnistorage.errors import BucketMissing, Classification

__all__ = ["AzureBuckets"]


class AzureBuckets:
    """The containers of one account (the credential options of
    :class:`~omnistorage.backends.azure.AzureBackend`)."""

    noun = "container"
    bucket_option = "container"

    def __init__(
        self,
        *,
        account_url: str | None = None,
        connection_string: str | None = None,
        account_name: str | None = None,
        account_key: str | None = None,
        sas_token: str | None = None,
        credential: Any = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
    ) -> None:
        self._service, self._owns, secrets = make_service(
            account_url=account_url,
            connection_string=connection_string,
            account_name=account_name,
            account_key=account_key,
            sas_token=sas_token,
            credential=credential,
            service_client=None,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries=retries,
            retry_budget=retry_budget,
        )
        secrets += client_secrets(self._service)
        self.secret_values = tuple(dict.fromkeys(s for s in secrets if s))

    def list_buckets(self) -> Iterator[BucketInfo]:
        for container in self._service.list_containers():
            created = container.last_modified
            yield BucketInfo(
                name=str(container.name),
                created=None if created is None else created.astimezone(UTC),
            )

    def make_bucket(self, name: str) -> None:
        try:
            self._service.create_container(name)
        except ResourceExistsError as exc:
            raise FileExistsError(f"container {name!r} already exists") from exc

    def remove_bucket(self, name: str) -> None:
        container = self._service.get_container_client(name)
        try:
            first = list(itertools.islice(container.list_blobs(results_per_page=1), 1))
            if first:
                raise OSError(errno.ENOTEMPTY, f"container {name!r} is not empty")
            container.delete_container()
        except ResourceNotFoundError as exc:
            if error_code(exc) in CONTAINER_MISSING_CODES or error_code(exc) is None:
                raise BucketMissing(name, "container") from exc
            raise

    def classify_error(self, exc: BaseException) -> Classification:
        return classify(exc)

    def close(self) -> None:
        if self._owns:
            self._service.close()
