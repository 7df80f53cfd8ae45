"""The buckets of an S3 account or endpoint: ``ListBuckets``, ``CreateBucket``, ``DeleteBucket``.

See :mod:`omnistorage.buckets`. A bucket is made in the client's region (with
a ``LocationConstraint`` outside ``us-east-1``, as S3 requires), after a
``HeadBucket``: in ``us-east-1`` S3 answers 200 to re-creating a bucket the
account owns, so only that check reports it as existing (two callers racing
between it and the create both succeed there). A bucket another account owns
answers 403 to the check and ``BucketAlreadyExists`` to the create. S3 itself
refuses to delete a bucket that holds anything (``BucketNotEmpty``).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import botocore.exceptions

from omnistorage._net import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_BUDGET,
    RetryBudget,
)
from omnistorage._redact import protect_secrets
from omnistorage.backends.s3._config import (
    ADDRESSING_STYLES,
    RETRY_MODES,
    build_client,
    chain_secrets,
)
from omnistorage.backends.s3._errors import classify, error_code, error_status
from omnistorage.buckets import BucketInfo
from omnistorage.errors import BucketMissing, Classification, ConfigurationError

__all__ = ["S3Buckets"]

_EXISTS_CODES = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})


class S3Buckets:
    """The buckets the credentials see on one endpoint (the connection options of
    :class:`~omnistorage.backends.s3.S3Backend`)."""

    noun = "bucket"
    bucket_option = "bucket"

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        profile: str | None = None,
        addressing_style: str = "auto",
        max_attempts: int = DEFAULT_RETRIES + 1,
        retry_mode: str = "standard",
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
    ) -> None:
        if addressing_style not in ADDRESSING_STYLES or retry_mode not in RETRY_MODES:
            raise ConfigurationError(
                f"s3: addressing_style must be one of {ADDRESSING_STYLES} and retry_mode "
                f"one of {RETRY_MODES}"
            )
        if max_attempts < 1:
            raise ConfigurationError("s3: max_attempts must be >= 1")
        self._client: Any = build_client(
            endpoint_url=endpoint_url,
            region=region,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            session_token=session_token,
            profile=profile,
            addressing_style=addressing_style,
            max_attempts=max_attempts,
            retry_mode=retry_mode,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=4,
            retry_budget=RetryBudget(retry_budget, connect_timeout, read_timeout),
        )
        explicit = (access_key_id, secret_access_key, session_token)
        secrets = tuple(v for v in explicit if v) + chain_secrets(self._client)
        self.secret_values = tuple(dict.fromkeys(secrets))
        protect_secrets(*self.secret_values)

    def list_buckets(self) -> Iterator[BucketInfo]:
        for bucket in self._client.list_buckets().get("Buckets", ()):
            created = bucket.get("CreationDate")
            yield BucketInfo(
                name=str(bucket["Name"]),
                created=None if created is None else created.astimezone(UTC),
            )

    def make_bucket(self, name: str) -> None:
        # In us-east-1, S3 answers 200 to re-creating a bucket you own: ask first.
        try:
            self._client.head_bucket(Bucket=name)
        except botocore.exceptions.ClientError as exc:
            if error_status(exc) not in (403, 404):  # 403: another account's, or no right
                raise  # to ask; the create then says which
        else:
            raise FileExistsError(f"bucket {name!r} already exists")
        kwargs: dict[str, Any] = {"Bucket": name}
        region = self._client.meta.region_name
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self._client.create_bucket(**kwargs)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in _EXISTS_CODES:
                raise FileExistsError(f"bucket {name!r} already exists") from exc
            raise

    def remove_bucket(self, name: str) -> None:
        try:
            self._client.delete_bucket(Bucket=name)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "BucketNotEmpty":
                raise OSError(errno.ENOTEMPTY, f"bucket {name!r} is not empty") from exc
            if error_code(exc) in ("NoSuchBucket", "404"):
                raise BucketMissing(name, "bucket") from exc
            raise

    def classify_error(self, exc: BaseException) -> Classification:
        return classify(exc)

    def close(self) -> None:
        self._client.close()
