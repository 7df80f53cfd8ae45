"""Dataset stores for the job tests, each rebuildable in another process from a spec.

A spec is ``(kind, location, root)``; :func:`open_spec` builds a fresh store of that
configuration (what a task on another machine does). ``memory`` stays in one process.
"""

from __future__ import annotations

import uuid
from typing import Any

from omnistorage import Store
from omnistorage.backends.local import LocalBackend
from omnistorage.backends.memory import MemoryBackend
from omnistorage.backends.sql import SQLBlobBackend
from tests.support import remote
from tests.support.servers import server_env

Spec = tuple[str, str, str]

SERVER_KINDS = ("s3", "azure", "sftp")
"""The server backends that declare DEFERRED_PUBLISH and run the job tests."""


def new_spec(kind: str, tmp: str) -> Spec:
    root = f"t-{uuid.uuid4().hex}"
    if kind == "memory":
        return (kind, f"jobs-{uuid.uuid4().hex}", "ds")
    if kind == "local":
        return (kind, tmp, "ds")
    if kind == "sqlite":
        return (kind, f"{tmp}/objects.db", "ds")
    if kind == "sftp":  # the backend's own root: every process must name the same one
        return (kind, root, "ds")
    return (kind, "", root)


def open_spec(spec: Spec, **options: Any) -> Store:
    kind, location, root = spec
    if kind == "memory":
        return Store(MemoryBackend(name=location), root)
    if kind == "local":
        return Store(LocalBackend(location), root)
    if kind == "sqlite":
        return Store(SQLBlobBackend(f"sqlite:///{location}"), root)
    if kind == "sftp":
        base = server_env("OMNI_TEST_SFTP_ROOT")["OMNI_TEST_SFTP_ROOT"]
        options.setdefault("root", f"{base}/{location}")
    maker = getattr(remote, f"{kind}_store")
    store: Store = maker(**options)
    return Store(store.unwrap(), root)
