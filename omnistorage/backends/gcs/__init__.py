"""The Google Cloud Storage backend (``google-cloud-storage``).

URL: ``gs://bucket/prefix`` (also ``gcs://``); the bucket becomes the
``bucket`` option and the prefix the store's root folder. Query parameters are
options: ``gs://b/p?endpoint_url=http://127.0.0.1:9023&chunk_size=262144``.

What it does:

- **Atomic streaming writes.** A write buffers at most one chunk
  (``chunk_size``, 8 MiB by default). An object that fits in one chunk goes up
  in one simple (multipart) request on ``close()``. A larger one opens a
  *resumable upload session* when the first chunk is full, sends every full
  chunk, and sends the last one on ``close()``: GCS creates the object only when
  that final chunk arrives, so nothing is visible before ``close()``. Memory
  stays at about two chunks whatever the object size. ``abort()`` (and a failed
  ``close()``) never sends the final chunk and cancels the session (``DELETE``
  on the session URI; if that fails the unfinished session simply expires after
  a week, and it never becomes an object). A failed chunk is retried twice
  after asking the session how many bytes it persisted. The final request
  carries the CRC32C of the whole object (``X-Goog-Hash``), so GCS refuses a
  corrupted upload instead of publishing it; simple uploads carry it in their
  metadata. Session URIs (which let anyone holding them upload) are kept out of
  error messages and logs.
- **Create-only is atomic** (``CONDITIONAL_WRITE``): create-only writes and
  copies send ``ifGenerationMatch=0``, which GCS checks when the object is
  created (for a resumable upload, when the final chunk arrives). Of racing
  writers exactly one wins; the others get HTTP 412, classified
  ``ALREADY_EXISTS``. The backend uses preconditions for nothing else, so every
  412 means "already exists". The gcp-storage-emulator ignores
  ``ifGenerationMatch`` (the test file's gap table names the tests this fails).
  A lost reply is not a lost write: when the request that creates the object
  (a simple upload, or the final chunk of a resumable upload) was sent again
  after its reply was lost, the retry meets the object the first attempt
  created and GCS answers 412. The writer then reads the object there and
  reports success when its size, CRC32C, user metadata (the ``mtime`` key
  included) and, for a simple upload, MD5 are those of what it sent. A 412 on
  the first attempt, or an object that differs, stays ``ALREADY_EXISTS``.
  Another writer that stored the very same bytes and metadata cannot be told
  apart from our own first attempt. Create-only copies (``rewrite`` with
  ``ifGenerationMatch=0``) have no such check: a retried rewrite whose reply
  was lost can still report ``ALREADY_EXISTS`` for the copy it made.
- **Reads** stream one ``GET`` (``alt=media``) with a ``Range`` header for
  offsets and lengths; an offset at or past the end gives an empty stream. A
  whole-object read checks the CRC32C the service sends (``X-Goog-Hash``) and
  raises ``DataCorruption`` on a mismatch. Bytes are returned as stored (no
  decompressive transcoding).
- **Pinned reads** (``PINNED_READ``, the Store's ``read_seekable``): the
  reader learns the object's generation once and every ranged ``GET`` asks
  for that generation; once it is overwritten or deleted GCS answers 404 and
  the read raises ``ChangedDuringRead``, never bytes of two versions
  (``_pinned``; the emulator ignores the parameter, see the tests' gap table).
- **Metadata**: ``stat`` and listings give size, modification time, the
  generation as ``etag`` (a strong version: every write makes a new one, and
  it is the token pinned reads ask for), content type, user metadata, and the
  ``md5`` and ``crc32c`` hashes in
  lowercase hex (composite objects have no MD5). A modification time set on
  write is stored as the custom metadata key ``mtime`` (RFC 3339, the
  convention rclone uses) and reported as ``modified`` by ``stat`` and by
  listings alike; without it ``modified`` is the object's ``updated`` time.
  The ``mtime`` key is therefore reserved: it is not returned as user metadata
  when it holds a valid time.
- **Listing** uses ``objects.list`` with ``page_size`` results per page, lazily;
  shallow listings use the ``/`` delimiter and report sub-folders from the
  returned prefixes.
- **Folders** (``MKDIR``) are zero-size ``name/`` marker objects, as the
  Cloud Console writes them (see :mod:`omnistorage.driver`):
  ``make_folder`` checks that no file stands at the folder or a parent, then
  writes the markers of the folder and each parent (create-only, so a marker
  already there is left alone); ``delete_folder`` deletes them; a folder exists
  while its marker or any object lies below it. Recursive listings yield each
  marker as a folder entry, shallow ones show it as a sub-folder; an object
  named ``x/`` that holds bytes is no marker and is listed under its raw name
  (the Store counts it as a foreign key). As on S3, a folder whose last file is
  deleted is gone unless a marker keeps it (``folders_are_markers``).
- **Copy** is server-side (``rewrite``, looping over rewrite tokens, so large and
  cross-location copies work) and keeps content type and metadata, hence also
  the recorded ``mtime``. **Move is not declared**: GCS's atomic ``objects.move``
  cannot be verified on the emulator (which lacks it) and rewrite + delete is
  not atomic, so the Store falls back to copy + delete.
- ``delete_many`` deletes in parallel (8 requests in flight).

Verified only against the real service (the tests run on gcp-storage-emulator,
which lacks these): the atomic create-only check (412 on ``ifGenerationMatch=0``)
for simple uploads, resumable uploads and rewrites; cancelling a session
(``DELETE`` answered 499; the emulator answers 501, so its unfinished sessions
stay until it restarts); server-side checksum refusal (``X-Goog-Hash``);
paged listings (the emulator returns everything in one page); 416 for a range
past the end (the emulator answers an empty 206); multi-call rewrites;
credentials other than anonymous. The resumable protocol's retry and
partial-persistence paths are tested against scripted responses, and the
ownership check after a retried create-only upload through a proxy that
drops the reply and scripts the 412 the emulator cannot give.

Connection: with ``endpoint_url`` (an emulator, a private endpoint) the client
uses anonymous credentials unless ``credentials`` or ``credentials_file`` is
given, as ``STORAGE_EMULATOR_HOST`` does (which the client library also honours
when ``endpoint_url`` is not given). Otherwise it uses ``credentials``, the
service-account key file, or the application-default credentials. ``client=``
passes a ready ``google.cloud.storage.Client``; the backend then does not close
it.
``store.unwrap(google.cloud.storage.Client)`` returns the client.

The package, one concept a module: ``_backend`` (:class:`GCSBackend`: options
and operations), ``_url`` (:func:`parse_url`), ``_client`` (building the
``google.cloud.storage.Client``), ``_errors`` (exception types and their
classification), ``_metadata`` (object info, the ``mtime`` key, hash
encodings), ``_writer`` (simple and resumable uploads) and ``_reader`` (the
checked download stream).
"""

from omnistorage.backends.gcs._backend import GCSBackend
from omnistorage.backends.gcs._buckets import GCSBuckets
from omnistorage.backends.gcs._errors import ResumableUploadError
from omnistorage.backends.gcs._url import parse_url
from omnistorage.backends.gcs._writer import CHUNK_GRANULARITY as CHUNK_GRANULARITY

__all__ = ["GCSBackend", "GCSBuckets", "ResumableUploadError", "parse_url"]
