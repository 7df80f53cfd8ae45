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
  Modification times have seconds precision (SFTPv3) and can be set on
  write (``SET_MOD_TIME``). No hashes (OpenSSH has no
  ``check-file``), no user metadata or content types, no server-side copy
  (the Store streams); moves are server-side renames, create-only moves as
  atomic as create-only writes.
- **Symlinks**: a symlink to a regular file is that file (listed with the
  target's size and mtime, read through); a symlink to a folder (or to
  nothing) is invisible to listings and ``stat``. Permissions are the
  server's business.
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
all in one small class.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import io
import itertools
import logging
import math
import os
import posixpath
import stat as st
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, BinaryIO, Literal, Protocol, TypeVar, cast
from urllib.parse import SplitResult, unquote

import paramiko
from paramiko.message import Message
from paramiko.sftp import (
    CMD_ATTRS,
    CMD_CLOSE,
    CMD_DATA,
    CMD_EXTENDED,
    CMD_FSETSTAT,
    CMD_FSTAT,
    CMD_HANDLE,
    CMD_NAME,
    CMD_OPEN,
    CMD_OPENDIR,
    CMD_READ,
    CMD_READDIR,
    CMD_REMOVE,
    CMD_STATUS,
    CMD_WRITE,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_EXCL,
    SFTP_FLAG_READ,
    SFTP_FLAG_TRUNC,
    SFTP_FLAG_WRITE,
    SFTPError,
    int64,
)
from paramiko.sftp_attr import SFTPAttributes

from omnistorage.capabilities import Capability, Features
from omnistorage.driver import ExtendedBackend, WriteOptions, Writer
from omnistorage.errors import (
    Classification,
    ConfigurationError,
    ErrorKind,
    classify_builtin,
)
from omnistorage.models import ObjectInfo

__all__ = [
    "HostKeyPolicy",
    "SFTPAuthenticationError",
    "SFTPBackend",
    "SFTPConnectionError",
    "UnknownHostKeyError",
    "parse_url",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
HostKeyPolicy = Literal["reject", "auto_add", "warn"]

_TMP_SUFFIX = ".omnistorage-tmp"
_CHUNK = 32768  # the write size every SFTP server accepts
_READ_CHUNK = 261120  # OpenSSH's largest read; servers that cap lower give short reads
_READ_AHEAD = 8  # read requests in flight per reader (about 2 MiB)
_WINDOW_SIZE = 16 << 20  # SSH channel window and packet size of each SFTP session
_MAX_PACKET_SIZE = 64 << 10
_WRITE_WINDOW = 32  # write requests in flight per writer (1 MiB)
_DELETE_WINDOW = 64  # remove requests in flight in delete_many
_counter = itertools.count()
_token = os.urandom(4).hex()

_FEATURES = Features.of(
    [
        Capability.READ,
        Capability.WRITE,
        Capability.DELETE,
        Capability.LIST,
        Capability.METADATA,
        Capability.MOVE,
        Capability.ATOMIC_WRITE,
        Capability.CONDITIONAL_WRITE,
        Capability.RANGE_READ,
        Capability.MKDIR,
        Capability.SET_MOD_TIME,
    ]
)

_POLICIES = ("reject", "auto_add", "warn")


# ---------------------------------------------------------------- native errors


class SFTPConnectionError(ConnectionError):
    """The SSH connection could not be made or was lost (temporary)."""


class SFTPAuthenticationError(paramiko.AuthenticationException):
    """The server refused the credentials (names the user and host, never a secret)."""


class UnknownHostKeyError(paramiko.SSHException):
    """The server's host key is not in known_hosts and the policy is ``"reject"``."""


# ---------------------------------------------------------------- raw protocol


class _RawClient(Protocol):
    """The parts of paramiko's ``SFTPClient`` used to pipeline requests.

    These are private but have been stable for many releases; every use is
    in :class:`_Pipe`.
    """

    _expecting: MutableMapping[int, object]

    def _async_request(self, fileobj: object, t: int, *args: object) -> int: ...

    def _read_response(self, waitfor: int | None = None) -> tuple[Any, Any]: ...

    def _convert_status(self, msg: Message) -> None: ...


class _Replies:
    """Receives the replies to the requests a :class:`_Pipe` sent (paramiko calls
    ``_async_response`` for each), so they can be collected in any order."""

    def __init__(self) -> None:
        self.got: dict[int, tuple[int, Message]] = {}

    def _async_response(self, t: int, msg: Message, num: int) -> None:
        self.got[num] = (t, msg)


class _Pipe:
    """Raw SFTP requests on one exclusively held session: send now, collect later.

    Every reply is checked; status errors become paramiko's usual exceptions
    (``FileNotFoundError``, ``PermissionError``, ``OSError``, ``EOFError``).
    """

    def __init__(self, sftp: paramiko.SFTPClient) -> None:
        self._raw = cast(_RawClient, sftp)
        self._replies = _Replies()

    def send(self, t: int, *args: object) -> int:
        return self._raw._async_request(self._replies, t, *args)

    def wait(self, num: int) -> tuple[int, Message]:
        got = self._replies.got
        while num not in got:
            self._raw._read_response()
        return got.pop(num)

    def check(self, t: int, msg: Message) -> None:
        """Raise for an error status (paramiko's exceptions); an OK status passes."""
        if t != CMD_STATUS:
            raise SFTPError(f"unexpected SFTP reply type {t}")
        self._raw._convert_status(msg)

    def status(self, num: int) -> None:
        self.check(*self.wait(num))

    def discard(self, num: int) -> None:
        """Collect a reply whose outcome no longer matters."""
        self.wait(num)

    def reply(self, num: int, expected: int) -> Message:
        t, msg = self.wait(num)
        if t == CMD_STATUS:
            self._raw._convert_status(msg)
        if t != expected:
            raise SFTPError(f"unexpected SFTP reply type {t}, expected {expected}")
        return msg

    def open(self, path: str, flags: int) -> bytes:
        num = self.send(CMD_OPEN, path, flags, SFTPAttributes())
        return self.reply(num, CMD_HANDLE).get_binary()

    def fstat(self, handle: bytes) -> SFTPAttributes:
        msg = self.reply(self.send(CMD_FSTAT, handle), CMD_ATTRS)
        return _attrs_from(msg)

    def close_handle(self, handle: bytes) -> None:
        self.status(self.send(CMD_CLOSE, handle))

    def listdir(self, path: str) -> list[tuple[str, SFTPAttributes]]:
        """One folder's entries (name, lstat attributes), without ``.`` and ``..``."""
        handle = self.reply(self.send(CMD_OPENDIR, path), CMD_HANDLE).get_binary()
        entries: list[tuple[str, SFTPAttributes]] = []
        try:
            while True:
                try:
                    msg = self.reply(self.send(CMD_READDIR, handle), CMD_NAME)
                except EOFError:
                    break
                for _ in range(msg.get_int()):
                    raw_name = msg.get_string()
                    msg.get_string()  # longname
                    attrs = _attrs_from(msg)
                    try:
                        name = raw_name.decode("utf-8")
                    except UnicodeDecodeError:
                        log.debug("skipping a non-UTF-8 name in %s: %r", path, raw_name)
                        continue
                    if name not in (".", ".."):
                        entries.append((name, attrs))
        finally:
            self.close_handle(handle)
        return entries


def _attrs_from(msg: Message) -> SFTPAttributes:
    return cast(SFTPAttributes, cast(Any, SFTPAttributes)._from_msg(msg))


# ---------------------------------------------------------------- sessions


class _Session:
    """One SFTP channel, checked out by one operation at a time."""

    __slots__ = ("owner", "reused", "sftp", "ssh")

    def __init__(self, sftp: paramiko.SFTPClient, ssh: paramiko.SSHClient) -> None:
        self.sftp = sftp
        self.ssh = ssh
        self.owner = 0
        self.reused = False

    def alive(self) -> bool:
        channel = self.sftp.get_channel()
        if channel is None or channel.closed:
            return False
        transport = channel.get_transport()
        return transport is not None and transport.is_active()

    def idle(self) -> bool:
        """No request of this session is waiting for its reply."""
        return not cast(_RawClient, self.sftp)._expecting

    def close(self) -> None:
        """Close the channel; on a dead connection that may fail, which is fine."""
        try:
            self.sftp.close()
        except (OSError, paramiko.SSHException, EOFError) as exc:
            log.debug("closing a broken SFTP session: %r", exc)


def _open_sftp(ssh: paramiko.SSHClient) -> paramiko.SFTPClient:
    transport = ssh.get_transport()
    sftp = None
    if transport is not None:
        sftp = paramiko.SFTPClient.from_transport(
            transport, window_size=_WINDOW_SIZE, max_packet_size=_MAX_PACKET_SIZE
        )
    if sftp is None:
        raise paramiko.SSHException("the SSH connection is not active")
    return sftp


def _is_failure(exc: BaseException) -> bool:
    """A bare SFTP status error (``SSH_FX_FAILURE``: exists, not empty, is a folder …)."""
    return type(exc) is OSError and exc.errno is None


def _is_connection_problem(exc: BaseException) -> bool:
    return isinstance(exc, (paramiko.SSHException, EOFError, ConnectionError, TimeoutError))


class _HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """What to do with a host that is not in known_hosts (see ``host_key_policy``)."""

    def __init__(self, backend: SFTPBackend) -> None:
        self._backend = backend

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        backend = self._backend
        described = f"{key.get_name()} key SHA256:{_fingerprint(key)}"
        if backend._host_key_policy == "reject":
            files = ", ".join(
                f"{path}{'' if os.path.exists(path) else ' (missing)'}"
                for path in backend._known_hosts_files
            )
            raise UnknownHostKeyError(
                f"unknown SFTP host {hostname}: its {described} is not in known_hosts "
                f"({files}); add it (ssh-keyscan -p {backend._port} {backend._host}) "
                "or pass host_key_policy='auto_add' to trust it on first use"
            )
        if backend._host_key_policy == "warn":
            log.warning("trusting unknown SFTP host %s with %s", hostname, described)
        backend._pinned[hostname] = key
        client.get_host_keys().add(hostname, key.get_name(), key)


def _fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return base64.b64encode(digest).decode("ascii").rstrip("=")


# ---------------------------------------------------------------- the backend


class SFTPBackend(ExtendedBackend):
    """Files in the folder ``root`` of an SSH server, over SFTP.

    Args:
        host: the server's name or address.
        port: the SSH port.
        username: the login (default: the local user name, as ``ssh`` does).
        password: a password (prefer keys); kept out of ``repr`` and messages.
        key_filename: a private key file. When no password, key file or
            ``pkey`` is given, the SSH agent and the default keys in ``~/.ssh``
            are tried, as ``ssh`` does; when one is given, only it is used.
        pkey: a loaded ``paramiko.PKey``.
        passphrase: the passphrase of an encrypted key file.
        known_hosts: the known_hosts file to verify the server's key against
            (default ``~/.ssh/known_hosts`` and ``/etc/ssh/ssh_known_hosts``).
        host_key_policy: ``"reject"`` (default): an unknown host is an error;
            ``"auto_add"``: trust it on first use and pin its key while this
            backend lives; ``"warn"``: the same, logging a warning. A host
            whose key *changed* is always refused. known_hosts is never written.
        root: the absolute remote folder the backend's keys live under.
        create_root: create ``root`` (and its parents) on first connection;
            otherwise a missing root is an error.
        timeout: seconds for connecting, for each network wait, and for
            waiting for a free session.
        max_connections: SFTP sessions (channels on one SSH connection) kept
            open for concurrent operations.
        durable: ask the server to fsync each file before publishing it
            (``fsync@openssh.com``; an error where the server lacks it).
    """

    name = "sftp"

    def __init__(
        self,
        *,
        host: str,
        port: int = 22,
        username: str | None = None,
        password: str | None = None,
        key_filename: str | None = None,
        pkey: paramiko.PKey | None = None,
        passphrase: str | None = None,
        known_hosts: str | None = None,
        host_key_policy: HostKeyPolicy = "reject",
        root: str = "/",
        create_root: bool = True,
        timeout: float = 30.0,
        max_connections: int = 4,
        durable: bool = False,
    ) -> None:
        if not host:
            raise ConfigurationError("the sftp backend needs a host")
        if not 0 < port < 65536:
            raise ConfigurationError(f"sftp port must be 1-65535, got {port}")
        if host_key_policy not in _POLICIES:
            raise ConfigurationError(
                f"host_key_policy must be one of {', '.join(_POLICIES)}, got {host_key_policy!r}"
            )
        if max_connections < 1:
            raise ConfigurationError(f"max_connections must be >= 1, got {max_connections}")
        if timeout <= 0:
            raise ConfigurationError(f"timeout must be > 0, got {timeout}")
        if not isinstance(root, str) or not root.startswith("/") or "\x00" in root:
            raise ConfigurationError(f"the sftp root must be an absolute path, got {root!r}")
        if key_filename is not None:
            key_filename = os.path.expanduser(key_filename)
            if not os.path.isfile(key_filename):
                raise ConfigurationError(f"sftp key file {key_filename!r} does not exist")
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._key_filename = key_filename
        self._pkey = pkey
        self._passphrase = passphrase
        if known_hosts is not None:
            self._known_hosts_files: tuple[str, ...] = (os.path.expanduser(known_hosts),)
        else:
            self._known_hosts_files = (
                os.path.expanduser("~/.ssh/known_hosts"),
                "/etc/ssh/ssh_known_hosts",
            )
        self._host_key_policy: HostKeyPolicy = host_key_policy
        self._pinned: dict[str, paramiko.PKey] = {}
        normalized = posixpath.normpath(root)
        if normalized.startswith("//"):
            normalized = "/" + normalized.lstrip("/")
        self._root = normalized
        self._root_slash = normalized.rstrip("/") + "/"
        self._create_root = create_root
        self._timeout = float(timeout)
        self._max = max_connections
        self._durable = durable
        self.secret_values = tuple(s for s in (password, passphrase) if s)

        user = f"{username}@" if username else ""
        netloc = f"[{host}]" if ":" in host else host
        port_part = "" if port == 22 else f":{port}"
        self._native_base = f"sftp://{user}{netloc}{port_part}"

        self._cond = threading.Condition()
        self._connect_lock = threading.Lock()
        self._ssh: paramiko.SSHClient | None = None
        self._idle: list[_Session] = []
        self._busy = 0
        self._held: dict[int, int] = {}
        self._root_ready = False
        self._orphans: set[str] = set()

    def __repr__(self) -> str:
        return f"SFTPBackend({self._native_base + self._root!r})"

    @property
    def root(self) -> str:
        """The absolute remote folder the keys live under."""
        return self._root

    def features(self) -> Features:
        return _FEATURES

    def classify_error(self, exc: BaseException) -> Classification:
        if isinstance(exc, (UnknownHostKeyError, paramiko.BadHostKeyException)):
            return Classification(ErrorKind.PERMISSION_DENIED)
        if isinstance(exc, paramiko.AuthenticationException):
            return Classification(ErrorKind.PERMISSION_DENIED)
        if isinstance(exc, (paramiko.SSHException, EOFError)):
            return Classification(ErrorKind.UNAVAILABLE, temporary=True)
        if isinstance(exc, IsADirectoryError):
            return Classification(ErrorKind.NOT_FOUND)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            return Classification(ErrorKind.UNKNOWN)
        return classify_builtin(exc)

    def native_path(self, key: str) -> str:
        return self._native_base + self._path(key)

    def key_from_native(self, native: str) -> str | None:
        path: str | None = None
        for base in (self._native_base, self._native_base_with_port()):
            if native.startswith(base + "/"):
                path = native[len(base) :]
                break
        if path is None:
            if not native.startswith("/"):
                return None
            path = native
        if path == self._root or path + "/" == self._root_slash:
            return ""
        if not path.startswith(self._root_slash):
            return None
        return path[len(self._root_slash) :]

    def _native_base_with_port(self) -> str:
        if self._native_base.endswith(f":{self._port}"):
            return self._native_base
        return f"{self._native_base}:{self._port}"

    def as_native(self, kind: type[T]) -> T | None:
        """``paramiko.SSHClient`` or ``paramiko.Transport``: the shared connection
        (connecting if needed). ``paramiko.SFTPClient``: a *new* SFTP session that
        the caller owns and must close."""
        if kind is paramiko.SSHClient:
            return cast(T, self._connected())
        if kind is paramiko.Transport:
            return cast(T, self._connected().get_transport())
        if kind is paramiko.SFTPClient:
            return cast(T, _open_sftp(self._connected()))
        return None

    def _path(self, key: str) -> str:
        return self._root_slash + key if key else self._root

    # ------------------------------------------------------------ connections

    def _connected(self) -> paramiko.SSHClient:
        """The live SSH connection, (re)connecting when there is none."""
        with self._connect_lock:
            ssh = self._ssh
            if ssh is not None:
                transport = ssh.get_transport()
                if transport is not None and transport.is_active():
                    return ssh
                self._ssh = None
                ssh.close()
            if self.closed:
                raise SFTPConnectionError("the sftp backend is closed")
            ssh = self._connect()
            self._ssh = ssh
            return ssh

    def _drop(self, ssh: paramiko.SSHClient) -> None:
        """Forget a connection that failed, so the next session reconnects."""
        with self._connect_lock:
            if self._ssh is ssh:
                self._ssh = None
        ssh.close()

    def _connect(self) -> paramiko.SSHClient:
        ssh = paramiko.SSHClient()
        for path in self._known_hosts_files:
            if os.path.exists(path):
                ssh.load_system_host_keys(path)
        for hostname, key in self._pinned.items():
            ssh.get_host_keys().add(hostname, key.get_name(), key)
        ssh.set_missing_host_key_policy(_HostKeyPolicy(self))
        explicit = bool(self._password or self._key_filename or self._pkey)
        where = f"{self._host}:{self._port}"
        try:
            ssh.connect(
                self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                pkey=self._pkey,
                key_filename=self._key_filename,
                passphrase=self._passphrase,
                timeout=self._timeout,
                banner_timeout=self._timeout,
                auth_timeout=self._timeout,
                channel_timeout=self._timeout,
                allow_agent=not explicit,
                look_for_keys=not explicit,
            )
        except (UnknownHostKeyError, paramiko.BadHostKeyException):
            ssh.close()
            raise
        except paramiko.AuthenticationException as exc:
            ssh.close()
            who = self._username or "the local user"
            raise SFTPAuthenticationError(
                f"SFTP authentication as {who!r} on {where} failed: {exc}"
            ) from exc
        except (OSError, paramiko.SSHException, EOFError) as exc:
            transport = ssh.get_transport()
            # Past the handshake and host key check, a failure is about the
            # credentials (paramiko may report an unusable key file instead of
            # the refusal), unless the connection itself dropped.
            refused = (
                isinstance(exc, paramiko.SSHException)
                and transport is not None
                and transport.is_active()
                and not transport.is_authenticated()
            )
            ssh.close()
            if refused:
                who = self._username or "the local user"
                raise SFTPAuthenticationError(
                    f"SFTP authentication as {who!r} on {where} failed: {exc}"
                ) from exc
            raise SFTPConnectionError(f"cannot connect to SFTP server {where}: {exc}") from exc
        except BaseException:
            ssh.close()
            raise
        return ssh

    def _open_session(self) -> _Session:
        for attempt in range(2):
            ssh = self._connected()
            try:
                sftp = _open_sftp(ssh)
            except paramiko.ChannelException as exc:  # e.g. the server's MaxSessions
                raise SFTPConnectionError(
                    f"{self._host}:{self._port} refused another SFTP session ({exc}); "
                    "lower max_connections"
                ) from exc
            except (paramiko.SSHException, EOFError, OSError) as exc:
                self._drop(ssh)
                if attempt == 0:
                    continue  # the connection died since it was checked: reconnect once
                raise SFTPConnectionError(
                    f"cannot open an SFTP session on {self._host}:{self._port}: {exc}"
                ) from exc
            channel = sftp.get_channel()
            if channel is not None:
                channel.settimeout(self._timeout)
            session = _Session(sftp, ssh)
            try:
                if not self._root_ready:
                    self._prepare_root(sftp)
                if self._orphans:
                    self._sweep(sftp)
            except BaseException:
                session.close()
                raise
            return session
        raise AssertionError("unreachable")

    def _prepare_root(self, sftp: paramiko.SFTPClient) -> None:
        if self._create_root:
            _makedirs(sftp, self._root)
        else:
            try:
                attrs = sftp.stat(self._root)
            except FileNotFoundError as exc:
                raise FileNotFoundError(
                    errno.ENOENT, f"the sftp root folder {self._root!r} does not exist"
                ) from exc
            if not st.S_ISDIR(attrs.st_mode or 0):
                raise NotADirectoryError(
                    errno.ENOTDIR, f"the sftp root {self._root!r} is not a folder"
                )
        self._root_ready = True

    def _orphan(self, tmp: str) -> None:
        """Remember a temporary file to remove once a connection works again."""
        with self._cond:
            self._orphans.add(tmp)
        log.debug("temporary file %s will be removed on reconnection", tmp)

    def _sweep(self, sftp: paramiko.SFTPClient) -> None:
        """Remove temporary files that an earlier, broken connection could not (best
        effort: the operation that opened this session must not fail because of it)."""
        with self._cond:
            orphans, self._orphans = sorted(self._orphans), set()
        for done, path in enumerate(orphans):
            try:
                sftp.remove(path)
            except FileNotFoundError:
                continue
            except (OSError, paramiko.SSHException, EOFError) as exc:
                channel = sftp.get_channel()
                if channel is None or channel.closed:  # try the rest on the next connection
                    with self._cond:
                        self._orphans.update(orphans[done:])
                    return
                log.warning("cannot remove temporary file %s: %s", path, exc)

    def _acquire(self) -> _Session:
        me = threading.get_ident()
        deadline = time.monotonic() + self._timeout
        stale: list[_Session] = []
        session: _Session | None = None
        with self._cond:
            while True:
                if self.closed:
                    raise SFTPConnectionError("the sftp backend is closed")
                while self._idle and session is None:
                    candidate = self._idle.pop()
                    if candidate.alive():
                        session = candidate
                    else:
                        stale.append(candidate)
                if session is not None or self._busy < self._max or self._held.get(me):
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no free SFTP session on {self._host}:{self._port} within "
                        f"{self._timeout:g} s (max_connections={self._max}, all in use)"
                    )
                self._cond.wait(remaining)
            self._busy += 1
            self._held[me] = self._held.get(me, 0) + 1
        for dead in stale:
            dead.close()
        if session is None:
            try:
                session = self._open_session()
            except BaseException:
                self._forget(me)
                raise
        session.owner = me
        return session

    def _forget(self, owner: int) -> None:
        with self._cond:
            self._busy -= 1
            left = self._held.get(owner, 0) - 1
            if left > 0:
                self._held[owner] = left
            else:
                self._held.pop(owner, None)
            self._cond.notify()

    def _release(self, session: _Session, clean: bool) -> None:
        """Return a session to the pool, or close it when it is broken or surplus."""
        keep = False
        with self._cond:
            self._busy -= 1
            left = self._held.get(session.owner, 0) - 1
            if left > 0:
                self._held[session.owner] = left
            else:
                self._held.pop(session.owner, None)
            if (
                clean
                and not self.closed
                and session.ssh is self._ssh
                and len(self._idle) < self._max
                and session.alive()
                and session.idle()
            ):
                session.reused = True
                self._idle.append(session)
                keep = True
            self._cond.notify()
        if not keep:
            session.close()

    def _failed(self, session: _Session, exc: BaseException, doing: str) -> BaseException | None:
        """Release ``session`` after ``exc``; return the error to raise instead when the
        connection was lost (else ``None``: raise ``exc`` itself)."""
        alive = session.alive()
        clean = alive and isinstance(exc, OSError) and not _is_connection_problem(exc)
        self._release(session, clean)
        if not isinstance(exc, Exception):  # KeyboardInterrupt and the like stay as they are
            return None
        if alive and not isinstance(exc, (paramiko.SSHException, EOFError)):
            return None
        if isinstance(exc, (TimeoutError, SFTPConnectionError)):
            return None
        return SFTPConnectionError(
            f"SFTP connection to {self._host}:{self._port} lost during {doing}: "
            f"{type(exc).__name__}: {exc}"
        )

    def _call(self, fn: Callable[[paramiko.SFTPClient], T], doing: str, *, retry: bool) -> T:
        """Run ``fn`` on a pooled session. With ``retry`` (idempotent calls), a call
        that finds its pooled session's connection dead runs once more on a new one."""
        session, result = self._call_keep(fn, doing, retry=retry)
        self._release(session, clean=True)
        return result

    def _call_keep(
        self, fn: Callable[[paramiko.SFTPClient], T], doing: str, *, retry: bool
    ) -> tuple[_Session, T]:
        """As :meth:`_call`, but the caller keeps the session and releases it."""
        for attempt in range(2):
            session = self._acquire()
            try:
                return session, fn(session.sftp)
            except BaseException as exc:
                reused = session.reused
                lost = self._failed(session, exc, doing)
                if lost is None:
                    raise
                if retry and reused and attempt == 0:
                    log.debug("stale SFTP session (%s); retrying on a new one", lost)
                    continue
                raise lost from exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._cond:
            self.closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for session in idle:
            session.close()
        with self._connect_lock:
            ssh, self._ssh = self._ssh, None
        if ssh is not None:
            ssh.close()

    # ------------------------------------------------------------ basic interface

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        if options.modified is not None:
            _check_mtime(options.modified)
        return _SFTPWriter(self, key, options)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        path = self._path(key)

        def start(sftp: paramiko.SFTPClient) -> tuple[_Pipe, bytes, int]:
            pipe = _Pipe(sftp)
            handle = pipe.open(path, SFTP_FLAG_READ)
            try:
                attrs = pipe.fstat(handle)
            except BaseException:
                with contextlib.suppress(OSError):  # the fstat error is the one to report
                    pipe.close_handle(handle)
                raise
            if st.S_ISDIR(attrs.st_mode or 0):
                pipe.close_handle(handle)
                raise IsADirectoryError(errno.EISDIR, f"{key!r} is a folder")
            return pipe, handle, attrs.st_size or 0

        session, (pipe, handle, size) = self._call_keep(start, "read", retry=True)
        end = size if length is None else min(size, offset + length)
        return cast(BinaryIO, _SFTPReader(self, session, pipe, handle, offset, end))

    def exists(self, key: str) -> bool:
        path = self._path(key)
        attrs = self._call(lambda sftp: _file_attrs(sftp, path), "exists", retry=True)
        return attrs is not None and st.S_ISREG(attrs.st_mode or 0)

    def delete(self, key: str) -> None:
        path = self._path(key)
        self._call(lambda sftp: _remove_file(sftp, path), "delete", retry=True)

    def delete_many(self, keys: Iterable[str]) -> None:
        paths = [self._path(key) for key in keys]
        if paths:
            self._call(lambda sftp: _remove_files(sftp, paths), "delete", retry=True)

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        start = self._path(prefix[:-1]) if prefix else self._root
        stack = [(start, prefix)]
        while stack:
            folder, key_prefix = stack.pop()
            entries = self._call(partial(_read_folder, folder=folder), "list", retry=True)
            subfolders: list[tuple[str, str]] = []
            for name, attrs in entries:
                key = key_prefix + name
                if st.S_ISDIR(attrs.st_mode or 0):
                    if recursive:
                        subfolders.append((_join(folder, name), key + "/"))
                    else:
                        yield ObjectInfo(path=key, is_dir=True, modified=_mtime(attrs))
                else:
                    yield _file_info(key, attrs)
            stack.extend(reversed(subfolders))

    # ------------------------------------------------------------ extended interface

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        attrs = self._call(lambda sftp: _file_attrs(sftp, path), "stat", retry=True)
        if attrs is None:
            raise FileNotFoundError(errno.ENOENT, f"no file or folder {key!r}")
        if st.S_ISDIR(attrs.st_mode or 0):
            return ObjectInfo(path=key, is_dir=True, modified=_mtime(attrs))
        if not st.S_ISREG(attrs.st_mode or 0):
            raise FileNotFoundError(errno.ENOENT, f"{key!r} is not a regular file")
        return _file_info(key, attrs)

    def mkdir(self, key: str) -> None:
        path = self._path(key)
        self._call(lambda sftp: _makedirs(sftp, path), "mkdir", retry=True)

    def rmdir(self, key: str) -> None:
        path = self._path(key)

        def remove(sftp: paramiko.SFTPClient) -> None:
            try:
                sftp.rmdir(path)
                return
            except OSError as exc:
                if not _is_failure(exc):
                    raise
                failure = exc
            attrs = _lstat_or_none(sftp, path)
            if attrs is None:
                raise FileNotFoundError(errno.ENOENT, f"no folder {key!r}") from failure
            if not st.S_ISDIR(attrs.st_mode or 0):
                raise NotADirectoryError(errno.ENOTDIR, f"{key!r} is not a folder") from failure
            names = [name for name, _ in _Pipe(sftp).listdir(path)]
            if any(not name.endswith(_TMP_SUFFIX) for name in names):
                raise OSError(errno.ENOTEMPTY, f"folder {key!r} is not empty") from failure
            for name in names:  # only leftovers of interrupted writes
                with contextlib.suppress(FileNotFoundError):
                    sftp.remove(_join(path, name))
            sftp.rmdir(path)

        self._call(remove, "rmdir", retry=False)

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        src_path = self._path(src)
        dst_path = self._path(dst)

        def rename(sftp: paramiko.SFTPClient) -> None:
            try:
                _publish(sftp, src_path, dst_path, overwrite, dst)
            except FileNotFoundError:
                if _lstat_or_none(sftp, src_path) is None:
                    raise
                _makedirs(sftp, posixpath.dirname(dst_path))
                _publish(sftp, src_path, dst_path, overwrite, dst)

        self._call(rename, "move", retry=False)


# ---------------------------------------------------------------- writer and reader


class _SFTPWriter(Writer):
    """Streams into a hidden temporary file beside the target; close publishes it."""

    def __init__(self, backend: SFTPBackend, key: str, options: WriteOptions) -> None:
        self._backend = backend
        self._key = key
        self._options = options
        self._final = backend._path(key)
        folder, _, name = self._final.rpartition("/")
        folder = folder or "/"
        self._tmp = ""
        self._buffer = bytearray()
        self._offset = 0
        self._inflight: deque[int] = deque()
        self._done = False
        self._released = False

        def start(sftp: paramiko.SFTPClient) -> tuple[_Pipe, bytes]:
            # A fresh name per attempt: a retried open never meets its own first try.
            self._tmp = tmp = _join(
                folder, f".{_short(name)}.{_token}{next(_counter)}{_TMP_SUFFIX}"
            )
            pipe = _Pipe(sftp)
            flags = SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | SFTP_FLAG_EXCL | SFTP_FLAG_TRUNC
            try:
                try:
                    return pipe, pipe.open(tmp, flags)
                except OSError as exc:
                    if not (isinstance(exc, FileNotFoundError) or _is_failure(exc)):
                        raise
                _makedirs(sftp, folder)
                return pipe, pipe.open(tmp, flags)
            except BaseException:
                channel = sftp.get_channel()
                if channel is None or channel.closed:  # the open may have happened
                    backend._orphan(tmp)
                raise

        self._session, (self._pipe, handle) = backend._call_keep(start, "write", retry=True)
        self._handle: bytes | None = handle

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._done:
            raise ValueError("write to a finished writer")
        view = memoryview(data).cast("B")
        size = len(view)
        try:
            pos = 0
            if self._buffer:
                take = min(size, _CHUNK - len(self._buffer))
                self._buffer += view[:take]
                pos = take
                if len(self._buffer) >= _CHUNK:
                    self._send(bytes(self._buffer))
                    self._buffer.clear()
            while size - pos >= _CHUNK:
                self._send(bytes(view[pos : pos + _CHUNK]))
                pos += _CHUNK
            if pos < size:
                self._buffer += view[pos:]
        except BaseException as exc:
            lost = self._fail(exc)
            if lost is None:
                raise
            raise lost from exc
        return size

    def _send(self, chunk: bytes) -> None:
        num = self._pipe.send(CMD_WRITE, self._handle, int64(self._offset), chunk)
        self._inflight.append(num)
        self._offset += len(chunk)
        while len(self._inflight) > _WRITE_WINDOW:
            self._pipe.status(self._inflight.popleft())

    def close(self) -> None:
        if self._done:
            raise ValueError("writer already finished")
        self._done = True
        pipe = self._pipe
        try:
            if self._buffer:
                self._send(bytes(self._buffer))
                self._buffer.clear()
            # Pipelined after the data: the mtime, fsync, and closing the handle.
            followers: list[int] = []
            modified = self._options.modified
            if modified is not None:
                attrs = SFTPAttributes()
                stamp = _check_mtime(modified)
                attrs.st_atime = attrs.st_mtime = stamp
                followers.append(pipe.send(CMD_FSETSTAT, self._handle, attrs))
            if self._backend._durable:
                followers.append(pipe.send(CMD_EXTENDED, "fsync@openssh.com", self._handle))
            handle, self._handle = self._handle, None
            followers.append(pipe.send(CMD_CLOSE, handle))
            try:
                while self._inflight:
                    pipe.status(self._inflight.popleft())
            finally:
                for num in followers:  # collected even after an error, then re-checked
                    self._inflight.append(num)
            while self._inflight:
                pipe.status(self._inflight.popleft())
            _publish(self._session.sftp, self._tmp, self._final, self._options.overwrite, self._key)
        except BaseException as exc:
            lost = self._fail(exc)
            if lost is None:
                raise
            raise lost from exc
        self._released = True
        self._backend._release(self._session, clean=True)

    def abort(self) -> None:
        self._done = True
        if not self._released:
            self._discard()

    def _fail(self, exc: BaseException) -> BaseException | None:
        """Discard the temporary file after ``exc``; the connection-lost error to raise
        instead of ``exc``, if that is what happened."""
        self._done = True
        return self._discard(exc)

    def _discard(self, exc: BaseException | None = None) -> BaseException | None:
        """Close and remove the temporary file and release the session, as far as the
        connection allows; a temp file that cannot be removed now is removed on the
        next connection. Returns the connection-lost error to raise, if any."""
        if self._released:
            return None
        self._released = True
        session = self._session
        pipe = self._pipe
        removed = False
        problem: BaseException | None = exc
        if session.alive():
            try:
                while self._inflight:
                    pipe.discard(self._inflight.popleft())
                if self._handle is not None:
                    handle, self._handle = self._handle, None
                    pipe.discard(pipe.send(CMD_CLOSE, handle))
                with contextlib.suppress(FileNotFoundError):
                    session.sftp.remove(self._tmp)
                removed = True
            except (OSError, paramiko.SSHException, EOFError) as cleanup_error:
                log.debug("could not remove %s now: %s", self._tmp, cleanup_error)
                problem = problem or cleanup_error
        if not removed:
            self._backend._orphan(self._tmp)
        if problem is None:
            self._backend._release(session, clean=True)
            return None
        return self._backend._failed(session, problem, f"write of {self._key!r}")


class _SFTPReader(io.RawIOBase):
    """A bounded read-ahead of pipelined read requests over ``[pos, end)`` of one handle."""

    def __init__(
        self,
        backend: SFTPBackend,
        session: _Session,
        pipe: _Pipe,
        handle: bytes,
        pos: int,
        end: int,
    ) -> None:
        super().__init__()
        self._backend = backend
        self._session: _Session | None = session
        self._pipe = pipe
        self._handle = handle
        self._next = pos
        self._end = end
        self._queue: deque[tuple[int, int, int]] = deque()
        self._chunk = b""
        self._chunk_pos = 0
        self._request_size = _READ_CHUNK

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        pipe = self._pipe
        while len(self._queue) < _READ_AHEAD and self._next < self._end:
            size = min(self._request_size, self._end - self._next)
            num = pipe.send(CMD_READ, self._handle, int64(self._next), size)
            self._queue.append((num, self._next, size))
            self._next += size

    def _next_chunk(self) -> bytes:
        try:
            self._fill()
            if not self._queue:
                return b""
            num, offset, size = self._queue.popleft()
            t, msg = self._pipe.wait(num)
            if t == CMD_STATUS:
                try:
                    self._pipe.check(t, msg)
                except EOFError:  # the file is shorter than it was at open
                    self._end = self._next = offset
                    while self._queue:
                        self._pipe.discard(self._queue.popleft()[0])
                    return b""
                raise SFTPError("SFTP read returned no data")
            if t != CMD_DATA:
                raise SFTPError(f"unexpected SFTP reply type {t} to a read")
            data = msg.get_string()
            if 0 < len(data) < size:  # a short read: ask for the rest first
                self._request_size = min(self._request_size, max(len(data), 4096))
                rest = offset + len(data)
                again = self._pipe.send(CMD_READ, self._handle, int64(rest), size - len(data))
                self._queue.appendleft((again, rest, size - len(data)))
            elif not data:
                raise SFTPError("SFTP read returned no data")
            return data
        except BaseException as exc:
            lost = self._lost(exc)
            if lost is None:
                raise
            raise lost from exc

    def _lost(self, exc: BaseException) -> BaseException | None:
        """Give up the session after ``exc``; the connection-lost error to raise, if any."""
        session, self._session = self._session, None
        if session is None:
            return None
        return self._backend._failed(session, exc, "read")

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("read from a closed SFTP reader")
        if self._session is None:
            raise ValueError("read from an SFTP reader whose connection failed")

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        if size is None or size < 0:
            return self.readall()
        if size == 0:
            return b""
        if self._chunk_pos >= len(self._chunk):
            self._chunk = self._next_chunk()
            self._chunk_pos = 0
        start = self._chunk_pos
        self._chunk_pos = min(len(self._chunk), start + size)
        if start == 0 and self._chunk_pos == len(self._chunk):
            return self._chunk
        return self._chunk[start : self._chunk_pos]

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        n = len(data)
        memoryview(buffer).cast("B")[:n] = data
        return n

    def readall(self) -> bytes:
        self._check_open()
        parts = [self._chunk[self._chunk_pos :]] if self._chunk_pos < len(self._chunk) else []
        self._chunk = b""
        self._chunk_pos = 0
        while chunk := self._next_chunk():
            parts.append(chunk)
        return b"".join(parts)

    def close(self) -> None:
        if self.closed:
            return
        try:
            session, self._session = self._session, None
            if session is not None:
                self._finish(session)
        finally:
            super().close()

    def _finish(self, session: _Session) -> None:
        """Collect outstanding replies and close the handle, so the session is clean."""
        pipe = self._pipe
        try:
            while self._queue:
                pipe.discard(self._queue.popleft()[0])
            pipe.close_handle(self._handle)
        except (OSError, paramiko.SSHException, EOFError) as exc:
            log.debug("SFTP read handle not closed cleanly: %s", exc)
            self._backend._release(session, clean=False)
            return
        self._backend._release(session, clean=True)


# ---------------------------------------------------------------- helpers


def _publish(sftp: paramiko.SFTPClient, src: str, dst: str, overwrite: bool, key: str) -> None:
    """Give ``src`` the name ``dst``: replacing atomically, or only if ``dst`` is free."""
    try:
        if overwrite:
            sftp.posix_rename(src, dst)
        else:
            # SSH_FXP_RENAME fails when dst exists; OpenSSH does it with link + unlink.
            sftp.rename(src, dst)
    except OSError as exc:
        if not _is_failure(exc):
            raise
        attrs = _lstat_or_none(sftp, dst)
        if attrs is None:
            raise
        if not overwrite:
            raise FileExistsError(errno.EEXIST, f"a file exists at {key!r}") from exc
        if st.S_ISDIR(attrs.st_mode or 0):
            raise FileExistsError(errno.EEXIST, f"a folder exists at {key!r}") from exc
        raise


def _makedirs(sftp: paramiko.SFTPClient, path: str) -> None:
    """``mkdir -p``: create ``path`` and its missing parents; an existing folder is fine."""
    missing: list[str] = []
    current = path
    while current not in ("", "/"):
        try:
            sftp.mkdir(current)
        except FileNotFoundError:
            missing.append(current)
            current = posixpath.dirname(current)
            continue
        except OSError as exc:
            if not _is_failure(exc):
                raise
            _require_folder(sftp, current, exc)
        break
    for folder in reversed(missing):
        try:
            sftp.mkdir(folder)
        except OSError as exc:
            if not _is_failure(exc):
                raise
            _require_folder(sftp, folder, exc)


def _require_folder(sftp: paramiko.SFTPClient, path: str, failure: OSError) -> None:
    """After a failed mkdir: fine if a folder is there (a racing creator), else raise."""
    attrs = _stat_or_none(sftp, path)
    if attrs is None:
        raise failure
    if not st.S_ISDIR(attrs.st_mode or 0):
        raise FileExistsError(
            errno.EEXIST, f"a file stands where a folder is needed: {path!r}"
        ) from failure


def _lstat_or_none(sftp: paramiko.SFTPClient, path: str) -> SFTPAttributes | None:
    try:
        return sftp.lstat(path)
    except FileNotFoundError:
        return None


def _stat_or_none(sftp: paramiko.SFTPClient, path: str) -> SFTPAttributes | None:
    try:
        return sftp.stat(path)
    except FileNotFoundError:
        return None


def _file_attrs(sftp: paramiko.SFTPClient, path: str) -> SFTPAttributes | None:
    """Attributes of a file or folder at ``path``; a symlink counts only when it
    points to a regular file (folder symlinks are not followed)."""
    attrs = _lstat_or_none(sftp, path)
    if attrs is None or not st.S_ISLNK(attrs.st_mode or 0):
        return attrs
    target = _stat_or_none(sftp, path)
    if target is None or not st.S_ISREG(target.st_mode or 0):
        return None
    return target


def _read_folder(sftp: paramiko.SFTPClient, folder: str) -> list[tuple[str, SFTPAttributes]]:
    """The files and sub-folders in ``folder`` (missing or not a folder: none).
    Temporary files are skipped; file symlinks resolved; other symlinks dropped."""
    try:
        entries = _Pipe(sftp).listdir(folder)
    except FileNotFoundError:
        return []
    out: list[tuple[str, SFTPAttributes]] = []
    for name, attrs in entries:
        if name.endswith(_TMP_SUFFIX):
            continue
        mode = attrs.st_mode or 0
        if st.S_ISLNK(mode):
            target = _stat_or_none(sftp, _join(folder, name))
            if target is None or not st.S_ISREG(target.st_mode or 0):
                continue
            attrs = target
        elif not (st.S_ISREG(mode) or st.S_ISDIR(mode)):
            continue
        out.append((name, attrs))
    return out


def _remove_file(sftp: paramiko.SFTPClient, path: str) -> None:
    try:
        sftp.remove(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        if not _is_failure(exc):
            raise
        attrs = _lstat_or_none(sftp, path)
        if attrs is None or st.S_ISDIR(attrs.st_mode or 0):
            return  # gone meanwhile, or a folder: there is no file to delete
        raise


def _remove_files(sftp: paramiko.SFTPClient, paths: list[str]) -> None:
    """Remove many files with pipelined requests; missing ones are fine."""
    pipe = _Pipe(sftp)
    pending: deque[tuple[int, str]] = deque()
    failed: list[str] = []
    first_error: BaseException | None = None

    def collect() -> None:
        nonlocal first_error
        num, path = pending.popleft()
        try:
            pipe.status(num)
        except FileNotFoundError:
            return
        except OSError as exc:
            if _is_failure(exc):
                failed.append(path)
            elif first_error is None:
                first_error = exc

    for path in paths:
        pending.append((pipe.send(CMD_REMOVE, path), path))
        if len(pending) >= _DELETE_WINDOW:
            collect()
    while pending:
        collect()
    if first_error is not None:
        raise first_error
    for path in failed:
        _remove_file(sftp, path)


def _file_info(key: str, attrs: SFTPAttributes) -> ObjectInfo:
    return ObjectInfo(path=key, size=attrs.st_size or 0, modified=_mtime(attrs))


def _mtime(attrs: SFTPAttributes) -> datetime | None:
    if attrs.st_mtime is None:
        return None
    return datetime.fromtimestamp(attrs.st_mtime, UTC)


def _check_mtime(modified: datetime) -> int:
    """Seconds since the epoch for SFTPv3's unsigned 32-bit times (1970-2106)."""
    stamp = math.floor(modified.timestamp())
    if not 0 <= stamp < 1 << 32:
        raise ValueError(f"SFTP stores modification times from 1970 to 2106, not {modified}")
    return stamp


def _join(folder: str, name: str) -> str:
    return folder + name if folder.endswith("/") else f"{folder}/{name}"


def _short(name: str, limit: int = 100) -> str:
    """``name`` cut to at most ``limit`` UTF-8 bytes (temp names must fit in 255)."""
    raw = name.encode("utf-8")
    if len(raw) <= limit:
        return name
    return raw[:limit].decode("utf-8", errors="ignore")


# ---------------------------------------------------------------- URLs


def parse_url(split: SplitResult) -> tuple[dict[str, Any], str]:
    """``sftp://user[:password]@host[:port]/abs/folder`` → backend options, store root.

    The URL path is the backend's absolute ``root`` folder; the store root
    inside the backend is ``""``. Query parameters (``key_filename``,
    ``known_hosts``, ``host_key_policy``, ``timeout`` …) are added by the registry.
    """
    host = split.hostname
    if not host:
        raise ConfigurationError("sftp URLs need a host: sftp://user@host[:port]/folder")
    try:
        port = split.port
    except ValueError as exc:
        raise ConfigurationError("the port of an sftp URL must be a number 1-65535") from exc
    options: dict[str, Any] = {"host": unquote(host)}
    if port is not None:
        options["port"] = port
    if split.username:
        options["username"] = unquote(split.username)
    if split.password is not None:
        options["password"] = unquote(split.password)
    path = unquote(split.path)
    options["root"] = path if path.startswith("/") else "/"
    return options, ""
