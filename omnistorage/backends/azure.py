"""The Azure Blob Storage backend (``az://container/prefix``), a thin driver over
``azure-storage-blob``.

What it does, and how:

- **Writes** go to a block blob. Small objects (everything written fits in one
  ``block_size`` buffer) are one ``Put Blob`` (``upload_blob``). Larger ones
  are streamed: each ``block_size`` chunk is sent with ``stage_block`` while
  the caller keeps writing, with at most ``max_concurrency`` blocks in flight
  (memory stays around ``(max_concurrency + 2) * block_size``), and
  ``Writer.close()`` publishes the whole object with one ``commit_block_list``.
  Staged blocks are invisible until that commit: a reader sees the old blob
  or the whole new one. The block size doubles every 10,000 blocks (and starts
  larger when the size is known up front) so one blob stays under Azure's
  50,000-block limit. Every staged upload also stores the content MD5.
- **Aborted writes** (an exception inside ``open_atomic``, a cut connection, a
  failed commit) simply never commit. Their staged blocks are invisible to
  every read, listing and ``exists`` call, and the service discards
  uncommitted blocks after a week (or at the next commit to that name); the
  Blob API has no call that deletes them earlier, so there is nothing for
  the driver to clean up.
- **Create-only** (``overwrite=False``) is atomic: ``Put Blob`` and ``Put Block
  List`` are sent with ``If-None-Match: *`` and the service lets exactly one
  racing writer win (``CONDITIONAL_WRITE``). A racing *overwrite* loses its
  staged blocks when another writer commits the same name first (Azure
  discards every uncommitted block of a blob at each commit); that failure is
  reported as a temporary error: write again.
- **Reads** are ranged ``Get Blob`` calls streamed in 4 MiB chunks; the SDK pins
  later chunks to the first chunk's ETag, so a blob replaced mid-read fails the
  read instead of mixing versions. An offset at or past the end gives an empty
  stream (the service's 416 is handled).
- **Listing** is lazy and paged (``list_page_size`` per call):
  ``walk_blobs(delimiter="/")`` for folder listings, ``list_blobs`` for
  recursive ones. Folder-marker blobs (names ending in ``/``) and Data Lake
  directory entries (``hdi_isfolder``) are skipped.
- **Copy** is server-side (``start_copy_from_url`` inside the same account),
  create-only with ``If-None-Match: *`` on the destination (atomic: no
  check-then-copy race); an asynchronous copy is polled until it finishes and
  removed if it fails or is interrupted. The source is authorised by the
  shared key or the SAS (appended to the source URL); with token
  (``azure.identity``) credentials the service must accept the token for the
  copy source, which is verified only against a real account.
- **Metadata**: content type, user metadata (names must be C# identifiers,
  values printable ASCII without surrounding blanks: Azure's rules, checked
  before any I/O), and the modification time, kept rclone-style in the
  ``mtime`` metadata entry (RFC 3339) and returned as ``modified`` by ``stat``
  and by listings. ``stat`` reports the MD5 the service stores (hex).
- **Move**: the Blob API has no rename, so on a plain account ``move`` is the
  Store's copy + delete and ``MOVE`` is not declared. When the account has a
  hierarchical namespace (Data Lake Gen2; detected once with
  ``get_account_information()``), ``move`` is an atomic server-side
  ``rename_file`` through ``azure-storage-file-datalake`` and ``MOVE`` is
  declared. **This path can be verified only against a real HNS account and
  the project's tests do not run it**: the Azurite emulator has no Data Lake
  endpoint. Detection runs only for ``*.blob.*`` endpoints (so never against
  an emulator), without retries; when it fails (a SAS without
  account-information rights, no network) the backend stays on the Blob API.
  On HNS accounts, directories left empty by deletes stay visible to
  ``list_folders``; their directory entries are never reported as files.
- ``delete_many`` uses Blob Batch (256 deletes per request) and falls back to
  one call per blob where batches are refused (HNS accounts). Missing blobs are
  fine; snapshots are deleted with their blob.

Credentials: ``connection_string``; or ``account_url``/``account_name`` with
``account_key``, ``sas_token`` or ``credential`` (any ``azure.identity``
credential); with none of these, ``DefaultAzureCredential`` when
``azure-identity`` is installed (it is not a dependency of omnistorage). With
no account at all, ``AZURE_STORAGE_CONNECTION_STRING`` is read from the
environment. Account keys, SAS tokens and connection strings never appear in
``repr`` or in omnistorage error messages (they are listed in
``secret_values``), and the Azure SDK's request logging redacts them. An
account key never leaves the process (requests carry an HMAC signature), but a
SAS token travels in each request's query string, and ``urllib3`` at DEBUG
level logs request lines verbatim: keep the ``urllib3`` logger above DEBUG
where SAS tokens are used.

A missing container is an error (``NotFound``) for every call, ``exists``
included, unless ``create_container=True`` creates it on first use. With a
``service_client`` of your own, its download chunk sizes apply (the SDK's
default first ranged GET is 32 MiB); the backend's own client reads 4 MiB at
a time.

Verified against Azurite 3.35 (Blob API) by ``tests/backends/test_azure.py``:
every path above except the Data Lake move (HNS detection is checked with a
stub) and token-credential copies.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any, BinaryIO, TypeVar
from urllib.parse import SplitResult, quote, unquote, urlsplit

from azure.core import MatchConditions
from azure.core.credentials import AzureSasCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    IncompleteReadError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import (
    BlobBlock,
    BlobClient,
    BlobPrefix,
    BlobProperties,
    BlobServiceClient,
    ContentSettings,
    StorageStreamDownloader,
)

from omnistorage.capabilities import Capability, Features
from omnistorage.driver import ExtendedBackend, WriteOptions, Writer
from omnistorage.errors import Classification, ConfigurationError, ErrorKind, classify_builtin
from omnistorage.models import HashType, ObjectInfo

__all__ = ["AzureBackend", "AzureCopyFailed", "parse_url"]

T = TypeVar("T")

_log = logging.getLogger(__name__)

MiB = 1024 * 1024
_READ_CHUNK = 4 * MiB
_MAX_BLOCK_SIZE = 4000 * MiB
_MAX_BLOCKS = 50_000
_GROW_EVERY = 10_000
_BATCH = 256
_MAX_PAGE = 5000

_MTIME = "mtime"
_HDI_FOLDER = "hdi_isfolder"
_RESERVED = frozenset({_MTIME, _HDI_FOLDER})
_METADATA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

_TEMPORARY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_EXISTS_CODES = frozenset(
    {"BlobAlreadyExists", "ContainerAlreadyExists", "PathAlreadyExists", "ResourceAlreadyExists"}
)
_BUSY_CODES = frozenset({"ContainerBeingDeleted", "ServerBusy", "OperationTimedOut"})

_BASE = [
    Capability.READ,
    Capability.WRITE,
    Capability.DELETE,
    Capability.LIST,
    Capability.METADATA,
    Capability.COPY,
    Capability.ATOMIC_WRITE,
    Capability.CONDITIONAL_WRITE,
    Capability.RANGE_READ,
    Capability.SET_MOD_TIME,
    Capability.USER_METADATA,
    Capability.CONTENT_TYPE,
]
_LIMITS: dict[str, int | None] = {
    "max_part_size": _MAX_BLOCK_SIZE,
    "max_parts": _MAX_BLOCKS,
}
_FEATURES = Features.of(_BASE, [HashType.MD5], **_LIMITS)
_FEATURES_HNS = Features.of([*_BASE, Capability.MOVE], [HashType.MD5], **_LIMITS)


class AzureCopyFailed(Exception):
    """A server-side copy ended ``failed`` or ``aborted`` (the service's status says why)."""


class AzureBackend(ExtendedBackend):
    """Block blobs in one Azure Storage container.

    Keys are blob names (the backend root is the container); the Store adds
    its root prefix. Thread-safe: one SDK client is shared by all threads.

    Args:
        container: the container name.
        account_url: the Blob endpoint, ``https://<account>.blob.core.windows.net``
            (may carry a SAS query string).
        connection_string: an Azure Storage connection string (excludes the
            account options).
        account_name: the account, when ``account_url`` is not given.
        account_key: the shared key of the account.
        sas_token: a SAS token (account or container scope).
        credential: any ``azure.identity`` (token) credential object, or any
            credential the SDK accepts.
        block_size: bytes per staged block, and the largest object sent in a
            single ``Put Blob`` (default 8 MiB).
        max_concurrency: staged blocks in flight per writer.
        list_page_size: blobs per listing call (at most 5000).
        create_container: create the container on first use if it is missing.
        service_client: a ready ``BlobServiceClient`` (excludes every
            credential option; the backend does not close it).
        detect_hierarchical_namespace: ask the account whether it has a
            hierarchical namespace (for the atomic Data Lake ``move``).
    """

    name = "azure"

    def __init__(
        self,
        *,
        container: str,
        account_url: str | None = None,
        connection_string: str | None = None,
        account_name: str | None = None,
        account_key: str | None = None,
        sas_token: str | None = None,
        credential: Any = None,
        block_size: int = 8 * MiB,
        max_concurrency: int = 4,
        list_page_size: int = _MAX_PAGE,
        create_container: bool = False,
        service_client: BlobServiceClient | None = None,
        detect_hierarchical_namespace: bool = True,
    ) -> None:
        if not container or "/" in container:
            raise ConfigurationError(f"azure: a container name is required, got {container!r}")
        if not 1 <= block_size <= _MAX_BLOCK_SIZE:
            raise ConfigurationError(
                f"azure: block_size must be between 1 and {_MAX_BLOCK_SIZE}, got {block_size}"
            )
        if max_concurrency < 1:
            raise ConfigurationError(f"azure: max_concurrency must be >= 1, got {max_concurrency}")
        if not 1 <= list_page_size <= _MAX_PAGE:
            raise ConfigurationError(
                f"azure: list_page_size must be between 1 and {_MAX_PAGE}, got {list_page_size}"
            )
        self._container_name = container
        self._block_size = block_size
        self._max_concurrency = max_concurrency
        self._page_size = list_page_size
        self._detect_hns = detect_hierarchical_namespace
        self._lock = threading.Lock()
        self._features: Features | None = None
        self._hns = False
        self._dfs: Any = None
        self._container_ready = not create_container
        self._service, self._owns_service, secrets = _make_service(
            account_url=account_url,
            connection_string=connection_string,
            account_name=account_name,
            account_key=account_key,
            sas_token=sas_token,
            credential=credential,
            service_client=service_client,
        )
        secrets += _client_secrets(self._service)
        self.secret_values = tuple(dict.fromkeys(s for s in secrets if s))
        self._container = self._service.get_container_client(container)
        self._account = str(getattr(self._service, "account_name", "") or "")

    def __repr__(self) -> str:
        return f"AzureBackend(account={self._account!r}, container={self._container_name!r})"

    @property
    def container(self) -> str:
        """The container name."""
        return self._container_name

    # ------------------------------------------------------------ features

    def features(self) -> Features:
        """The declared features; ``MOVE`` only on a hierarchical-namespace account.

        The first call asks the account (once) whether it has a hierarchical
        namespace, unless ``detect_hierarchical_namespace=False``.
        """
        with self._lock:
            if self._features is None:
                self._hns = self._detect_hns and self._dfs_url() is not None and self._has_hns()
                self._features = _FEATURES_HNS if self._hns else _FEATURES
            return self._features

    def _has_hns(self) -> bool:
        for client in (self._container, self._service):
            try:
                # No retries: an unreachable endpoint must not stall Store() for minutes.
                info = client.get_account_information(retry_total=0)
            except (HttpResponseError, ServiceRequestError, ServiceResponseError) as exc:
                _log.debug("azure: account information unavailable (%s)", type(exc).__name__)
                continue
            value = info.get("is_hns_enabled")
            if value is not None:
                return bool(value)
        return False

    def _dfs_url(self) -> str | None:
        parts = urlsplit(self._service.url)
        host = parts.hostname or ""
        if ".blob." not in host:
            return None
        return parts._replace(netloc=parts.netloc.replace(".blob.", ".dfs.", 1)).geturl()

    # ------------------------------------------------------------ errors and paths

    def classify_error(self, exc: BaseException) -> Classification:
        code = _error_code(exc)
        if isinstance(exc, ResourceNotFoundError):
            return Classification(ErrorKind.NOT_FOUND)
        if isinstance(exc, ResourceExistsError):
            # The SDK raises this for every 409, not only for "already exists".
            if code is None or code in _EXISTS_CODES:
                return Classification(ErrorKind.ALREADY_EXISTS)
            if code in _BUSY_CODES:
                return Classification(ErrorKind.UNAVAILABLE, temporary=True)
            return Classification(ErrorKind.UNKNOWN)
        if isinstance(exc, ResourceModifiedError):
            return Classification(ErrorKind.PRECONDITION_FAILED)
        if isinstance(exc, ClientAuthenticationError):
            return Classification(ErrorKind.PERMISSION_DENIED)
        if isinstance(exc, IncompleteReadError):  # the connection dropped mid-body
            return Classification(ErrorKind.UNAVAILABLE, temporary=True)
        if isinstance(exc, HttpResponseError):
            status = exc.status_code
            if code == "InvalidBlockList":
                # Another writer committed this name and discarded our staged blocks.
                return Classification(ErrorKind.UNKNOWN, temporary=True)
            if status in (401, 403):
                return Classification(ErrorKind.PERMISSION_DENIED)
            if status == 404:
                return Classification(ErrorKind.NOT_FOUND)
            if status == 412:
                return Classification(ErrorKind.PRECONDITION_FAILED)
            if status in _TEMPORARY_STATUS or code in _BUSY_CODES:
                return Classification(ErrorKind.UNAVAILABLE, temporary=True)
            return Classification(ErrorKind.UNKNOWN)
        if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
            return Classification(ErrorKind.UNAVAILABLE, temporary=True)
        if isinstance(exc, (AzureError, AzureCopyFailed)):
            return Classification(ErrorKind.UNKNOWN)
        return classify_builtin(exc)

    def native_path(self, key: str) -> str:
        return f"az://{self._container_name}/{key}"

    def key_from_native(self, native: str) -> str | None:
        for scheme in ("az://", "azure://"):
            prefix = f"{scheme}{self._container_name}/"
            if native.startswith(prefix):
                return native[len(prefix) :]
            if native == prefix[:-1]:
                return ""
        return None

    def as_native(self, kind: type[T]) -> T | None:
        for candidate in (self._service, self._container, self._dfs):
            if candidate is not None and isinstance(candidate, kind):
                return candidate
        return None

    # ------------------------------------------------------------ basics

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        metadata = _blob_metadata(options)
        self._ensure_container()
        return _BlockBlobWriter(
            self._container.get_blob_client(key),
            key,
            options,
            metadata,
            block_size=self._first_block_size(options.size_hint),
            max_concurrency=self._max_concurrency,
        )

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        self._ensure_container()
        blob = self._container.get_blob_client(key)
        if length == 0:
            blob.get_blob_properties()  # a missing blob still raises
            return io.BytesIO(b"")
        try:
            downloader = blob.download_blob(offset=offset, length=length)
        except HttpResponseError as exc:
            if exc.status_code == 416:  # the offset is at or past the end
                return io.BytesIO(b"")
            raise
        return io.BufferedReader(_DownloadReader(downloader), buffer_size=256 * 1024)

    def exists(self, key: str) -> bool:
        self._ensure_container()
        try:
            props = self._container.get_blob_client(key).get_blob_properties()
        except ResourceNotFoundError as exc:
            if _error_code(exc) == "ContainerNotFound":
                raise
            return False
        return not _is_directory(props.metadata)

    def delete(self, key: str) -> None:
        self._ensure_container()
        with contextlib.suppress(ResourceNotFoundError):
            self._container.delete_blob(key, delete_snapshots="include")

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        self._ensure_container()
        start = prefix or None
        if recursive:
            for props in self._container.list_blobs(
                name_starts_with=start, include=["metadata"], results_per_page=self._page_size
            ):
                info = _listed(props)
                if info is not None:
                    yield info
            return
        for item in self._container.walk_blobs(
            name_starts_with=start,
            include=["metadata"],
            delimiter="/",
            results_per_page=self._page_size,
        ):
            if isinstance(item, BlobPrefix):
                yield ObjectInfo(path=item.name[:-1], is_dir=True)
                continue
            info = _listed(item)
            if info is not None:
                yield info

    def close(self) -> None:
        if self._owns_service:
            self._service.close()
        if self._dfs is not None:
            self._dfs.close()
        self.closed = True

    # ------------------------------------------------------------ extended

    def stat(self, key: str) -> ObjectInfo:
        self._ensure_container()
        props = self._container.get_blob_client(key).get_blob_properties()
        if _is_directory(props.metadata):
            return ObjectInfo(path=key, is_dir=True)
        return _info(key, props)

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        """Server-side copy inside the account; create-only with ``If-None-Match: *``."""
        self._ensure_container()
        source = self._container.get_blob_client(src)
        target = self._container.get_blob_client(dst)
        conditions: dict[str, Any] = {} if overwrite else {"match_condition": _IF_MISSING}
        with _create_only(dst, not overwrite):
            result = target.start_copy_from_url(self._source_url(source), **conditions)
        status = str(result.get("copy_status") or "success")
        if status != "success":
            self._finish_copy(target, str(result.get("copy_id") or ""), src, dst, status)

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        """Atomic server-side rename (hierarchical-namespace accounts only).

        Not run by the project's tests: it can be verified only against a real
        Data Lake Gen2 account, and Azurite has no Data Lake endpoint. ``MOVE``
        is declared only when the account reports a hierarchical namespace, so
        on other accounts the Store never calls this and moves by copy + delete.
        """
        if not self._hns:
            raise NotImplementedError("azure: move needs a hierarchical-namespace account")
        file_system = self._datalake().get_file_system_client(self._container_name)
        # The SDK unquotes the source path before quoting it again: pre-quote it so a key
        # holding '%' keeps its name.
        source = file_system.get_file_client(quote(src, safe="/"))
        conditions: dict[str, Any] = {} if overwrite else {"match_condition": _IF_MISSING}
        new_name = f"{self._container_name}/{dst}"
        with _create_only(dst, not overwrite):
            try:
                source.rename_file(new_name, **conditions)
            except ResourceNotFoundError as exc:
                parent = dst.rpartition("/")[0]
                if _error_code(exc) != "RenameDestinationParentPathNotFound" or not parent:
                    raise
                file_system.get_directory_client(parent).create_directory()
                source.rename_file(new_name, **conditions)

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete in Blob Batch requests of 256; missing blobs are fine."""
        self._ensure_container()
        batch: list[str] = []
        for key in keys:
            batch.append(key)
            if len(batch) == _BATCH:
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    # ------------------------------------------------------------ internals

    def _ensure_container(self) -> None:
        if self._container_ready:
            return
        with self._lock:
            if not self._container_ready:
                with contextlib.suppress(ResourceExistsError):
                    self._container.create_container()
                self._container_ready = True

    def _first_block_size(self, size_hint: int | None) -> int:
        size = self._block_size
        if size_hint is not None and size_hint > size * _MAX_BLOCKS:
            size = min(-(-size_hint // _MAX_BLOCKS), _MAX_BLOCK_SIZE)
        return size

    def _delete_batch(self, keys: Sequence[str]) -> None:
        if len(keys) == 1 or self._hns:
            for key in keys:
                self.delete(key)
            return
        try:
            responses = list(
                self._container.delete_blobs(
                    *keys, delete_snapshots="include", raise_on_any_failure=False
                )
            )
        except HttpResponseError as exc:
            # The whole batch was refused (no batch support here): one call per blob
            # (which raises the real error, if there is one).
            _log.debug("azure: batch delete refused (%s), deleting one by one", exc.status_code)
            for key in keys:
                self.delete(key)
            return
        for key, response in zip(keys, responses, strict=False):
            if response.status_code not in (200, 202, 404):
                self.delete(key)  # retried alone so a failure raises its native error
        for key in keys[len(responses) :]:
            self.delete(key)

    def _source_url(self, source: BlobClient) -> str:
        url = source.url
        credential = getattr(self._service, "credential", None)
        if isinstance(credential, AzureSasCredential) and "?" not in url:
            url = f"{url}?{credential.signature.lstrip('?')}"
        return url

    def _finish_copy(
        self, target: BlobClient, copy_id: str, src: str, dst: str, status: str
    ) -> None:
        delay = 0.05
        done = False
        description = ""
        try:
            while status == "pending":
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                copy = target.get_blob_properties().copy
                if copy_id and copy.id and copy.id != copy_id:
                    done = True  # another copy or write replaced ours: it is not ours to judge
                    return
                status = str(copy.status or "success")
                description = str(copy.status_description or "")
            done = True
        finally:
            if not done and copy_id:  # interrupted while pending: leave nothing behind
                with contextlib.suppress(HttpResponseError):
                    target.abort_copy(copy_id)
                with contextlib.suppress(ResourceNotFoundError):
                    target.delete_blob()
        if status != "success":
            with contextlib.suppress(ResourceNotFoundError):
                target.delete_blob()
            raise AzureCopyFailed(f"copy of {src!r} to {dst!r} ended {status}: {description}")

    def _datalake(self) -> Any:
        with self._lock:
            if self._dfs is None:
                from azure.storage.filedatalake import DataLakeServiceClient

                credential = getattr(self._service, "credential", None)
                name = getattr(credential, "account_name", None)
                key = getattr(credential, "account_key", None)
                if name and key:
                    credential = {"account_name": name, "account_key": key}
                self._dfs = DataLakeServiceClient(self._dfs_url() or "", credential=credential)
            return self._dfs


_IF_MISSING = MatchConditions.IfMissing


@contextlib.contextmanager
def _create_only(key: str, create_only: bool) -> Iterator[None]:
    """Turn a failed ``If-None-Match: *`` (412) into "already exists" for create-only calls."""
    try:
        yield
    except (ResourceModifiedError, HttpResponseError) as exc:
        if create_only and exc.status_code == 412:
            raise FileExistsError(f"blob {key!r} already exists") from exc
        raise


# ---------------------------------------------------------------- credentials


def _make_service(
    *,
    account_url: str | None,
    connection_string: str | None,
    account_name: str | None,
    account_key: str | None,
    sas_token: str | None,
    credential: Any,
    service_client: BlobServiceClient | None,
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
        "max_single_get_size": _READ_CHUNK,
        "max_chunk_get_size": _READ_CHUNK,
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
    return BlobServiceClient(url, credential=cred, **client_options), True, secrets


def _client_secrets(service: BlobServiceClient) -> list[str]:
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


# ---------------------------------------------------------------- metadata


def _blob_metadata(options: WriteOptions) -> dict[str, str] | None:
    """The blob metadata for a write: checked user metadata plus the rclone-style ``mtime``."""
    metadata: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in options.metadata.items():
        if not _METADATA_NAME.match(name):
            raise ValueError(
                f"Azure metadata names must be C# identifiers (ASCII letters, digits, '_'), "
                f"got {name!r}"
            )
        lowered = name.lower()
        if lowered in _RESERVED:
            raise ValueError(f"the metadata name {name!r} is reserved by the azure backend")
        if lowered in seen:
            raise ValueError(f"Azure metadata names ignore case: {name!r} is given twice")
        seen.add(lowered)
        if not (value.isascii() and value.isprintable()) or value != value.strip():
            raise ValueError(
                f"Azure metadata values must be printable ASCII without surrounding blanks, "
                f"got {value!r} for {name!r}"
            )
        metadata[name] = value
    if options.modified is not None:
        metadata[_MTIME] = _format_mtime(options.modified)
    return metadata or None


def _format_mtime(when: datetime) -> str:
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    fraction = f".{when.microsecond:06d}" if when.microsecond else ""
    return when.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def _parse_mtime(value: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _is_directory(metadata: Mapping[str, str] | None) -> bool:
    items = (metadata or {}).items()
    return any(k.lower() == _HDI_FOLDER and v.lower() == "true" for k, v in items)


def _error_code(exc: BaseException) -> str | None:
    """The service's error code (``BlobNotFound`` …), which the SDK attaches to its errors."""
    code = getattr(exc, "error_code", None)
    return None if code is None else str(getattr(code, "value", code))


def _info(key: str, props: BlobProperties) -> ObjectInfo:
    user: dict[str, str] = {}
    modified: datetime | None = None
    for name, value in (props.metadata or {}).items():
        lowered = name.lower()
        if lowered == _MTIME:
            modified = _parse_mtime(value)
        elif lowered not in _RESERVED:
            user[name] = value
    if modified is None and props.last_modified is not None:
        last = props.last_modified
        modified = last.replace(tzinfo=UTC) if last.tzinfo is None else last.astimezone(UTC)
    settings = props.content_settings
    md5 = settings.content_md5 if settings is not None else None
    return ObjectInfo(
        path=key,
        size=int(props.size or 0),
        modified=modified,
        content_type=settings.content_type if settings is not None else None,
        etag=props.etag,
        hashes={HashType.MD5: bytes(md5).hex()} if md5 else {},
        metadata=user,
    )


def _listed(props: BlobProperties) -> ObjectInfo | None:
    name = props.name
    if not name or name.endswith("/") or _is_directory(props.metadata):
        return None  # folder markers and Data Lake directories are not files
    return _info(name, props)


# ---------------------------------------------------------------- reading


class _DownloadReader(io.RawIOBase):
    """A raw stream over a downloader's chunks (one ranged GET per chunk, 4 MiB each)."""

    def __init__(self, downloader: StorageStreamDownloader[bytes]) -> None:
        super().__init__()
        self._chunks: Iterator[bytes] | None = downloader.chunks()
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        while not self._pending:
            if self._chunks is None:
                return False
            chunk = next(self._chunks, None)
            if chunk is None:
                self._chunks = None
                return False
            self._pending = memoryview(chunk)
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if not self._fill():
            return 0
        view = memoryview(buffer).cast("B")
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def readall(self) -> bytes:
        parts = []
        while self._fill():
            parts.append(bytes(self._pending))
            self._pending = memoryview(b"")
        return b"".join(parts)

    def close(self) -> None:
        self._chunks = None
        self._pending = memoryview(b"")
        super().close()


# ---------------------------------------------------------------- writing


class _BlockBlobWriter(Writer):
    """One ``Put Blob`` for small objects; staged blocks + one commit for the rest."""

    def __init__(
        self,
        blob: BlobClient,
        key: str,
        options: WriteOptions,
        metadata: dict[str, str] | None,
        *,
        block_size: int,
        max_concurrency: int,
    ) -> None:
        self._blob = blob
        self._key = key
        self._overwrite = options.overwrite
        self._content_type = options.content_type
        self._metadata = metadata
        self._block_size = block_size
        self._max_in_flight = max_concurrency
        self._buffer = bytearray()
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._block_ids: list[str] = []
        self._in_flight: set[Future[Any]] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._token = uuid.uuid4().hex  # block ids never collide with a racing writer's
        self._done = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._done:
            raise ValueError("write to a finished writer")
        view = memoryview(data).cast("B")
        pos, total = 0, len(view)
        while pos < total:
            room = self._block_size - len(self._buffer)
            piece = view[pos : pos + room]
            self._buffer += piece
            pos += len(piece)
            if len(self._buffer) >= self._block_size:
                block = bytes(self._buffer)
                self._buffer = bytearray()
                self._stage(block)
        return total

    def close(self) -> None:
        if self._done:
            raise ValueError("writer already finished")
        self._done = True
        try:
            if not self._block_ids:
                self._put(bytes(self._buffer))
            else:
                if self._buffer:
                    block = bytes(self._buffer)
                    self._buffer = bytearray()
                    self._stage(block)
                self._wait_all()
                self._commit()
        finally:
            self._buffer = bytearray()
            self._stop()

    def abort(self) -> None:
        # Nothing was committed; the staged blocks stay invisible until the service drops them.
        self._done = True
        self._buffer = bytearray()
        self._stop()

    # ------------------------------------------------------------ internals

    def _stage(self, block: bytes) -> None:
        self._wait_until_below(self._max_in_flight)
        self._md5.update(block)
        index = len(self._block_ids)
        block_id = base64.b64encode(f"{self._token}{index:06d}".encode()).decode()
        self._block_ids.append(block_id)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self._max_in_flight, thread_name_prefix="omnistorage-azure"
            )
        future = self._pool.submit(self._blob.stage_block, block_id, block, length=len(block))
        self._in_flight.add(future)
        if len(self._block_ids) % _GROW_EVERY == 0:
            self._block_size = min(self._block_size * 2, _MAX_BLOCK_SIZE)

    def _wait_until_below(self, limit: int) -> None:
        while self._in_flight and (
            len(self._in_flight) >= limit or any(f.done() for f in self._in_flight)
        ):
            done, _ = wait(self._in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                self._in_flight.discard(future)
                future.result()  # a failed block fails the write

    def _wait_all(self) -> None:
        while self._in_flight:
            self._wait_until_below(1)

    def _commit(self) -> None:
        settings = ContentSettings(
            content_type=self._content_type, content_md5=bytearray(self._md5.digest())
        )
        conditions: dict[str, Any] = {} if self._overwrite else {"match_condition": _IF_MISSING}
        blocks = [BlobBlock(block_id=block_id) for block_id in self._block_ids]
        try:
            with _create_only(self._key, not self._overwrite):
                self._blob.commit_block_list(
                    blocks, content_settings=settings, metadata=self._metadata, **conditions
                )
        except HttpResponseError as exc:
            # A racing writer committed first, which discards our staged blocks before the
            # service looks at If-None-Match: for a create-only write that is "exists".
            if (
                not self._overwrite
                and _error_code(exc) == "InvalidBlockList"
                and self._blob.exists()
            ):
                raise FileExistsError(f"blob {self._key!r} already exists") from exc
            raise

    def _put(self, data: bytes) -> None:
        settings = ContentSettings(content_type=self._content_type) if self._content_type else None
        with _create_only(self._key, not self._overwrite):
            self._blob.upload_blob(
                data,
                length=len(data),
                overwrite=self._overwrite,
                metadata=self._metadata,
                content_settings=settings,
                max_concurrency=self._max_in_flight,
            )

    def _stop(self) -> None:
        pool, self._pool = self._pool, None
        in_flight, self._in_flight = self._in_flight, set()
        if pool is None:
            return
        for future in in_flight:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------- URLs


def parse_url(split: SplitResult) -> tuple[dict[str, Any], str]:
    """``az://container/prefix``, ``azure://container/prefix`` or
    ``abfs://container@account.dfs.core.windows.net/prefix``.

    Returns ``({"container": ..., ["account_url": ...]}, prefix)``. Other options
    (``connection_string``, ``sas_token`` …) come from the query string; without
    any, the connection string in ``AZURE_STORAGE_CONNECTION_STRING`` is used.
    """
    netloc = unquote(split.netloc)
    options: dict[str, Any] = {}
    if split.scheme.lower() in ("abfs", "abfss"):
        container, at, host = netloc.partition("@")
        if not at or not host:
            raise ConfigurationError(
                f"abfs URLs look like abfs://container@account.dfs.core.windows.net/path, "
                f"got {split.scheme}://{split.netloc}"
            )
        blob_host = host.replace(".dfs.", ".blob.", 1)
        options["account_url"] = f"https://{blob_host}"
    else:
        container = netloc
    if not container:
        raise ConfigurationError(
            f"{split.scheme} URLs name a container: {split.scheme}://container/prefix"
        )
    options["container"] = container
    return options, unquote(split.path).strip("/")
