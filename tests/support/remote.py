"""Stores over the loopback test servers, for tests that combine backends (mirrors,
sync). Each call makes a fresh backend under a unique root; ``close_and_wipe`` removes
what the test wrote. Settings come from ``scripts/servers.sh env``."""

from __future__ import annotations

import contextlib
import functools
import uuid
from typing import Any

from omnistorage import Store
from tests.support.servers import server_env

__all__ = ["azure_store", "gcs_store", "s3_store", "sftp_store", "wipe"]

S3_BUCKET = "omni-shared"
GCS_BUCKET = "omni-shared"
AZURE_CONTAINER = "omni-shared"


def _root() -> str:
    return f"t-{uuid.uuid4().hex}"


@functools.cache
def _s3_bucket() -> str:
    import boto3

    env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
    client = boto3.client(
        "s3",
        endpoint_url=env["OMNI_TEST_S3_ENDPOINT"],
        region_name=env["OMNI_TEST_S3_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=S3_BUCKET)
    return S3_BUCKET


def s3_store(**options: Any) -> Store:
    from omnistorage.backends.s3 import S3Backend

    env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
    options.setdefault("endpoint_url", env["OMNI_TEST_S3_ENDPOINT"])
    options.setdefault("region", env["OMNI_TEST_S3_REGION"])
    options.setdefault("access_key_id", "testing")
    options.setdefault("secret_access_key", "testing")
    return Store(S3Backend(bucket=_s3_bucket(), **options), _root())


@functools.cache
def _gcs_bucket() -> str:
    from google.api_core import exceptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    endpoint = server_env("OMNI_TEST_GCS_ENDPOINT")["OMNI_TEST_GCS_ENDPOINT"].rstrip("/")
    client = storage.Client(
        project="test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
    )
    bucket = client.bucket(GCS_BUCKET)
    if not bucket.exists():
        with contextlib.suppress(exceptions.Conflict):
            client.create_bucket(GCS_BUCKET)
    return GCS_BUCKET


def gcs_store(**options: Any) -> Store:
    from omnistorage.backends.gcs import GCSBackend

    endpoint = server_env("OMNI_TEST_GCS_ENDPOINT")["OMNI_TEST_GCS_ENDPOINT"].rstrip("/")
    options.setdefault("endpoint_url", endpoint)
    return Store(GCSBackend(bucket=_gcs_bucket(), **options), _root())


@functools.cache
def _azure_container() -> str:
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    cs = server_env("OMNI_TEST_AZURE_CONNECTION_STRING")["OMNI_TEST_AZURE_CONNECTION_STRING"]
    with BlobServiceClient.from_connection_string(cs) as service:
        with contextlib.suppress(ResourceExistsError):
            service.create_container(AZURE_CONTAINER)
    return AZURE_CONTAINER


def azure_store(**options: Any) -> Store:
    from omnistorage.backends.azure import AzureBackend

    cs = server_env("OMNI_TEST_AZURE_CONNECTION_STRING")["OMNI_TEST_AZURE_CONNECTION_STRING"]
    options.setdefault("connection_string", cs)
    return Store(AzureBackend(container=_azure_container(), **options), _root())


def sftp_store(**options: Any) -> Store:
    from omnistorage.backends.sftp import SFTPBackend

    env = server_env(
        "OMNI_TEST_SFTP_HOST",
        "OMNI_TEST_SFTP_PORT",
        "OMNI_TEST_SFTP_USER",
        "OMNI_TEST_SFTP_KEY_FILE",
        "OMNI_TEST_SFTP_KNOWN_HOSTS",
        "OMNI_TEST_SFTP_ROOT",
    )
    options.setdefault("host", env["OMNI_TEST_SFTP_HOST"])
    options.setdefault("port", int(env["OMNI_TEST_SFTP_PORT"]))
    options.setdefault("username", env["OMNI_TEST_SFTP_USER"])
    options.setdefault("key_filename", env["OMNI_TEST_SFTP_KEY_FILE"])
    options.setdefault("known_hosts", env["OMNI_TEST_SFTP_KNOWN_HOSTS"])
    options.setdefault("root", f"{env['OMNI_TEST_SFTP_ROOT']}/{_root()}")
    return Store(SFTPBackend(**options))


def wipe(store: Store) -> None:
    """Delete everything the test wrote under the store's root, then close it."""
    with contextlib.suppress(Exception):
        if store.is_folder(""):
            for info in list(store.list_files(recursive=True)):
                store.delete(info.path, missing_ok=True)
    with contextlib.suppress(Exception):
        store.close()
