"""The read-only HTTP backend: files below a base URL on a web server (urllib3).

URL: ``https://host[:port]/folder/`` (also ``http://``). Scheme, host and port
become the ``base_url`` option and the path the store's root folder, so
``omnistorage.open("https://host/data/file.csv")`` works; ``user:password@``
becomes basic auth. Query parameters are options:
``https://host/files/?listing=nginx-json&retries=4``. Constructed directly,
``HTTPBackend(base_url="https://host/files/")`` puts the path in the base.

What it does:

- **Read-only.** It declares ``READ``, ``METADATA``, ``RANGE_READ``,
  ``PINNED_READ`` and, with a listing, ``LIST``; nothing that changes data, so
  the Store refuses writes, deletes, copies, moves and ``make_folder`` with
  ``CapabilityNotSupported`` before any request.
- **Keys are percent-encoded** segment by segment: only letters, digits,
  ``-._~`` and the ``/`` between segments travel as they are. ``%2e%2e`` is a
  literal file name (sent as ``%252e%252e``), ``?``, ``#``, ``+`` and spaces
  are part of names, and no key can reach another path, query or host.
- **Reads** stream one ``GET``, with a ``Range`` header for an offset or a
  length (206); an offset at or past the end gives no bytes (416, or an empty
  object). A server that ignores ``Range`` (200) is served by skipping. A
  body cut by a temporary failure (a reset, a server that stalls after its
  headers until ``read_timeout``) resumes where it stopped, conditional on
  the version first served (``If-Match`` on a strong ETag, else
  ``If-Unmodified-Since``): a changed object raises ``ChangedDuringRead``.
- **Every answer is verified** (the server is outside input): a 206 must
  carry exactly the range asked for and, in pinned and resumed reads, name
  the version opened by its ETag (else its ``Last-Modified``) and its size;
  an answer without the validator cannot prove it is that version and
  counts as a change. Short data is an error: a body that ends before the
  bytes its ``Content-Length``, ``Content-Range`` or (close-delimited) the
  ``HEAD`` of the same version promised is a temporary failure, resumed or
  retried, never returned.
- **Pinned reads** (``read_seekable``): a ``HEAD`` learns size and version
  (the strong ETag, else ``Last-Modified``); every range is asked with
  ``If-Range`` on it, so once the object changes the server answers the whole
  object (200) instead of 206 and the read raises ``ChangedDuringRead``; so do
  a 404/410 (deleted), 412, 416 (shorter), and an answer that names another
  version or size (a server that ignores ``If-Range``). Where the server
  offers no byte ranges (no ``Accept-Ranges: bytes``) or no validator, the
  object is read once into a spooled temporary file. nginx's ETag is the
  file's modification time (seconds) and size: a rewrite within the same
  second to the same size is not seen as a change.
- **Metadata** by ``HEAD``: size (``Content-Length``), ``Last-Modified``,
  ``ETag`` and ``Content-Type`` (a server that refuses ``HEAD`` with 405/501 is
  asked a one-byte ranged ``GET`` instead). A key that is a folder (nginx
  redirects ``folder`` to ``folder/``) is not a file.
- **Listing** only where the server offers a machine-readable index:
  ``listing="nginx-json"`` reads nginx's ``autoindex on; autoindex_format
  json;`` index, streamed (one entry in memory at a time), one request per
  folder, folder-aware by construction. The index is outside input
  (``_listing``): parsed in linear time with a limit per entry, entered only
  where a key can lie below a folder, and a symbolic-link loop ends the walk;
  what is refused counts on the listing's ``invalid_count``. nginx leaves names starting with a
  dot out of its index (such files are readable, never listed), and serves an
  ``index`` file (``index.html``) instead of the index where one exists: give
  the listing location an ``index`` name that never exists. With
  ``listing="none"`` (the default) there is no ``LIST`` capability: listings
  and globs raise ``CapabilityNotSupported`` before any I/O, and so do
  ``is_folder``, ``exists`` of something that is not a file, and ``ping``
  (a folder cannot be told from nothing without an index).
- **Errors**: every HTTP status has a meaning (the table in ``_errors``):
  404/410 ``NotFound``, 401/403/407 ``PermissionDenied``, 405/501
  ``CapabilityNotSupported``, 408/425/429/5xx temporary ``BackendUnavailable``
  (carrying the server's ``Retry-After``), 412/416 ``PreconditionFailed``
  outside reads. Redirects are not followed (a redirect to ``key/`` means a
  folder: ``NotFound``).
- **Retries**: refused or timed-out connections, replies lost before their
  headers and temporary statuses are retried ``retries`` times (default 2)
  with backoff, honouring ``Retry-After`` up to 2 s, and none starts past the
  ``retry_budget`` (15 s); ``connect_timeout`` 3 s and ``read_timeout`` 10 s
  by default, so a server that is down fails within about 10 s, and one that
  accepts connections and stays silent after one ``read_timeout``, with
  ``BackendUnavailable`` (temporary).
- **Credentials** (basic auth, bearer token) travel only in the
  ``Authorization`` header: never in URLs, reprs or messages, and they are
  registered with the log scrubber (urllib3's DEBUG log included). TLS is
  verified against the system's CAs, or ``ca_file``; ``verify=False`` turns
  the check off. Proxies from the environment are not used.

``store.unwrap(urllib3.PoolManager)`` returns the connection pool.

The package, one concept a module: ``_backend`` (:class:`HTTPBackend`),
``_url`` (the base URL, key encoding, :func:`parse_url`), ``_client`` (the
urllib3 pool, timeouts, retry budget, auth header), ``_verify`` (what every
answer is checked against), ``_reader`` (streaming reads), ``_pinned``
(pinned reads), ``_listing`` (nginx's JSON index) and ``_errors`` (exception
types and the status table).
"""

from omnistorage.backends.http._backend import HTTPBackend
from omnistorage.backends.http._url import parse_url

__all__ = ["HTTPBackend", "parse_url"]
