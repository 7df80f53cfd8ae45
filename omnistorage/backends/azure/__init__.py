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
  uncommitted blocks after a week (or at the next commit to that name). A
  name with only uncommitted blocks is a crash leftover that
  ``Store.cleanup`` deletes (only if nothing was committed since it was
  listed).
- **Create-only** (``overwrite=False``) is atomic: ``Put Blob`` and ``Put Block
  List`` are sent with ``If-None-Match: *`` and the service lets exactly one
  racing writer win (``CONDITIONAL_WRITE``). A racing *overwrite* loses its
  staged blocks when another writer commits the same name first (Azure
  discards every uncommitted block of a blob at each commit); that race is
  reported as :class:`~omnistorage.errors.WriteConflict` (``temporary``:
  nothing of this write was published, the other writer's blob stands, and
  writing again may succeed), which the backend declares as
  ``Features.overwrite_may_conflict`` and the conformance suite checks. A
  create-only write that meets a conflict after a retried request checks
  whether the blob is its own (its block ids, or size and Content-MD5)
  before it reports "already exists".
- **Pinned reads** (``PINNED_READ``): ``open_pinned`` sends ``If-Match`` with
  the ETag on every ranged download, so ``read_seekable`` never mixes
  versions.
- **Reads** are ranged ``Get Blob`` calls streamed in 4 MiB chunks; the SDK pins
  later chunks to the first chunk's ETag, so a blob replaced mid-read fails the
  read instead of mixing versions. An offset at or past the end gives an empty
  stream (the service's 416 is handled).
- **Listing** is lazy and paged (``list_page_size`` per call):
  ``walk_blobs(delimiter="/")`` for folder listings, ``list_blobs`` for
  recursive ones. Data Lake directory entries (``hdi_isfolder``) are never
  reported as files.
- **Folders** on a flat namespace (``MKDIR``) are zero-size ``name/`` marker
  blobs, as on S3 and GCS (see :mod:`omnistorage.driver`): ``make_folder``
  checks that no file stands at the folder or a parent, then writes the
  markers of the folder and each parent
  (create-only, ``If-None-Match: *``, so a marker already there is left alone);
  ``delete_folder`` deletes them (and a BlobFuse-style ``hdi_isfolder``
  directory blob of that name); a folder exists while its marker or any blob
  lies below it. Recursive listings yield each marker as a folder entry,
  shallow ones show it as a sub-folder; a blob named ``x/`` that holds bytes is
  no marker and is listed under its raw name (the Store counts it as a foreign
  key). As on S3, a folder whose last file is deleted is gone unless a marker
  keeps it (``folders_are_markers``). On a hierarchical-namespace account
  directories are real Data Lake entries: ``MKDIR`` is not declared there and
  ``folders_are_markers`` is false (detected with ``MOVE``, below).
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
SAS token travels in each request's query string, which ``urllib3`` at DEBUG
level logs verbatim: the backend registers every key, SAS token and signature
with omnistorage's log scrubber (:mod:`omnistorage._redact`), which masks them
in the records of the ``azure`` and ``urllib3`` loggers.

A missing container is an error (``NotFound``) for every call, ``exists``
included, unless ``create_container=True`` creates it on first use. With a
``service_client`` of your own, its download chunk sizes apply (the SDK's
default first ranged GET is 32 MiB); the backend's own client reads 4 MiB at
a time.

Verified against Azurite 3.35 (Blob API) by ``tests/backends/test_azure.py``:
every path above except the Data Lake move (HNS detection is checked with a
stub) and token-credential copies.

The package, one concept a module: ``_backend`` (:class:`AzureBackend`: options
and operations), ``_url`` (:func:`parse_url`), ``_client`` (the service client
from the credential options, and the secrets to scrub), ``_limits`` (Azure's
limits and the driver's sizes), ``_errors`` (exception types and their
classification, create-only conditions), ``_metadata`` (blob metadata and
properties → :class:`~omnistorage.models.ObjectInfo`), ``_datalake``
(hierarchical-namespace detection and the Data Lake rename), ``_copy``
(server-side copies), ``_writer`` and ``_reader`` (streaming I/O).
"""

from omnistorage.backends.azure._backend import AzureBackend
from omnistorage.backends.azure._buckets import AzureBuckets
from omnistorage.backends.azure._errors import AzureCopyFailed
from omnistorage.backends.azure._url import parse_url

__all__ = ["AzureBackend", "AzureBuckets", "AzureCopyFailed", "parse_url"]
