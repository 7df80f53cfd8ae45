"""The private nginx ``scripts/servers.sh`` starts, for the HTTP backend's tests.

nginx serves one document root (``OMNI_TEST_HTTP_ROOT``, written by the tests
directly on disk) under several locations:

- ``/files/``: plain files, no directory index (a folder URL answers 403);
- ``/listing/``: plus nginx's JSON directory index (``autoindex_format json``);
- ``/basic/``: the listing behind HTTP basic auth (``OMNI_TEST_HTTP_USER`` /
  ``OMNI_TEST_HTTP_PASSWORD``);
- ``/bearer/``: the listing behind ``Authorization: Bearer OMNI_TEST_HTTP_TOKEN``;

on ``OMNI_TEST_HTTP_URL`` and, with TLS (a self-signed certificate in
``OMNI_TEST_HTTP_CA_FILE``), on ``OMNI_TEST_HTTPS_URL``. nginx runs as an
unprivileged user, so a file the tests make unreadable answers 403.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import server_env

__all__ = ["NginxTree", "nginx_env", "nginx_tree"]

_NAMES = (
    "OMNI_TEST_HTTP_URL",
    "OMNI_TEST_HTTPS_URL",
    "OMNI_TEST_HTTP_ROOT",
    "OMNI_TEST_HTTP_CA_FILE",
    "OMNI_TEST_HTTP_USER",
    "OMNI_TEST_HTTP_PASSWORD",
    "OMNI_TEST_HTTP_TOKEN",
)


def nginx_env() -> dict[str, str]:
    """The nginx settings (fail in CI, skip elsewhere, when the server is not set up)."""
    return server_env(*_NAMES)


class NginxTree:
    """A folder of unique name under the document root, and its URLs."""

    def __init__(self, env: Mapping[str, str], name: str) -> None:
        self.env = env
        self.name = name
        self.path = Path(env["OMNI_TEST_HTTP_ROOT"]) / name

    def url(self, location: str = "files", *, tls: bool = False) -> str:
        """The folder's URL under ``location`` (``files``, ``listing``, ``basic``, ``bearer``)."""
        server = self.env["OMNI_TEST_HTTPS_URL" if tls else "OMNI_TEST_HTTP_URL"]
        return f"{server}/{location}/{self.name}/"

    def file(self, key: str) -> Path:
        return self.path.joinpath(*key.split("/"))

    def write(self, key: str, data: bytes) -> Path:
        """Write ``data`` at ``key`` (readable by nginx), folders included."""
        target = self.file(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(0o644)
        return target

    def replace(self, key: str, data: bytes, *, mtime_shift: float = 10.0) -> None:
        """Atomically replace ``key`` with ``data`` (a new file renamed over the old one),
        dated ``mtime_shift`` seconds later so its ETag (mtime and size) differs."""
        target = self.file(key)
        stat = target.stat()
        fresh = target.with_name(f".tmp-{uuid.uuid4().hex}")
        fresh.write_bytes(data)
        fresh.chmod(0o644)
        os.utime(fresh, (stat.st_atime, stat.st_mtime + mtime_shift))
        os.replace(fresh, target)


@contextmanager
def nginx_tree(files: Mapping[str, bytes] = {}) -> Iterator[NginxTree]:
    """A fresh folder under the document root holding ``files``; removed afterwards."""
    env = nginx_env()
    tree = NginxTree(env, f"t-{uuid.uuid4().hex}")
    tree.path.mkdir(mode=0o755)
    tree.path.chmod(0o755)
    try:
        for key, data in files.items():
            tree.write(key, data)
        for folder, _, _ in os.walk(tree.path):
            Path(folder).chmod(0o755)
        yield tree
    finally:
        shutil.rmtree(tree.path, ignore_errors=True)
