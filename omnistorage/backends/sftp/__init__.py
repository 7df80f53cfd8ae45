"""The SFTP backend (paramiko): files under one folder of an SSH server.

URL: ``sftp://user@host[:port]/abs/folder?key_filename=…&known_hosts=…`` opens
a store over the remote folder ``/abs/folder`` (no path: ``/``). A password in
the URL (``sftp://user:pw@host/…``) works but is discouraged; it never appears
in ``repr`` or error messages.

How the contract is kept:

- **Host keys are verified by default.** The server's key must be in
  ``known_hosts`` (default ``~/.ssh/known_hosts`` plus
  ``/etc/ssh/ssh_known_hosts``). An unknown host raises an error that names
  the host and the files consulted, classified ``PERMISSION_DENIED`` (a trust
  decision: retrying cannot help, and a retry layer must not hammer it); a
  *changed* key likewise. ``host_key_policy="auto_add"`` (or ``"warn"``,
  which also logs) trusts an unknown host on first use and pins its key for
  the life of the backend; it never writes the known_hosts file.
- **Atomic writes**: data goes to a hidden temporary file beside the target
  (``.<name>.<token>.omnistorage-tmp``, never listed), streamed with
  pipelined ``SSH_FXP_WRITE`` requests (a bounded number in flight, every
  reply checked), then published. Overwrite publishes with
  ``posix-rename@openssh.com`` (``rename(2)``: atomic replace). Create-only
  publishes with the plain SFTPv3 ``SSH_FXP_RENAME``, which must fail when the
  target exists; OpenSSH implements it for regular files as ``link(2)`` +
  ``unlink(2)``, so of racing writers exactly one wins and a loser never
  overwrites (verified with 16 racing writers against OpenSSH 9.2). On a
  filesystem without hard links OpenSSH falls back to stat + rename, which is
  racy; other servers must implement the SFTPv3 rule themselves. (An
  exclusive-create placeholder at the key is not used: readers would see an
  empty file before the data.) An abort, an exception or a failed publish
  removes the temporary file; if the connection is gone the removal is
  retried when the backend reconnects, and removing a folder also removes
  leftover temporary files in it. A process killed mid-write leaves only a
  hidden temporary file.
- **Folders are real** (``MKDIR``): parents are created as needed, empty
  folders exist, ``rmdir`` of a non-empty folder is ``DIRECTORY_NOT_EMPTY``
  (SFTPv3 reports only a generic failure, so the folder is listed to tell).
- **Reads** stream with a bounded read-ahead of pipelined ``SSH_FXP_READ``
  requests, only inside the requested range; an offset at or past the end
  gives an empty stream. A reader keeps its handle open, so it sees one
  version of the file even when a writer replaces it meanwhile.
- **Pinned reads** (``PINNED_READ``, the Store's ``read_seekable``):
  ``open_pinned`` keeps one open handle, one version (``_pinned``); after a
  dropped connection it reopens the file and resumes only if size and
  modification time are the pinned ones, else raises ``ObjectChanged``
  (``ChangedDuringRead``).
  Modification times have seconds precision (SFTPv3) and can be set on
  write (``SET_MOD_TIME``). No hashes (OpenSSH has no
  ``check-file``), no user metadata or content types, no server-side copy
  (the Store streams); moves are server-side renames, create-only moves as
  atomic as create-only writes.
- **Symlinks**: a symlink to a regular file is that file (listed with the
  target's size and mtime, read through); a symlink to a folder (or to
  nothing) is invisible to listings and ``stat``. Permissions are the
  server's business.
- **Failing fast**: ``connect_timeout`` (TCP connect, SSH banner, key
  exchange), ``read_timeout`` (every reply once connected) and ``retries``
  (extra connection attempts after a network failure, never after refused
  credentials; none past ``retry_budget``), with the defaults of
  :mod:`omnistorage._net`: a closed port fails in well under a second, a host
  that never answers in about 6 s, a server that stalls after ``read_timeout``
  (10 s); all as temporary
  ``UNAVAILABLE``. ``timeout`` is only the wait for a free session.
- **Threads and connections**: one SSH connection carries up to
  ``max_connections`` SFTP sessions (channels), each used by one operation at
  a time (paramiko's ``SFTPClient`` is not safe for concurrent use). An
  operation waits up to ``timeout`` for a free session; a thread that already
  holds one (an open reader, a writer) gets another without waiting, so
  nested use — the Store's streaming copy — cannot deadlock. Open readers
  and writers hold their session until closed. A dropped
  connection fails the calls in flight with a temporary ``UNAVAILABLE``
  error; the next call reconnects (idempotent calls on a stale pooled session
  are retried once).
- Errors: paramiko's status errors arrive as ``FileNotFoundError``,
  ``PermissionError`` or a bare ``OSError("Failure")``; the driver resolves
  the generic failures it can (exists, not empty, folder in the way) and
  classifies connection problems (``SSHException``, ``EOFError``, socket
  errors, timeouts) as temporary ``UNAVAILABLE`` and authentication and host
  key failures as ``PERMISSION_DENIED``.

Verified against OpenSSH 9.2's ``internal-sftp``; other servers are expected
to work where they implement ``posix-rename@openssh.com`` and the SFTPv3
rename rule. Pipelining uses three long-stable private methods of paramiko's
``SFTPClient`` (``_async_request``, ``_read_response``, ``_convert_status``),
all in one small module (``_protocol``).

The package, one concept a module: ``_backend`` (:class:`SFTPBackend`: options
and operations), ``_url`` (:func:`parse_url`), ``_errors`` (exception types
and their classification), ``_hostkeys`` (host-key policy), ``_connect``
(opening an authenticated SSH connection), ``_session`` (the session pool,
reconnection), ``_protocol`` (pipelined raw requests), ``_ops`` (filesystem
operations on one session), ``_writer`` and ``_reader`` (streaming I/O),
``_pinned`` (pinned random access).
"""

from omnistorage.backends.sftp._backend import SFTPBackend
from omnistorage.backends.sftp._errors import (
    SFTPAuthenticationError,
    SFTPConnectionError,
    UnknownHostKeyError,
)
from omnistorage.backends.sftp._hostkeys import HostKeyPolicy
from omnistorage.backends.sftp._url import parse_url

__all__ = [
    "HostKeyPolicy",
    "SFTPAuthenticationError",
    "SFTPBackend",
    "SFTPConnectionError",
    "UnknownHostKeyError",
    "parse_url",
]
