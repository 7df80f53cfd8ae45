"""The buckets of a GCS project (or an emulator): list, create, delete.

See :mod:`omnistorage.buckets`. Listing and creating buckets need a project
(``project=`` or the one of ``credentials_file``) on the real service; GCS
refuses to delete a bucket that holds objects (409).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from datetime import UTC
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.cloud.storage.retry import DEFAULT_RETRY

from omnistorage._net import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, DEFAULT_RETRIES
from omnistorage.backends.gcs._client import credential_secrets, make_client
from omnistorage.backends.gcs._errors import classify
from omnistorage.buckets import BucketInfo
from omnistorage.errors import BucketMissing, Classification

__all__ = ["GCSBuckets"]


class GCSBuckets:
    """The buckets of one project (the connection options of
    :class:`~omnistorage.backends.gcs.GCSBackend`)."""

    noun = "bucket"
    bucket_option = "bucket"

    def __init__(
        self,
        *,
        project: str | None = None,
        endpoint_url: str | None = None,
        credentials: Any = None,
        credentials_file: str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        self._client = make_client(project, endpoint_url, credentials, credentials_file)
        self.secret_values = credential_secrets(getattr(self._client, "_credentials", None))
        self._timeout = (float(connect_timeout), float(read_timeout))
        self._retry = (
            DEFAULT_RETRY.with_delay(initial=0.5, maximum=2.0, multiplier=2.0).with_timeout(
                1.0 + 2.0 * retries
            )
            if retries
            else None
        )

    def list_buckets(self) -> Iterator[BucketInfo]:
        for bucket in self._client.list_buckets(timeout=self._timeout, retry=self._retry):
            created = bucket.time_created
            yield BucketInfo(
                name=str(bucket.name), created=None if created is None else created.astimezone(UTC)
            )

    def make_bucket(self, name: str) -> None:
        try:
            self._client.create_bucket(name, timeout=self._timeout, retry=self._retry)
        except api_exceptions.Conflict as exc:
            raise FileExistsError(f"bucket {name!r} already exists") from exc

    def remove_bucket(self, name: str) -> None:
        try:
            self._client.bucket(name).delete(timeout=self._timeout, retry=self._retry)
        except api_exceptions.Conflict as exc:
            raise OSError(errno.ENOTEMPTY, f"bucket {name!r} is not empty") from exc
        except api_exceptions.NotFound as exc:
            raise BucketMissing(name, "bucket") from exc

    def classify_error(self, exc: BaseException) -> Classification:
        return classify(exc)

    def close(self) -> None:
        self._client.close()
