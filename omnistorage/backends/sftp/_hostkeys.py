"""Host-key verification: which known_hosts files, and what to do with an unknown host.

A host whose key is in known_hosts is accepted; one whose key *changed* is
refused by paramiko itself (``BadHostKeyException``). For an unknown host,
:class:`UnknownHostPolicy` applies the backend's ``host_key_policy``:
``"reject"`` raises :class:`UnknownHostKeyError` naming the host and the files
consulted; ``"auto_add"`` and ``"warn"`` (which also logs) trust it and pin
its key for the life of the backend. known_hosts is never written.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from typing import Literal

import paramiko

from omnistorage.backends.sftp._errors import UnknownHostKeyError

__all__ = ["POLICIES", "HostKeyPolicy", "UnknownHostPolicy", "known_hosts_files"]

log = logging.getLogger("omnistorage.backends.sftp")

HostKeyPolicy = Literal["reject", "auto_add", "warn"]

POLICIES = ("reject", "auto_add", "warn")


def known_hosts_files(known_hosts: str | None) -> tuple[str, ...]:
    """The files to verify host keys against: ``known_hosts``, or ssh's defaults."""
    if known_hosts is not None:
        return (os.path.expanduser(known_hosts),)
    return (
        os.path.expanduser("~/.ssh/known_hosts"),
        "/etc/ssh/ssh_known_hosts",
    )


class UnknownHostPolicy(paramiko.MissingHostKeyPolicy):
    """What to do with a host that is not in known_hosts (see ``host_key_policy``).

    A trusted key is added to ``pinned`` (shared with the caller, who adds the
    pinned keys to every later connection).
    """

    def __init__(
        self,
        policy: HostKeyPolicy,
        *,
        known_hosts_files: tuple[str, ...],
        host: str,
        port: int,
        pinned: dict[str, paramiko.PKey],
    ) -> None:
        self._policy = policy
        self._known_hosts_files = known_hosts_files
        self._host = host
        self._port = port
        self._pinned = pinned

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        described = f"{key.get_name()} key SHA256:{_fingerprint(key)}"
        if self._policy == "reject":
            files = ", ".join(
                f"{path}{'' if os.path.exists(path) else ' (missing)'}"
                for path in self._known_hosts_files
            )
            raise UnknownHostKeyError(
                f"unknown SFTP host {hostname}: its {described} is not in known_hosts "
                f"({files}); add it (ssh-keyscan -p {self._port} {self._host}) "
                "or pass host_key_policy='auto_add' to trust it on first use"
            )
        if self._policy == "warn":
            log.warning("trusting unknown SFTP host %s with %s", hostname, described)
        self._pinned[hostname] = key
        client.get_host_keys().add(hostname, key.get_name(), key)


def _fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return base64.b64encode(digest).decode("ascii").rstrip("=")
