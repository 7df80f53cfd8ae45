"""ReadCacheLayer: a local-disk cache of objects, keyed by version, bounded, LRU.

Every read first asks the inner backend for the object's current version
(one ``stat``: its ETag or generation, else size and modification time). A
cached copy of exactly that version is served from disk; otherwise the
object is streamed once into the cache (through a pin where the backend has
``PINNED_READ``, so the copy is one version) and then served. An overwrite
gives a new version, so a stale copy is never served; it ages out.

- Bounded: after each fill, least recently used entries are removed until
  the cache holds at most ``max_bytes``. A read touches its entry.
- Safe for concurrent processes sharing ``cache_dir``: a fill writes a
  private temp file and renames it into place (atomic); an entry evicted
  while another process reads it stays readable through the open handle.
- Objects larger than ``max_object_bytes`` bypass the cache.
- Writes, deletes and listings pass straight through.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import threading
from typing import BinaryIO

from omnistorage._io import LimitedReader
from omnistorage.capabilities import Capability, Features
from omnistorage.driver import Backend, PinnedReader
from omnistorage.ext._layer import Layer

__all__ = ["ReadCacheLayer"]

_FILL_PREFIX = ".fill-"


class ReadCacheLayer(Layer):
    """Caches reads of ``inner`` in ``cache_dir`` (see the module docstring)."""

    def __init__(
        self,
        inner: Backend,
        cache_dir: str | os.PathLike[str],
        *,
        max_bytes: int = 1 << 30,
        max_object_bytes: int | None = None,
    ) -> None:
        super().__init__(inner)
        self._dir = os.fspath(cache_dir)
        os.makedirs(self._dir, exist_ok=True)
        self._max = max_bytes
        self._max_object = max_bytes if max_object_bytes is None else max_object_bytes
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"ReadCacheLayer({self.inner!r}, {self._dir!r})"

    def features(self) -> Features:
        # A read served from the cache carries no info: READ_INFO is not declared.
        inner = super().features()
        return inner.with_capabilities(inner.capabilities - {Capability.READ_INFO})

    # ------------------------------------------------------------ reads

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        handle = self._open_entry(key)
        if handle is None:
            return self.inner.new_reader(key, offset=offset, length=length)
        if offset:
            handle.seek(offset)
        if length is not None:
            return LimitedReader(handle, length)  # type: ignore[return-value]
        return handle

    def open_pinned(self, key: str) -> PinnedReader:
        handle = self._open_entry(key)
        if handle is None:
            return self._extended().open_pinned(key)
        return _FilePin(handle)

    def _open_entry(self, key: str) -> io.FileIO | None:
        """An open handle on the cached current version of ``key`` (filled if needed), or
        ``None`` when the object is not cached (no metadata, or too large). The handle
        stays readable even if another process evicts the entry right after."""
        features = self.features().capabilities
        if Capability.METADATA not in features:
            return None
        info = self._extended().stat(key)
        if info.is_dir or info.size is None or info.size > self._max_object:
            return None  # folders, objects of unknown size (materialized queries), too large
        version = info.etag or f"{info.size}-{info.modified.timestamp() if info.modified else ''}"
        name = hashlib.sha256(
            f"{self.inner.native_path(key)}\0{version}".encode("utf-8", "surrogatepass")
        ).hexdigest()
        path = os.path.join(self._dir, name)
        try:
            handle = io.FileIO(path, "rb")
        except FileNotFoundError:
            self.misses += 1
            handle = self._fill(key, path, info.size, version if info.etag else None)
            self._evict()
        else:
            self.hits += 1
            with contextlib.suppress(FileNotFoundError):
                os.utime(path)  # the LRU touch
        return handle

    def _fill(self, key: str, path: str, size: int, etag: str | None) -> io.FileIO:
        fd, temp = tempfile.mkstemp(prefix=_FILL_PREFIX, dir=self._dir)
        try:
            with os.fdopen(fd, "wb") as out:
                if Capability.PINNED_READ in self.features().capabilities:
                    pinned = self._extended().open_pinned(key)
                    try:
                        if etag is not None and pinned.version not in (None, etag):
                            raise _Changed(key)
                        offset = 0
                        while offset < pinned.size:
                            chunk = pinned.read_range(offset, 8 << 20)
                            if not chunk:
                                break
                            out.write(chunk)
                            offset += len(chunk)
                    finally:
                        pinned.close()
                else:
                    with self.inner.new_reader(key) as source:
                        while chunk := source.read(8 << 20):
                            out.write(chunk)
            handle = io.FileIO(temp, "rb")  # opened before it is visible: eviction-proof
            os.replace(temp, path)
            return handle
        except _Changed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            return self._fill(key, path, size, None)  # the object moved on: cache what is there
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise

    def _evict(self) -> None:
        with self._lock:
            entries = []
            total = 0
            with os.scandir(self._dir) as scan:
                for item in scan:
                    if item.name.startswith(_FILL_PREFIX) or not item.is_file():
                        continue
                    try:
                        stat = item.stat()
                    except FileNotFoundError:
                        continue
                    entries.append((stat.st_mtime_ns, stat.st_size, item.path))
                    total += stat.st_size
            entries.sort()
            for _, size, path in entries:
                if total <= self._max:
                    break
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                total -= size

    def cache_size(self) -> int:
        """Bytes currently held in the cache folder."""
        return sum(
            item.stat().st_size
            for item in os.scandir(self._dir)
            if item.is_file() and not item.name.startswith(_FILL_PREFIX)
        )


class _Changed(Exception):
    pass


class _FilePin(PinnedReader):
    """A cached version: an immutable file, pinned by its open handle."""

    def __init__(self, handle: io.FileIO) -> None:
        self._file = handle
        self.size = os.fstat(handle.fileno()).st_size

    def read_range(self, offset: int, length: int) -> bytes:
        return os.pread(self._file.fileno(), length, offset)

    def close(self) -> None:
        self._file.close()
