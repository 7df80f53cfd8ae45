"""Hashes of local files, computed once and cached by file identity.

Comparing a local file with an S3 object by MD5 needs the local file's MD5,
which costs a full read. :class:`LocalHashes` reads it once and remembers it
in a :class:`HashCache`: an SQLite file keyed by the file's identity
``(device, inode)`` and valid only while ``(size, mtime_ns, ctime_ns)`` are
unchanged. A file rewritten in place gets a new mtime and ctime, one
replaced by rename a new inode, one whose mtime was set back by a tool still
a new ctime (which no user call can set), so a stale hash is never served.

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
import stat as st
import threading
from typing import NamedTuple

from omnistorage import paths
from omnistorage._hashing import Hasher, new_hasher
from omnistorage.models import HashType
from omnistorage.sync._conventions import MultipartEtag, Side

__all__ = ["FileId", "HashCache", "LazyCache", "LocalHashes", "default_cache_path"]

_log = logging.getLogger("omnistorage.sync")
_CHUNK = 1 << 20
_COMMIT_EVERY = 500


class FileId(NamedTuple):
    """What identifies one version of a local file."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, info: os.stat_result) -> FileId:
        return cls(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


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
                "CREATE TABLE IF NOT EXISTS hashes (dev INTEGER, ino INTEGER, kind TEXT, "
                "size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, digest TEXT, "
                "PRIMARY KEY (dev, ino, kind)) WITHOUT ROWID"
            )
            self._db.commit()

    def get(self, ident: FileId, kind: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT size, mtime_ns, ctime_ns, digest FROM hashes "
                "WHERE dev = ? AND ino = ? AND kind = ?",
                (ident.dev, ident.ino, kind),
            ).fetchone()
        if row is None or tuple(row[:3]) != (ident.size, ident.mtime_ns, ident.ctime_ns):
            return None
        return str(row[3])

    def put(self, ident: FileId, kind: str, digest: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ident.dev, ident.ino, kind, ident.size, ident.mtime_ns, ident.ctime_ns, digest),
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
    """Hashes of the files of one local side, through the cache when there is one."""

    def __init__(self, side: Side, cache: LazyCache) -> None:
        assert side.local is not None
        self._side = side
        self._local = side.local
        self._root = side.store.root
        self._lazy = cache

    def _key(self, path: str) -> str:
        return paths.join(self._root, path) if self._root else path

    def identity(self, path: str) -> FileId | None:
        """The identity of the regular file at ``path`` now, or ``None``."""
        try:
            info = self._local.root_dir.lstat(self._key(path))
        except OSError:
            return None
        return FileId.of(info) if st.S_ISREG(info.st_mode) else None

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
        size = before.size if before is not None else -1
        hashers = {kind: _hasher(kind, size) for kind in missing}
        with self._side.store.read(path) as stream:
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
