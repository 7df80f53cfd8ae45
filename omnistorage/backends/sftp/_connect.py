"""Opening the SSH connection: host-key verification, then authentication.

When no password, key file or ``pkey`` is given, the SSH agent and the
default keys in ``~/.ssh`` are tried, as ``ssh`` does; when one is given,
only it is used. Failures become :class:`UnknownHostKeyError` or paramiko's
``BadHostKeyException`` (trust), :class:`SFTPAuthenticationError`
(credentials; names the user and host, never a secret) or
:class:`SFTPConnectionError` (the network; temporary).
"""

from __future__ import annotations

import os

import paramiko

from omnistorage.backends.sftp._errors import (
    SFTPAuthenticationError,
    SFTPConnectionError,
    UnknownHostKeyError,
)
from omnistorage.backends.sftp._hostkeys import HostKeyPolicy, UnknownHostPolicy

__all__ = ["Connector"]


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
        timeout: float,
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
        self._timeout = timeout
        self._pinned: dict[str, paramiko.PKey] = {}

    def connect(self) -> paramiko.SSHClient:
        """A new, authenticated connection; the caller owns and closes it."""
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
