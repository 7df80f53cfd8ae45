"""The SFTP driver: keys map to files under one remote folder.

The package docstring (:mod:`omnistorage.backends.sftp`) states how the
contract is kept. This class validates the options and maps each operation
to the helpers of the sibling modules, running them on a pooled session.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import stat as st
from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from typing import Any, BinaryIO, TypeVar, cast

import paramiko
from paramiko.sftp_attr import SFTPAttributes

from omnistorage._net import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_BUDGET,
    RetryBudget,
)
from omnistorage._redact import protect_secrets
from omnistorage._tempname import is_temp_name
from omnistorage.backends.sftp._connect import Connector
from omnistorage.backends.sftp._errors import classify, is_failure
from omnistorage.backends.sftp._hostkeys import POLICIES, HostKeyPolicy, known_hosts_files
from omnistorage.backends.sftp._ops import (
    check_mtime,
    file_attrs,
    file_info,
    join,
    lstat_or_none,
    makedirs,
    mtime,
    publish,
    read_folder,
    remove_file,
    remove_files,
)
from omnistorage.backends.sftp._pinned import SFTPPinned, open_file
from omnistorage.backends.sftp._protocol import Pipe
from omnistorage.backends.sftp._reader import SFTPReader
from omnistorage.backends.sftp._session import SessionPool, open_sftp
from omnistorage.backends.sftp._staged import abort_staged, publish_staged
from omnistorage.backends.sftp._writer import SFTPWriter
from omnistorage.capabilities import Capability, Features
from omnistorage.driver import ExtendedBackend, PinnedReader, WriteOptions, Writer
from omnistorage.errors import Classification, ConfigurationError
from omnistorage.models import Leftover, Location, ObjectInfo
from omnistorage.options import (
    OptionSchema,
    anything,
    arguments,
    flag,
    integer,
    number,
    path,
    text,
)

__all__ = ["SFTPBackend"]

T = TypeVar("T")

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
        Capability.PINNED_READ,
        Capability.DEFERRED_PUBLISH,
    ],
    mtime_precision_ns=1_000_000_000,  # SFTP v3 attributes hold whole seconds
)


def _check_root(options: Mapping[str, object]) -> None:
    root = options.get("root", "/")
    if isinstance(root, str) and not root.startswith("/"):
        raise ConfigurationError("sftp option 'root' must be an absolute path (starting with /)")


OPTIONS = OptionSchema(
    "sftp",
    text("host", required=True, example="sftp.example.invalid"),
    integer("port", ge=1, le=65535),
    text("username", nullable=True, example="omni"),
    text("password", nullable=True, secret=True, example="omni-sftp-password"),
    path("key_filename", nullable=True, example="/nonexistent/omni_ed25519"),
    anything("pkey", example=object()),
    text("passphrase", nullable=True, secret=True, example="omni-sftp-passphrase"),
    path("known_hosts", nullable=True, example="/nonexistent/known_hosts"),
    text("host_key_policy", choices=POLICIES),
    text("root"),
    flag("create_root"),
    number("timeout", gt=0, unit="seconds"),
    number("connect_timeout", gt=0, unit="seconds"),
    number("read_timeout", gt=0, unit="seconds"),
    integer("retries", ge=0),
    number("retry_budget", gt=0, unit="seconds"),
    integer("max_connections", ge=1),
    flag("durable"),
    check=_check_root,
)
"""The options of :class:`SFTPBackend`, checked without I/O (never echoing a password)."""


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
        connect_timeout: seconds for the TCP connect, the SSH banner and the
            key exchange (default :data:`omnistorage._net.DEFAULT_CONNECT_TIMEOUT`).
        read_timeout: seconds to wait for any reply of the server once
            connected: authentication, opening a session, every SFTP request
            (default :data:`omnistorage._net.DEFAULT_READ_TIMEOUT`). A stalled
            server fails the call with a temporary ``UNAVAILABLE`` error.
        retries: extra connection attempts after a network failure (refused,
            reset, timed out), 0.1 s then 0.2 s … apart (default
            :data:`omnistorage._net.DEFAULT_RETRIES`); refused credentials and
            host keys are never retried. A closed port fails within a second,
            a silent host within about 6 s.
        retry_budget: seconds within which every connection attempt must be able
            to end (default :data:`omnistorage._net.DEFAULT_RETRY_BUDGET`): no
            retry starts that a silent server could stretch past it.
        timeout: seconds an operation waits for a free session when all
            ``max_connections`` are in use.
        max_connections: SFTP sessions (channels on one SSH connection) kept
            open for concurrent operations.
        durable: ask the server to fsync each file before publishing it
            (``fsync@openssh.com``; an error where the server lacks it).
    """

    name = "sftp"
    options_schema = OPTIONS
    may_declare = _FEATURES.capabilities

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
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
        max_connections: int = 4,
        durable: bool = False,
    ) -> None:
        self.check_config(arguments(locals()))
        protect_secrets(password, passphrase)
        if key_filename is not None:
            key_filename = os.path.expanduser(key_filename)
            if not os.path.isfile(key_filename):
                raise ConfigurationError(f"sftp key file {key_filename!r} does not exist")
        self._port = port
        normalized = posixpath.normpath(root)
        if normalized.startswith("//"):
            normalized = "/" + normalized.lstrip("/")
        self._root = normalized
        self._root_slash = normalized.rstrip("/") + "/"
        self._create_root = create_root
        self._durable = durable
        self.secret_values = tuple(s for s in (password, passphrase) if s)

        user = f"{username}@" if username else ""
        netloc = f"[{host}]" if ":" in host else host
        # A relative root lies in the login's home folder, so the login is part of where.
        where = f"{netloc.lower()}:{port}"
        self._location = (
            Location("sftp", where, normalized.strip("/"))
            if normalized.startswith("/")
            else Location("sftp", where, f"~{username or ''}/{normalized}".rstrip("/."))
        )
        port_part = "" if port == 22 else f":{port}"
        self._native_base = f"sftp://{user}{netloc}{port_part}"

        self._read_timeout = float(read_timeout)
        connector = Connector(
            host=host,
            port=port,
            username=username,
            password=password,
            key_filename=key_filename,
            pkey=pkey,
            passphrase=passphrase,
            known_hosts_files=known_hosts_files(known_hosts),
            host_key_policy=host_key_policy,
            connect_timeout=float(connect_timeout),
            read_timeout=float(read_timeout),
            retries=retries,
            budget=RetryBudget(retry_budget, connect_timeout, read_timeout),
        )
        self._pool = SessionPool(
            connect=connector.connect,
            prepare=self._prepare_root,
            where=f"{host}:{port}",
            timeout=float(timeout),
            read_timeout=float(read_timeout),
            max_connections=max_connections,
        )

    def __repr__(self) -> str:
        return f"SFTPBackend({self._native_base + self._root!r})"

    @property
    def root(self) -> str:
        """The absolute remote folder the keys live under."""
        return self._root

    def features(self) -> Features:
        return _FEATURES

    def classify_error(self, exc: BaseException) -> Classification:
        return classify(exc)

    def native_path(self, key: str) -> str:
        return self._native_base + self._path(key)

    def locations(self) -> tuple[Location, ...]:
        return (self._location,)

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
            return cast(T, self._pool.connected())
        if kind is paramiko.Transport:
            return cast(T, self._pool.connected().get_transport())
        if kind is paramiko.SFTPClient:
            return cast(T, open_sftp(self._pool.connected(), self._read_timeout))
        return None

    def _path(self, key: str) -> str:
        return self._root_slash + key if key else self._root

    def _prepare_root(self, sftp: paramiko.SFTPClient) -> None:
        """Create the root folder, or check that it is one (the first session runs this)."""
        if self._create_root:
            makedirs(sftp, self._root)
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

    def close(self) -> None:
        self.closed = True
        self._pool.close()

    # ------------------------------------------------------------ basic interface

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        if options.modified is not None:
            check_mtime(options.modified)
        return SFTPWriter(self._pool, key, self._path(key), options, durable=self._durable)

    def publish_staged(self, key: str, staged: Mapping[str, Any], *, overwrite: bool) -> None:
        path = self._path(key)
        self._pool.call(
            lambda sftp: publish_staged(sftp, path, key, staged, overwrite=overwrite),
            "publish",
            retry=True,
        )

    def abort_staged(self, key: str, staged: Mapping[str, Any]) -> None:
        path = self._path(key)
        self._pool.call(lambda sftp: abort_staged(sftp, path, staged), "discard", retry=True)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        path = self._path(key)

        def start(sftp: paramiko.SFTPClient) -> tuple[Pipe, bytes, SFTPAttributes]:
            return open_file(sftp, path, key)

        session, (pipe, handle, attrs) = self._pool.call_keep(start, "read", retry=True)
        size = attrs.st_size or 0
        end = size if length is None else min(size, offset + length)
        return cast(BinaryIO, SFTPReader(self._pool, session, pipe, handle, offset, end))

    def open_pinned(self, key: str) -> PinnedReader:
        """One open handle on the file: the version there now (see :mod:`._pinned`)."""
        return SFTPPinned(self._pool, key, self._path(key))

    def exists(self, key: str) -> bool:
        path = self._path(key)
        attrs = self._pool.call(lambda sftp: file_attrs(sftp, path), "exists", retry=True)
        return attrs is not None and st.S_ISREG(attrs.st_mode or 0)

    def delete(self, key: str) -> None:
        path = self._path(key)
        self._pool.call(lambda sftp: remove_file(sftp, path), "delete", retry=True)

    def delete_many(self, keys: Iterable[str]) -> None:
        paths = [self._path(key) for key in keys]
        if paths:
            self._pool.call(lambda sftp: remove_files(sftp, paths), "delete", retry=True)

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        start = self._path(prefix[:-1]) if prefix else self._root
        stack = [(start, prefix)]
        while stack:
            folder, key_prefix = stack.pop()
            entries = self._pool.call(partial(read_folder, folder=folder), "list", retry=True)
            subfolders: list[tuple[str, str]] = []
            for name, attrs in entries:
                key = key_prefix + name
                if st.S_ISDIR(attrs.st_mode or 0):
                    if recursive:
                        subfolders.append((join(folder, name), key + "/"))
                    else:
                        yield ObjectInfo(path=key, is_dir=True, modified=mtime(attrs))
                else:
                    yield file_info(key, attrs)
            stack.extend(reversed(subfolders))

    # ------------------------------------------------------------ crash leftovers

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        """Temp files of writers that never published, below ``prefix`` (recursively)."""
        start = self._path(prefix[:-1]) if prefix else self._root
        stack = [(start, prefix[:-1])]
        while stack:
            folder, key_folder = stack.pop()
            entries = self._pool.call(partial(_raw_entries, folder=folder), "list", retry=True)
            for name, attrs in entries:
                mode = attrs.st_mode or 0
                if st.S_ISDIR(mode) and not is_temp_name(name):
                    sub = f"{key_folder}/{name}" if key_folder else name
                    stack.append((join(folder, name), sub))
                elif is_temp_name(name) and st.S_ISREG(mode):
                    native = join(folder, name)
                    yield Leftover(
                        kind="temp-file",
                        key=key_folder,
                        native=native,
                        size=attrs.st_size,
                        started=mtime(attrs),
                        handle=native,
                    )

    def remove_leftover(self, leftover: Leftover) -> None:
        path = leftover.handle
        name = posixpath.basename(path)
        root = self._root.rstrip("/") + "/"
        if not is_temp_name(name) or not path.startswith(root) or "/../" in path:
            raise PermissionError(errno.EACCES, "not a temp file of this store")
        self._pool.call(lambda sftp: remove_file(sftp, path), "cleanup", retry=True)

    # ------------------------------------------------------------ extended interface

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        attrs = self._pool.call(lambda sftp: file_attrs(sftp, path), "stat", retry=True)
        if attrs is None:
            raise FileNotFoundError(errno.ENOENT, f"no file or folder {key!r}")
        if st.S_ISDIR(attrs.st_mode or 0):
            return ObjectInfo(path=key, is_dir=True, modified=mtime(attrs))
        if not st.S_ISREG(attrs.st_mode or 0):
            raise FileNotFoundError(errno.ENOENT, f"{key!r} is not a regular file")
        return file_info(key, attrs)

    def mkdir(self, key: str) -> None:
        path = self._path(key)
        self._pool.call(lambda sftp: makedirs(sftp, path), "mkdir", retry=True)

    def rmdir(self, key: str) -> None:
        path = self._path(key)

        def remove(sftp: paramiko.SFTPClient) -> None:
            try:
                sftp.rmdir(path)
                return
            except OSError as exc:
                if not is_failure(exc):
                    raise
                failure = exc
            attrs = lstat_or_none(sftp, path)
            if attrs is None:
                raise FileNotFoundError(errno.ENOENT, f"no folder {key!r}") from failure
            if not st.S_ISDIR(attrs.st_mode or 0):
                raise NotADirectoryError(errno.ENOTDIR, f"{key!r} is not a folder") from failure
            names = [name for name, _ in Pipe(sftp).listdir(path)]
            if any(not is_temp_name(name) for name in names):
                raise OSError(errno.ENOTEMPTY, f"folder {key!r} is not empty") from failure
            for name in names:  # only leftovers of interrupted writes
                with contextlib.suppress(FileNotFoundError):
                    sftp.remove(join(path, name))
            sftp.rmdir(path)

        self._pool.call(remove, "rmdir", retry=False)

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        src_path = self._path(src)
        dst_path = self._path(dst)

        def rename(sftp: paramiko.SFTPClient) -> None:
            try:
                publish(sftp, src_path, dst_path, overwrite, dst)
            except FileNotFoundError:
                if lstat_or_none(sftp, src_path) is None:
                    raise
                makedirs(sftp, posixpath.dirname(dst_path))
                publish(sftp, src_path, dst_path, overwrite, dst)

        self._pool.call(rename, "move", retry=False)


def _raw_entries(sftp: paramiko.SFTPClient, folder: str) -> list[tuple[str, SFTPAttributes]]:
    """Every entry of ``folder`` as the server lists it (temp files included)."""
    try:
        return Pipe(sftp).listdir(folder)
    except FileNotFoundError:
        return []
