"""The Azure Blob Storage driver: :class:`AzureBackend` (options and operations).

The behaviour, and how it keeps the Store's contract, is described in
:mod:`omnistorage.backends.azure`; the streaming I/O, copies, Data Lake
support, metadata and error classification live in the sibling modules.
"""

from __future__ import annotations

import contextlib
import errno
import io
import itertools
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, BinaryIO, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobPrefix, BlobServiceClient

from omnistorage._net import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_BUDGET,
    endpoint_authority,
)
from omnistorage.backends._bucket import name_bucket
from omnistorage.backends.azure._client import budget_scope, client_secrets, make_service
from omnistorage.backends.azure._copy import copy_blob
from omnistorage.backends.azure._datalake import datalake_service, dfs_url, has_hns, rename_file
from omnistorage.backends.azure._errors import CONTAINER_MISSING_CODES, classify, error_code
from omnistorage.backends.azure._leftovers import list_uncommitted, remove_uncommitted
from omnistorage.backends.azure._limits import BATCH, MAX_BLOCK_SIZE, MAX_BLOCKS, MAX_PAGE, MiB
from omnistorage.backends.azure._metadata import blob_metadata, info, is_directory, listed
from omnistorage.backends.azure._reader import AzurePinned, DownloadReader
from omnistorage.backends.azure._staged import abort_staged, publish_staged
from omnistorage.backends.azure._writer import BlockBlobWriter
from omnistorage.capabilities import Capability, ETagKind, Features
from omnistorage.driver import ExtendedBackend, PinnedReader, WriteOptions, Writer
from omnistorage.errors import Classification
from omnistorage.models import HashType, Leftover, Location, ObjectInfo
from omnistorage.options import (
    OptionSchema,
    anything,
    arguments,
    excluding,
    flag,
    integer,
    number,
    text,
    url,
)

__all__ = ["AzureBackend"]

T = TypeVar("T")

_log = logging.getLogger("omnistorage.backends.azure")

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
    Capability.PINNED_READ,
    Capability.SET_MOD_TIME,
    Capability.USER_METADATA,
    Capability.CONTENT_TYPE,
    Capability.CONDITIONAL_DELETE,
    Capability.DEFERRED_PUBLISH,
]
_LIMITS: dict[str, object] = {
    "max_part_size": MAX_BLOCK_SIZE,
    "max_parts": MAX_BLOCKS,
    "mtime_precision_ns": 1,  # the ``mtime`` entry is RFC 3339 with nanoseconds
    "etag": ETagKind.OPAQUE,
    "strong_version": True,  # stat's etag is the ETag pinned reads send in If-Match
}
# Flat namespace: folders are zero-size ``name/`` marker blobs (MKDIR). Hierarchical
# namespace: directories are real Data Lake entries; MKDIR is not declared there.
# Both: a racing overwrite whose staged blocks another writer's commit discarded fails
# with WriteConflict (temporary); the conformance suite retries it and sees it land.
_FEATURES = Features.of(
    [*_BASE, Capability.MKDIR], [HashType.MD5], overwrite_may_conflict=True, **_LIMITS
)
_FEATURES_HNS = Features.of(
    [*_BASE, Capability.MOVE], [HashType.MD5], overwrite_may_conflict=True, **_LIMITS
)

_CREDENTIALS = ("account_key", "sas_token", "credential")
OPTIONS = OptionSchema(
    "azure",
    text("container", required=True, forbidden="/", example="omni-container"),
    url("account_url", nullable=True, example="http://127.0.0.1:10000/omniaccount"),
    text(
        "connection_string",
        nullable=True,
        secret=True,
        example="AccountName=omniaccount;AccountKey=omni-cs-key;BlobEndpoint=http://127.0.0.1:1/a;",
    ),
    text("account_name", nullable=True, forbidden="/", example="omniaccount"),
    text("account_key", nullable=True, secret=True, example="omni-azure-account-key"),
    text("sas_token", nullable=True, secret=True, example="sv=2024-01-01&sig=omni-sas-sig"),
    anything("credential", example=object()),
    integer("block_size", ge=1, le=MAX_BLOCK_SIZE, unit="bytes"),
    integer("max_concurrency", ge=1),
    integer("list_page_size", ge=1, le=MAX_PAGE),
    flag("create_container"),
    anything("service_client", example=object()),
    flag("detect_hierarchical_namespace"),
    number("connect_timeout", gt=0, unit="seconds"),
    number("read_timeout", gt=0, unit="seconds"),
    integer("retries", ge=0),
    number("retry_budget", gt=0, unit="seconds"),
    # A credential needs an account to go with (a connection string brings its own).
    requires_any=dict.fromkeys(_CREDENTIALS, ("account_url", "account_name")),
    conflicts=(
        *excluding("service_client", "account_url", "connection_string", "account_name"),
        *excluding("service_client", *_CREDENTIALS),
        *excluding("connection_string", "account_url", "account_name", *_CREDENTIALS),
        ("account_key", "sas_token"),
        ("account_key", "credential"),
        ("sas_token", "credential"),
    ),
)
"""The options of :class:`AzureBackend`, checked without I/O."""


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
        connect_timeout, read_timeout: seconds (defaults 3 and 10, as every
            network backend: the wait for a connection, and how long the service
            may stay silent before or inside an answer).
        retry_budget: seconds within which every attempt of a call must be able to
            end (15): a silent service is not retried past it
            (:mod:`omnistorage._net`).
        retries: attempts after the first for temporary failures (default 2,
            about 1 s then 2 s apart): a service that is down fails within about
            10 s with ``BackendUnavailable`` (temporary).
    """

    name = "azure"
    options_schema = OPTIONS
    may_declare = _FEATURES.capabilities | _FEATURES_HNS.capabilities

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
        list_page_size: int = MAX_PAGE,
        create_container: bool = False,
        service_client: BlobServiceClient | None = None,
        detect_hierarchical_namespace: bool = True,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
    ) -> None:
        self.check_config(arguments(locals()))
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
        self._service, self._owns_service, secrets = make_service(
            account_url=account_url,
            connection_string=connection_string,
            account_name=account_name,
            account_key=account_key,
            sas_token=sas_token,
            credential=credential,
            service_client=service_client,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries=retries,
            retry_budget=retry_budget,
        )
        secrets += client_secrets(self._service)
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
                self._hns = (
                    self._detect_hns
                    and dfs_url(self._service) is not None
                    and has_hns((self._container, self._service))
                )
                self._features = _FEATURES_HNS if self._hns else _FEATURES
                if self._hns:
                    self.folders_are_markers = False  # real directories
            return self._features

    # ------------------------------------------------------------ errors and paths

    def classify_error(self, exc: BaseException) -> Classification:
        return name_bucket(classify(exc), self._container_name, "container")

    def native_path(self, key: str) -> str:
        return f"az://{self._container_name}/{key}"

    def locations(self) -> tuple[Location, ...]:
        # The account's Blob endpoint (Azurite keeps the account in the path).
        account = endpoint_authority(str(self._service.url))
        return (Location("az", account, self._container_name),)

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
        metadata = blob_metadata(options)
        self._ensure_container()
        return BlockBlobWriter(
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
            with budget_scope():  # the SDK may read the first chunk's body three times
                downloader = blob.download_blob(offset=offset, length=length)
        except HttpResponseError as exc:
            if exc.status_code == 416:  # the offset is at or past the end
                return io.BytesIO(b"")
            raise
        return io.BufferedReader(DownloadReader(downloader), buffer_size=256 * 1024)

    def open_pinned(self, key: str) -> PinnedReader:
        """Ranged downloads pinned to the ETag there now (``If-Match`` on every request)."""
        self._ensure_container()
        return AzurePinned(self._container.get_blob_client(key))

    def exists(self, key: str) -> bool:
        self._ensure_container()
        try:
            props = self._container.get_blob_client(key).get_blob_properties()
        except ResourceNotFoundError as exc:
            if error_code(exc) in CONTAINER_MISSING_CODES:
                raise
            return False
        return not is_directory(props.metadata)

    def delete(self, key: str) -> None:
        self._ensure_container()
        try:
            self._container.delete_blob(key, delete_snapshots="include")
        except ResourceNotFoundError as exc:
            if error_code(exc) in CONTAINER_MISSING_CODES:
                raise  # a missing blob is deleted already; a missing container is not fine

    def publish_staged(self, key: str, staged: Mapping[str, Any], *, overwrite: bool) -> str | None:
        self._ensure_container()
        return publish_staged(self._container, key, staged, overwrite=overwrite)

    def abort_staged(self, key: str, staged: Mapping[str, Any]) -> None:
        abort_staged(self._container, key, staged)

    def delete_version(self, key: str, version: str) -> None:
        """Delete with ``If-Match`` on the ETag the write's publish answered with (412,
        ``PRECONDITION_FAILED``, when another writer's blob is there)."""
        self._ensure_container()
        try:
            self._container.delete_blob(
                key,
                delete_snapshots="include",
                etag=version,
                match_condition=MatchConditions.IfNotModified,
            )
        except ResourceNotFoundError as exc:
            if error_code(exc) in CONTAINER_MISSING_CODES:
                raise  # a missing blob is deleted already; a missing container is not fine
            return
        except ResourceModifiedError:
            # If-Match fails on a missing blob too (HTTP semantics): our version is gone
            # either way, and a blob that is there now is another writer's (ETags are
            # never reused), which is the failure to report.
            if self.exists(key):
                raise

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        self._ensure_container()
        start = prefix or None
        if recursive:
            for props in self._container.list_blobs(
                name_starts_with=start, include=["metadata"], results_per_page=self._page_size
            ):
                if _is_marker(props):
                    # A folder marker: recursive listings yield every one (the prefix
                    # folder's own included); shallow ones show it as a BlobPrefix.
                    if len(props.name) > 1:
                        yield ObjectInfo(path=props.name[:-1], is_dir=True)
                    continue
                found = listed(props)
                if found is not None:
                    yield found
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
            if _is_marker(item):
                continue  # the prefix folder's own marker
            found = listed(item)
            if found is not None:
                yield found

    def close(self) -> None:
        if self._owns_service:
            self._service.close()
        if self._dfs is not None:
            self._dfs.close()
        self.closed = True

    # ------------------------------------------------------------ crash leftovers

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        """Blobs below ``prefix`` with uncommitted blocks only (see ``_leftovers``)."""
        self._ensure_container()
        yield from list_uncommitted(self._container, prefix, self._page_size)

    def remove_leftover(self, leftover: Leftover) -> None:
        remove_uncommitted(self._container, leftover.handle)

    # ------------------------------------------------------------ extended

    def stat(self, key: str) -> ObjectInfo:
        self._ensure_container()
        try:
            props = self._container.get_blob_client(key).get_blob_properties()
        except ResourceNotFoundError as exc:
            if error_code(exc) in CONTAINER_MISSING_CODES or not _holds(key, self._below(key)):
                raise
            return ObjectInfo(path=key, is_dir=True)  # a marker or blobs below it
        if is_directory(props.metadata):
            return ObjectInfo(path=key, is_dir=True)
        return info(key, props)

    # ------------------------------------------------------------ folders (markers)

    folders_are_markers = True
    """On a flat namespace; :meth:`features` sets it to False on a hierarchical one."""

    def _below(self, key: str) -> tuple[tuple[str, int], ...]:
        """Name and size of the first two blobs whose names start with ``key/``."""
        blobs = self._container.list_blobs(name_starts_with=f"{key}/", results_per_page=2)
        return tuple((props.name, int(props.size or 0)) for props in itertools.islice(blobs, 2))

    def mkdir(self, key: str) -> None:
        """Write the markers ``key/`` and its parents' (zero bytes); a file in the way fails.

        Flat namespace only (``MKDIR`` is not declared on a hierarchical one).
        Markers are written create-only (``If-None-Match: *``): one that is
        already there (or a blob of that name holding bytes) is left alone.
        """
        if self._hns:
            raise NotImplementedError("azure: folders are real directories on this account")
        self._ensure_container()
        parts = key.split("/")
        folders = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        for folder in folders:
            if self.exists(folder):
                raise FileExistsError(f"a file exists at {folder!r}")
        for folder in folders:
            with contextlib.suppress(ResourceExistsError):
                self._container.upload_blob(f"{folder}/", b"", overwrite=False)

    def rmdir(self, key: str) -> None:
        """Delete the marker ``key/``; anything else below makes it not empty.

        A directory blob at ``key`` (``hdi_isfolder``, as BlobFuse writes on a
        flat namespace) is an empty folder's marker too and is deleted with it.
        """
        if self._hns:
            raise NotImplementedError("azure: folders are real directories on this account")
        self._ensure_container()
        below = self._below(key)
        if any(name != f"{key}/" or size for name, size in below):
            # a blob below, or a ``key/`` holding bytes (no marker: a foreign key)
            raise OSError(errno.ENOTEMPTY, f"folder {key!r} is not empty")
        if below:
            self.delete(f"{key}/")
        blob = self._container.get_blob_client(key)
        try:
            props = blob.get_blob_properties()
        except ResourceNotFoundError:
            return
        if is_directory(props.metadata):
            with contextlib.suppress(ResourceNotFoundError):
                blob.delete_blob()

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        """Server-side copy inside the account; create-only with ``If-None-Match: *``."""
        self._ensure_container()
        copy_blob(self._service, self._container, src, dst, overwrite=overwrite)

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
        rename_file(file_system, self._container_name, src, dst, overwrite=overwrite)

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete in Blob Batch requests of 256; missing blobs are fine."""
        self._ensure_container()
        batch: list[str] = []
        for key in keys:
            batch.append(key)
            if len(batch) == BATCH:
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
        if size_hint is not None and size_hint > size * MAX_BLOCKS:
            size = min(-(-size_hint // MAX_BLOCKS), MAX_BLOCK_SIZE)
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
            missing_container = (
                response.status_code == 404
                and response.headers.get("x-ms-error-code") in CONTAINER_MISSING_CODES
            )
            if response.status_code not in (200, 202, 404) or missing_container:
                self.delete(key)  # retried alone so a failure raises its native error
        for key in keys[len(responses) :]:
            self.delete(key)

    def _datalake(self) -> Any:
        with self._lock:
            if self._dfs is None:
                self._dfs = datalake_service(self._service)
            return self._dfs


def _is_marker(props: Any) -> bool:
    """A folder marker: a zero-size blob whose name ends with ``/``."""
    name = str(props.name or "")
    return name.endswith("/") and not props.size


def _holds(key: str, below: tuple[tuple[str, int], ...]) -> bool:
    """Whether ``below`` (from ``AzureBackend._below``) shows the folder ``key``: its
    marker or a blob below it. A blob ``key/`` that holds bytes is no marker (a foreign
    key); it sorts first, so the second entry still shows what lies below."""
    return any(name != f"{key}/" or not size for name, size in below)
