"""ReadCacheLayer: a local-disk cache of objects, keyed by version, bounded, LRU.

It caches only what it can prove current (DESIGN §5b: versions are strong or
absent; size + mtime is not a version):

- **Only under a strong version.** The inner backend must declare
  ``Features.strong_version`` (``stat``'s ``etag`` changes with every write:
  an ETag, a generation, local files' device, inode, mtime_ns, ctime_ns and
  size, SQL's upload id; and a pinned reader's ``version`` is the same token),
  ``METADATA`` and ``PINNED_READ``. Memory, local, S3, GCS, Azure and the SQL
  chunked layout do. Over any other backend (SFTP, whose versions are size and
  whole-second mtimes; HTTP, whose ETags a server makes as it likes; the SQL
  single-row layout and query results) every call passes straight through and
  nothing is cached.
- **Keyed by the token.** Every read first asks the inner backend for the
  object's token (one ``stat``). A cached copy of exactly that version is
  served from disk; otherwise the object is read once into the cache through
  a pin, whose ``version`` is checked against the token: when the object
  changed in between, the copy is filed under the version the pin holds (the
  bytes it holds), never under the token ``stat`` saw. A copy must have the
  pinned size, or it is not kept. An overwrite gives a new token, so a stale
  copy is never served, ``read_range`` included; it ages out.
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
from omnistorage.errors import ObjectChanged
from omnistorage.ext._layer import Layer

__all__ = ["ReadCacheLayer"]

_FILL_PREFIX = ".fill-"


class ReadCacheLayer(Layer):
    """Caches reads of ``inner`` in ``cache_dir`` (see the module docstring).

    ``caching`` says whether it does: ``False`` over a backend without a strong
    version, where every read passes through."""

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
        features = self.features()
        self.caching = (
            features.strong_version
            and {
                Capability.METADATA,
                Capability.PINNED_READ,
            }
            <= features.capabilities
        )

    def __repr__(self) -> str:
        return f"ReadCacheLayer({self.inner!r}, {self._dir!r})"

    def features(self) -> Features:
        # A read served from the cache carries no info: READ_INFO is not declared.
        inner = super().features()
        return inner.with_capabilities(inner.capabilities - {Capability.READ_INFO})

    # ------------------------------------------------------------ reads

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        entry = self._open_entry(key)
        if entry is None:
            return self.inner.new_reader(key, offset=offset, length=length)
        handle = entry[0]
        if offset:
            handle.seek(offset)
        if length is not None:
            return LimitedReader(handle, length)  # type: ignore[return-value]
        return handle

    def open_pinned(self, key: str) -> PinnedReader:
        entry = self._open_entry(key)
        if entry is None:
            return self.inner.open_pinned(key)
        return _FilePin(*entry)

    def _entry(self, key: str, version: str) -> str:
        name = hashlib.sha256(
            f"{self.inner.native_path(key)}\0{version}".encode("utf-8", "surrogatepass")
        ).hexdigest()
        return os.path.join(self._dir, name)

    def _open_entry(self, key: str) -> tuple[io.FileIO, str] | None:
        """An open handle on the cached current version of ``key`` (filled if needed) and
        that version's token, or ``None`` when it is not cached (no strong version, no
        token, too large). The handle stays readable even if another process evicts the
        entry right after."""
        if not self.caching:
            return None
        info = self.inner.stat(key)
        if info.is_dir or info.size is None or info.size > self._max_object or not info.etag:
            return None  # folders, objects of unknown size (materialized queries), too large
        try:
            handle = io.FileIO(self._entry(key, info.etag), "rb")
        except FileNotFoundError:
            self.misses += 1
            filled = self._fill(key, info.etag)
            self._evict()
            return filled
        self.hits += 1
        with contextlib.suppress(OSError):
            os.utime(handle.fileno())  # the LRU touch
        return handle, info.etag

    def _fill(self, key: str, token: str) -> tuple[io.FileIO, str] | None:
        """Read the version there now into the cache, filed under the version its pin
        holds (``token`` unless the object changed since ``stat``)."""
        pinned = self.inner.open_pinned(key)
        try:
            version = pinned.version
            if not version or pinned.size > self._max_object:
                return None  # a pin that names no version cannot be filed under one
            path = self._entry(key, version)
            with contextlib.suppress(FileNotFoundError):
                return io.FileIO(path, "rb"), version  # that version is cached already
            return self._copy(pinned, path), version
        finally:
            pinned.close()

    def _copy(self, pinned: PinnedReader, path: str) -> io.FileIO:
        fd, temp = tempfile.mkstemp(prefix=_FILL_PREFIX, dir=self._dir)
        try:
            with os.fdopen(fd, "wb") as out:
                offset = 0
                while offset < pinned.size:
                    chunk = pinned.read_range(offset, 8 << 20)
                    if not chunk:
                        break
                    out.write(chunk)
                    offset += len(chunk)
            if offset != pinned.size:
                raise ObjectChanged(f"{path}: read {offset} of the pinned {pinned.size} bytes")
            handle = io.FileIO(temp, "rb")  # opened before it is visible: eviction-proof
            os.replace(temp, path)
            return handle
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


class _FilePin(PinnedReader):
    """A cached version: an immutable file, pinned by its open handle; ``version`` is the
    inner backend's token for it."""

    def __init__(self, handle: io.FileIO, version: str) -> None:
        self._file = handle
        self.size = os.fstat(handle.fileno()).st_size
        self.version = version

    def read_range(self, offset: int, length: int) -> bytes:
        return os.pread(self._file.fileno(), length, offset)

    def close(self) -> None:
        self._file.close()
