"""Hashes of files a side reads locally, computed once and cached by file version.

Comparing a local file with an S3 object by MD5 needs the local file's MD5,
which costs a full read. :class:`LocalHashes` serves every side whose backend
declares ``Features.reads_local`` (reading costs no network round trip): it
reads a file once and remembers the digest in a :class:`HashCache`, an SQLite
file keyed by where the file is (its store's location and path) and valid
only while the backend's strong version token (``stat``'s ``etag`` where
``Features.strong_version`` is declared) is unchanged. On local files that
token is device, inode, mtime_ns, ctime_ns and size: a file rewritten in
place gets a new mtime and ctime, one replaced by rename a new inode, one
whose mtime was set back by a tool still a new ctime (which no user call can
set), so a stale hash is never served. A backend without a strong version is
hashed every time, never cached. No backend name decides any of this: a
third-party local backend that declares the same facts is treated the same.

Where it lives: ``$XDG_CACHE_HOME/omnistorage/sync-hashes.sqlite3``
(``~/.cache/…`` by default), never inside a synced tree; ``hash_cache=`` takes
another path, or ``False`` to keep nothing on disk. Several processes may
share it (WAL mode, a busy timeout). A cache that cannot be opened or written
is dropped with a warning: hashes are then computed every run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from typing import NamedTuple

from omnistorage._hashing import Hasher, new_hasher
from omnistorage.errors import NotFound
from omnistorage.models import HashType
from omnistorage.sync._conventions import MultipartEtag, Side
from omnistorage.sync._entry import to_us

__all__ = ["FileId", "HashCache", "LazyCache", "LocalHashes", "default_cache_path"]

_log = logging.getLogger("omnistorage.sync")
_CHUNK = 1 << 20
_COMMIT_EVERY = 500


class FileId(NamedTuple):
    """One version of one file: where it is, the backend's strong version token (``None``
    when it has none: never cached), and the size and mtime the same ``stat`` gave."""

    scope: str
    token: str | None
    size: int | None
    mtime_us: int | None


def default_cache_path() -> str:
    """``$XDG_CACHE_HOME/omnistorage/sync-hashes.sqlite3`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "omnistorage", "sync-hashes.sqlite3")


class HashCache:
    """Digests by :class:`FileId` in an SQLite file (thread-safe)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        folder = os.path.dirname(self.path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
        self._lock = threading.Lock()
        self._pending = 0
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS file_versions (scope TEXT, kind TEXT, "
                "token TEXT, digest TEXT, PRIMARY KEY (scope, kind)) WITHOUT ROWID"
            )
            self._db.commit()

    def get(self, ident: FileId, kind: str) -> str | None:
        if ident.token is None:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT token, digest FROM file_versions WHERE scope = ? AND kind = ?",
                (ident.scope, kind),
            ).fetchone()
        if row is None or row[0] != ident.token:
            return None
        return str(row[1])

    def put(self, ident: FileId, kind: str, digest: str) -> None:
        if ident.token is None:
            return
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO file_versions VALUES (?, ?, ?, ?)",
                (ident.scope, kind, ident.token, digest),
            )
            self._pending += 1
            if self._pending >= _COMMIT_EVERY:
                self._db.commit()
                self._pending = 0

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._db.commit()
            self._db.close()


class LazyCache:
    """The cache the ``hash_cache`` option asks for, opened on first use (a run that never
    needs a local hash creates no file), shared by both sides of a run."""

    def __init__(self, setting: bool | str | os.PathLike[str]) -> None:
        self._setting = setting
        self._cache: HashCache | None = None
        self._tried = setting is False
        self._lock = threading.Lock()

    def get(self) -> HashCache | None:
        """The open cache, or ``None`` (off, or unusable: a warning is logged once)."""
        if self._tried:
            return self._cache
        with self._lock:
            if not self._tried:
                setting = self._setting
                path = default_cache_path() if isinstance(setting, bool) else os.fspath(setting)
                try:
                    self._cache = HashCache(path)
                except (OSError, sqlite3.Error) as exc:
                    _log.warning("hash cache %r unusable, hashing without it: %s", path, exc)
                self._tried = True
        return self._cache

    def drop(self, exc: Exception) -> None:
        """Stop using a cache that failed (``sqlite3`` errors), with a warning."""
        _log.warning("hash cache error, continuing without it: %s", exc)
        with self._lock:
            self._cache = None
            self._tried = True

    def close(self) -> None:
        with self._lock:
            if self._cache is not None:
                self._cache.close()
                self._cache = None
            self._tried = True


def _hasher(kind: str, size: int) -> Hasher:
    if MultipartEtag.handles(kind):
        return MultipartEtag(kind, size)
    return new_hasher(HashType(kind))


class LocalHashes:
    """Hashes of the files of one side that reads locally (``Features.reads_local``),
    through the cache when there is one."""

    def __init__(self, side: Side, cache: LazyCache) -> None:
        self._side = side
        self._store = side.store
        self._strong = side.store.features.strong_version
        locations = side.store.locations
        self._scope = "\n".join(str(place) for place in locations) + "\n"
        self._lazy = cache

    def identity(self, path: str) -> FileId | None:
        """The version of the file at ``path`` now (one ``stat``), or ``None`` when there is
        no file."""
        try:
            info = self._store.get_file_info(path)
        except NotFound:
            return None
        modified = info.modified
        return FileId(
            self._scope + path,
            info.etag if self._strong else None,
            info.size,
            None if modified is None else to_us(modified),
        )

    def cached(self, path: str, kind: str) -> str | None:
        """The cached digest of the file as it is now, without reading it."""
        cache = self._lazy.get()
        if cache is None:
            return None
        ident = self.identity(path)
        if ident is None:
            return None
        try:
            return cache.get(ident, kind)
        except sqlite3.Error as exc:
            self._lazy.drop(exc)
            return None

    def compute(self, path: str, kind: str) -> str:
        """The digest of the file's content (cached, or read through the Store).

        Raises the Store's error when the file cannot be read.
        """
        return self.compute_all(path, (kind,))[kind]

    def compute_all(self, path: str, kinds: tuple[str, ...]) -> dict[str, str]:
        """Digests of ``kinds`` (hash types, or a multipart ETag kind), the missing ones
        computed in one read of the file; each cached for this version of the file."""
        before = self.identity(path)
        found: dict[str, str] = {}
        cache = self._lazy.get()
        if before is not None and cache is not None:
            for kind in kinds:
                try:
                    digest = cache.get(before, kind)
                except sqlite3.Error as exc:
                    self._lazy.drop(exc)
                    break
                if digest is not None:
                    found[kind] = digest
        missing = [kind for kind in kinds if kind not in found]
        if not missing:
            return found
        size = before.size if before is not None and before.size is not None else -1
        hashers = {kind: _hasher(kind, size) for kind in missing}
        with self._store.read(path) as stream:
            while chunk := stream.read(_CHUNK):
                for hasher in hashers.values():
                    hasher.update(chunk)
        same = before is not None and self.identity(path) == before
        for kind, hasher in hashers.items():
            found[kind] = hasher.hexdigest()
            if same:
                self.remember(before, kind, found[kind])
        return found

    def remember(self, ident: FileId | None, kind: str, digest: str) -> None:
        """Record ``digest`` for the file version ``ident``."""
        cache = self._lazy.get()
        if ident is None or cache is None:
            return
        try:
            cache.put(ident, kind, digest)
        except sqlite3.Error as exc:
            self._lazy.drop(exc)
