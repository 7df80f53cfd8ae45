"""Opening the SSH connection: host-key verification, then authentication.

When no password, key file or ``pkey`` is given, the SSH agent and the
default keys in ``~/.ssh`` are tried, as ``ssh`` does; when one is given,
only it is used. Failures become :class:`UnknownHostKeyError` or paramiko's
``BadHostKeyException`` (trust), :class:`SFTPAuthenticationError`
(credentials; names the user and host, never a secret) or
:class:`SFTPConnectionError` (the network; temporary).

Time limits: ``connect_timeout`` bounds the TCP connect, the wait for the
server's SSH banner and the key exchange; ``read_timeout`` bounds the
authentication and opening a channel. A network failure (refused, reset,
timed out, no banner) is tried ``retries`` more times, 0.1 s then 0.2 s …
apart, while another attempt fits the retry budget (:mod:`omnistorage._net`);
refused credentials and host keys are never retried. With the defaults a
closed port fails in well under a second and a host that accepts connections
but never answers in about 6 s (two waits for its banner).
"""

from __future__ import annotations

import logging
import os
import time

import paramiko

from omnistorage._net import RetryBudget
from omnistorage.backends.sftp._errors import (
    SFTPAuthenticationError,
    SFTPConnectionError,
    UnknownHostKeyError,
)
from omnistorage.backends.sftp._hostkeys import HostKeyPolicy, UnknownHostPolicy

__all__ = ["Connector"]

log = logging.getLogger("omnistorage.backends.sftp")


class Connector:
    """Makes new SSH connections to one server with one set of credentials.

    Host keys trusted on first use (``host_key_policy`` ``"auto_add"`` or
    ``"warn"``) are pinned in this object, so every later connection of the
    same backend expects the same key.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        key_filename: str | None,
        pkey: paramiko.PKey | None,
        passphrase: str | None,
        known_hosts_files: tuple[str, ...],
        host_key_policy: HostKeyPolicy,
        connect_timeout: float,
        read_timeout: float,
        retries: int,
        budget: RetryBudget | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._key_filename = key_filename
        self._pkey = pkey
        self._passphrase = passphrase
        self._known_hosts_files = known_hosts_files
        self._host_key_policy: HostKeyPolicy = host_key_policy
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._retries = retries
        self._budget = budget
        self._pinned: dict[str, paramiko.PKey] = {}

    def connect(self) -> paramiko.SSHClient:
        """A new, authenticated connection; the caller owns and closes it. Network
        failures are retried ``retries`` times; the last one is raised."""
        started = time.monotonic()
        for attempt in range(self._retries + 1):
            try:
                return self._connect_once()
            except SFTPConnectionError as exc:
                delay = 0.1 * 2**attempt
                if attempt == self._retries:
                    raise
                if self._budget is not None and not self._budget.allows(started, delay):
                    raise
                log.debug("SFTP connection attempt %d failed (%s); retrying", attempt + 1, exc)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _connect_once(self) -> paramiko.SSHClient:
        ssh = paramiko.SSHClient()
        for path in self._known_hosts_files:
            if os.path.exists(path):
                ssh.load_system_host_keys(path)
        for hostname, key in self._pinned.items():
            ssh.get_host_keys().add(hostname, key.get_name(), key)
        ssh.set_missing_host_key_policy(
            UnknownHostPolicy(
                self._host_key_policy,
                known_hosts_files=self._known_hosts_files,
                host=self._host,
                port=self._port,
                pinned=self._pinned,
            )
        )
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
                timeout=self._connect_timeout,
                banner_timeout=self._connect_timeout,
                auth_timeout=self._read_timeout,
                channel_timeout=self._read_timeout,
                allow_agent=not explicit,
                look_for_keys=not explicit,
            )
        except (UnknownHostKeyError, paramiko.BadHostKeyException):
            ssh.close()
            raise
        except paramiko.AuthenticationException as exc:
            transport = ssh.get_transport()
            # paramiko goes on to authenticate when the key exchange timed out
            # (no banner): then the network failed, not the credentials.
            exchanged = transport is not None and transport.session_id is not None
            ssh.close()
            if not exchanged:
                raise SFTPConnectionError(
                    f"cannot connect to SFTP server {where}: no SSH handshake within "
                    f"{self._connect_timeout:g} s (connect_timeout)"
                ) from exc
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
                and transport.session_id is not None  # the key exchange completed
                and not transport.is_authenticated()
            )
            ssh.close()
            if refused:
                who = self._username or "the local user"
                raise SFTPAuthenticationError(
                    f"SFTP authentication as {who!r} on {where} failed: {exc}"
                ) from exc
            if transport is not None and transport.session_id is None:
                raise SFTPConnectionError(
                    f"cannot connect to SFTP server {where}: no SSH handshake within "
                    f"{self._connect_timeout:g} s (connect_timeout): {exc}"
                ) from exc
            raise SFTPConnectionError(f"cannot connect to SFTP server {where}: {exc}") from exc
        except BaseException:
            ssh.close()
            raise
        return ssh
