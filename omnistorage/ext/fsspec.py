"""An fsspec filesystem over any omnistorage Store, so pandas, pyarrow, Dask and DuckDB
read and write through omnistorage with its guarantees.

>>> import fsspec
>>> from omnistorage import MemoryBackend, Store
>>> from omnistorage.ext.fsspec import OmniFileSystem
>>> fs = OmniFileSystem(Store(MemoryBackend()))
>>> fs.pipe_file("a/b.txt", b"hi")
>>> fs.cat_file("a/b.txt")
b'hi'

Ways to address stores:

- ``OmniFileSystem(store)``: paths are keys of that store (``"dir/file.csv"``,
  ``"omni://dir/file.csv"``).
- ``OmniFileSystem(registry=registry)``: ``omni://profile/path`` names a store
  profile of an :class:`omnistorage.Registry`.
- ``omni+s3://bucket/key`` (likewise ``omni+gs``, ``omni+az``, ``omni+sftp``,
  ``omni+file``, ``omni+memory``): the location opened with
  :func:`omnistorage.open_store` (``storage_options`` are backend options).
  These work by name, as ``fsspec.filesystem("s3")`` does:
  ``fsspec.filesystem("omni+s3", endpoint_url=…)`` gives a filesystem whose
  paths are ``bucket/key`` (or ``omni+s3://bucket/key``), so
  ``duckdb.register_filesystem(fsspec.filesystem("omni+s3"))`` serves
  ``read_csv('omni+s3://bucket/key.csv')``. Each protocol is its own class
  (:data:`BY_NAME`), and its instances are cached the way fsspec caches
  s3fs's: one per (storage options, thread, process), reused by
  ``fsspec.filesystem``, ``url_to_fs`` and ``open_files`` (so the clients and
  their connections are reused), dropped with ``clear_instance_cache()`` or
  ``skip_instance_cache=True``, and rebuilt after a fork. Such a filesystem
  pickles as its options (Dask's workers rebuild it); options given
  explicitly, credentials included, travel with it, as with s3fs, so prefer
  credentials from each worker's environment. Filesystems over live stores
  (``OmniFileSystem(store)``, a registry) are never cached, since two stores
  can look alike.

What it keeps: writes publish atomically when the file is closed and not at
all when the ``with`` block raises (mode ``"xb"`` is create-only:
``FileExistsError`` at close); reads are pinned to one version (seekable);
errors are the ``OSError`` family fsspec expects (``FileNotFoundError``,
``FileExistsError``, ``PermissionError``, ``ConnectionError``, else
``OSError`` with the omnistorage error as the cause). Folders exist as the
store says: empty ones only where the backend declares ``MKDIR``.
"""

from __future__ import annotations

import errno
import functools
import io
import sys
import threading
import uuid
import weakref
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import fsspec
from fsspec.spec import AbstractFileSystem

from omnistorage import paths
from omnistorage._io import AtomicWriter
from omnistorage.capabilities import Capability
from omnistorage.errors import (
    BucketNotFound,
    CapabilityNotSupported,
    InvalidPath,
    NotFound,
    StorageError,
)
from omnistorage.store import Store

__all__ = [
    "BY_NAME",
    "OmniAzFileSystem",
    "OmniAzureFileSystem",
    "OmniFileFileSystem",
    "OmniFileSystem",
    "OmniGcsFileSystem",
    "OmniGsFileSystem",
    "OmniMemoryFileSystem",
    "OmniS3FileSystem",
    "OmniSftpFileSystem",
    "register",
]

F = TypeVar("F", bound=Callable[..., Any])

_URL_PROTOCOLS = ("s3", "gs", "gcs", "az", "azure", "sftp", "file", "memory")


_CHANGES = frozenset({"write", "delete", "copy", "move", "mkdir", "rmdir", "delete_folder"})


def _os_errors(method: F) -> F:
    """Raise omnistorage errors as the OSError family fsspec callers catch."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except InvalidPath as exc:
            raise FileNotFoundError(errno.ENOENT, str(exc)) from exc
        except CapabilityNotSupported as exc:
            # A store that cannot change data (no WRITE/DELETE: read-only) refuses as a
            # read-only file system does: fsspec callers expect PermissionError there.
            if exc.op in _CHANGES:
                raise PermissionError(errno.EROFS, str(exc)) from exc
            raise OSError(errno.ENOTSUP, str(exc)) from exc
        except StorageError as exc:
            if isinstance(exc, OSError):
                raise
            raise OSError(errno.EIO, str(exc)) from exc

    return wrapper  # type: ignore[return-value]


class OmniFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """fsspec's filesystem interface over omnistorage Stores (see the module docstring)."""

    protocol: ClassVar[tuple[str, ...]] = ("omni", *(f"omni+{p}" for p in _URL_PROTOCOLS))
    root_marker = ""
    cachable = False
    fixed_scheme: ClassVar[str | None] = None
    """The URL scheme a by-name class (``omni+s3``) opens; ``None`` on this class."""

    def __init__(
        self,
        store: Store | None = None,
        *,
        registry: Any = None,
        scheme: str | None = None,
        **storage_options: Any,
    ) -> None:
        super().__init__(store=store, registry=registry, scheme=scheme, **storage_options)
        fixed = type(self).fixed_scheme
        if fixed is not None and (store is not None or registry is not None):
            raise TypeError(
                f"{self.protocol[0]} filesystems open stores by URL; use OmniFileSystem(store) "
                "or OmniFileSystem(registry=...) for live ones"
            )
        if fixed is not None and scheme not in (None, fixed):
            raise TypeError(f"{self.protocol[0]} filesystems open {fixed}:// URLs only")
        self._store = store
        self._registry = registry
        self._scheme = fixed or scheme
        self._options = {
            k: v
            for k, v in storage_options.items()
            if k not in ("skip_instance_cache", "use_listings_cache", "listings_expiry_time")
        }
        self._opened: dict[str, Store] = {}
        self._opening = threading.Lock()
        self._live_token = uuid.uuid4().hex
        _LIVE[self._live_token] = self

    # ------------------------------------------------------------ paths

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        text = str(path)
        _, sep, rest = text.partition("://")
        if sep and text.split("://", 1)[0] in cls.protocol:
            text = rest
        return text.strip("/")

    @classmethod
    def _get_kwargs_from_urls(cls, path: str) -> dict[str, Any]:
        if cls.fixed_scheme is not None:
            return {}  # the class says it: the options stay what fsspec caches by
        protocol = path.split("://", 1)[0] if "://" in path else ""
        if protocol.startswith("omni+"):
            return {"scheme": protocol[len("omni+") :]}
        return {}

    def _route(self, path: str) -> tuple[Store, str]:
        path = self._strip_protocol(path)
        if self._store is not None:
            return self._store, path
        first, _, rest = path.partition("/")
        if self._registry is not None:
            return self._registry.store(first), rest
        if self._scheme is not None:
            store = self._opened.get(first)
            if store is None:
                with self._opening:
                    store = self._opened.get(first)
                    if store is None:
                        store = self._open_location(first)
                        self._opened[first] = store
            return store, rest
        raise ValueError("OmniFileSystem needs a store, a registry or an omni+SCHEME:// URL")

    def _open_location(self, first: str) -> Store:
        from omnistorage.registry import open_store

        if not first:
            raise FileNotFoundError(
                errno.ENOENT, f"{self._scheme}:// paths start with a bucket or host name"
            )
        location = f"{self._scheme}://{first}" if self._scheme != "file" else f"/{first}"
        return open_store(location, **self._options)

    # ------------------------------------------------------------ queries

    @_os_errors
    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        store, key = self._route(path)
        name = self._strip_protocol(path)
        if key == "":
            return {"name": name, "size": 0, "type": "directory"}
        try:
            info = store.get_file_info(key)  # one request for a file (a HEAD on S3)
        except BucketNotFound:
            raise
        except NotFound:
            info = None
        if info is not None:
            out: dict[str, Any] = {"name": name, "size": info.size, "type": "file"}
            if info.modified is not None:
                out["mtime"] = info.modified.timestamp()
                out["LastModified"] = info.modified
            if info.etag:
                out["ETag"] = info.etag
            return out
        if store.is_folder(key):
            return {"name": name, "size": 0, "type": "directory"}
        raise FileNotFoundError(errno.ENOENT, f"no such file or folder: {name!r}")

    @_os_errors
    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        store, key = self._route(path)
        base = self._strip_protocol(path)
        if key and store.is_file(key):
            entries = [self.info(path)]
        else:
            if key and not store.is_folder(key):
                raise FileNotFoundError(errno.ENOENT, f"no such folder: {base!r}")
            prefix = base[: len(base) - len(key)] if key else (base + "/" if base else "")
            entries = []
            for folder in store.list_folders(key):
                entries.append({"name": prefix + folder, "size": 0, "type": "directory"})
            for info in store.list_files(key):
                entry: dict[str, Any] = {"name": prefix + info.path, "size": info.size}
                entry["type"] = "file"
                if info.modified is not None:
                    entry["mtime"] = info.modified.timestamp()
                entries.append(entry)
        entries.sort(key=lambda e: e["name"])
        return entries if detail else [e["name"] for e in entries]

    def exists(self, path: str, **kwargs: Any) -> bool:
        """Whether a file or folder is there; a missing bucket raises
        :class:`~omnistorage.BucketNotFound` (a ``FileNotFoundError``) instead of
        answering ``False``, as ``Store.exists`` does."""
        try:
            self.info(path)
        except BucketNotFound:
            raise
        except FileNotFoundError:
            return False
        return True

    def modified(self, path: str) -> Any:
        info = self.info(path)
        if "LastModified" not in info:
            raise FileNotFoundError(errno.ENOENT, f"no modification time for {path!r}")
        return info["LastModified"]

    # ------------------------------------------------------------ reads and writes

    @_os_errors
    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: Any = None,
        autocommit: bool = True,
        cache_options: Any = None,
        **kwargs: Any,
    ) -> Any:
        store, key = self._route(path)
        if mode == "rb":
            return store.read_seekable(key)
        if mode == "xb" and store.is_file(key):
            raise FileExistsError(errno.EEXIST, f"a file exists at {path!r}")
        if mode in ("wb", "xb"):
            # "xb" is also create-only when it publishes: a racing writer loses atomically.
            return _ExitAwareWriter(store.open_writer(key, overwrite=mode == "wb"))
        raise ValueError(f"mode {mode!r} is not supported (rb, wb, xb)")

    @_os_errors
    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        store, key = self._route(path)
        if start is None and end is None:
            return store.read_bytes(key)
        size = store.get_file_info(key).size
        if size is None:  # not known before it is produced (a materialized query)
            return store.read_bytes(key)[start:end]
        first = 0 if start is None else (start if start >= 0 else max(size + start, 0))
        last = size if end is None else (end if end >= 0 else max(size + end, 0))
        if last <= first:
            return b""
        return store.read_range(key, first, last - first)

    @_os_errors
    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        store, key = self._route(path)
        store.write(key, value, overwrite=mode != "create")

    # ------------------------------------------------------------ changes

    @_os_errors
    def rm_file(self, path: str) -> None:
        store, key = self._route(path)
        store.delete(key)

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    @_os_errors
    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        targets = self.expand_path(path, recursive=recursive, maxdepth=maxdepth)
        for target in sorted(targets, key=len, reverse=True):
            store, key = self._route(target)
            if key and store.is_file(key):
                store.delete(key)
            elif store.is_folder(key) and key:
                store.delete_folder(key, recursive=recursive, missing_ok=True)

    @_os_errors
    def rmdir(self, path: str) -> None:
        store, key = self._route(path)
        store.delete_folder(key)

    @_os_errors
    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        store, key = self._route(path)
        if not key:
            return
        if store.is_file(key):
            raise FileExistsError(errno.EEXIST, f"a file exists at {path!r}")
        if store.supports(Capability.MKDIR):
            if not create_parents and paths.parent(key) and not store.is_folder(paths.parent(key)):
                raise FileNotFoundError(errno.ENOENT, f"no parent folder for {path!r}")
            store.make_folder(key)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        if not exist_ok and self.isdir(path):
            raise FileExistsError(errno.EEXIST, f"folder exists: {path!r}")
        self.mkdir(path, create_parents=True)

    @_os_errors
    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        src_store, src = self._route(path1)
        dst_store, dst = self._route(path2)
        if not src_store.is_file(src) and src_store.is_folder(src):
            # fsspec's copy and mv pass the folders of a recursive expansion too (mv with
            # on_error="raise"): a folder is created, as fsspec's own filesystems do.
            if dst and dst_store.supports(Capability.MKDIR):
                dst_store.make_folder(dst)
            return
        if src_store is dst_store:
            src_store.copy(src, dst, overwrite=True)
            return
        with src_store.read(src) as reader, dst_store.open_writer(dst, overwrite=True) as out:
            while chunk := reader.read(1 << 20):
                out.write(chunk)

    def created(self, path: str) -> Any:
        return self.modified(path)

    def sign(self, path: str, expiration: int = 100, **kwargs: Any) -> str:
        raise NotImplementedError("omnistorage does not sign URLs")

    def _isfilestore(self) -> bool:
        return False

    def __reduce__(self) -> Any:
        if type(self).fixed_scheme is not None:
            return super().__reduce__()  # by name: rebuilt from its options anywhere
        # A filesystem over live stores pickles *by reference* within this process (Dask's
        # local schedulers tokenize and copy it); unpickling elsewhere raises a clear error.
        return (_live_filesystem, (self._live_token,))

    def __dask_tokenize__(self) -> Any:
        if type(self).fixed_scheme is not None:
            return super().__dask_tokenize__()
        return ("omnistorage.OmniFileSystem", self._live_token)


class _ExitAwareWriter(io.BufferedIOBase):
    """A Store writer as fsspec hands it out.

    fsspec's ``OpenFile`` and pandas close the files they opened in their own
    ``__exit__``, even when the block raised, so a plain writer would publish a
    half-written object there. This one remembers which exception (if any) was
    being handled when it was opened; if ``close()`` runs while a *different*
    exception is propagating, it aborts: nothing is published and the
    exception goes on. ``abort()`` discards explicitly.
    """

    def __init__(self, inner: AtomicWriter) -> None:
        super().__init__()
        self._inner = inner
        self._exc_at_open = sys.exc_info()[1]

    def writable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._inner.closed

    def write(self, data: Any) -> int:
        return self._inner.write(data)

    def flush(self) -> None:
        if not self._inner.closed:
            self._inner.flush()

    def tell(self) -> int:
        return self._inner.tell()

    def close(self) -> None:
        if self._inner.closed:
            return
        current = sys.exc_info()[1]
        if current is not None and current is not self._exc_at_open:
            self._inner.abort()
            return
        self._inner.close()

    def abort(self) -> None:
        self._inner.abort()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self._inner.abort()
        else:
            self.close()

    def __del__(self) -> None:
        inner = getattr(self, "_inner", None)
        if inner is not None and not inner.closed:
            inner.__del__()  # warns and aborts: never publishes


_LIVE: weakref.WeakValueDictionary[str, OmniFileSystem] = weakref.WeakValueDictionary()


def _live_filesystem(token: str) -> OmniFileSystem:
    fs = _LIVE.get(token)
    if fs is None:
        raise TypeError(
            "an OmniFileSystem over live stores can only be unpickled in the process that "
            "made it; use omni+SCHEME:// URLs or a Registry config to reach stores elsewhere"
        )
    return fs


class _ByName(OmniFileSystem):
    """An ``omni+SCHEME`` filesystem: opened by name, cached as fsspec caches (see the
    module docstring)."""

    cachable = True


class OmniS3FileSystem(_ByName):
    """``omni+s3://bucket/key``."""

    protocol = ("omni+s3",)
    fixed_scheme = "s3"


class OmniGsFileSystem(_ByName):
    """``omni+gs://bucket/key``."""

    protocol = ("omni+gs",)
    fixed_scheme = "gs"


class OmniGcsFileSystem(_ByName):
    """``omni+gcs://bucket/key``."""

    protocol = ("omni+gcs",)
    fixed_scheme = "gcs"


class OmniAzFileSystem(_ByName):
    """``omni+az://container/key``."""

    protocol = ("omni+az",)
    fixed_scheme = "az"


class OmniAzureFileSystem(_ByName):
    """``omni+azure://container/key``."""

    protocol = ("omni+azure",)
    fixed_scheme = "azure"


class OmniSftpFileSystem(_ByName):
    """``omni+sftp://host/path``."""

    protocol = ("omni+sftp",)
    fixed_scheme = "sftp"


class OmniFileFileSystem(_ByName):
    """``omni+file:///abs/path``."""

    protocol = ("omni+file",)
    fixed_scheme = "file"


class OmniMemoryFileSystem(_ByName):
    """``omni+memory://space/key``."""

    protocol = ("omni+memory",)
    fixed_scheme = "memory"


BY_NAME: dict[str, type[OmniFileSystem]] = {
    cls.protocol[0]: cls
    for cls in (
        OmniS3FileSystem,
        OmniGsFileSystem,
        OmniGcsFileSystem,
        OmniAzFileSystem,
        OmniAzureFileSystem,
        OmniSftpFileSystem,
        OmniFileFileSystem,
        OmniMemoryFileSystem,
    )
}
"""The class of each ``omni+SCHEME`` protocol."""
assert {f"omni+{scheme}" for scheme in _URL_PROTOCOLS} == set(BY_NAME)


def register(clobber: bool = True) -> None:
    """Register ``omni`` and each ``omni+SCHEME`` class with fsspec (also done on import)."""
    fsspec.register_implementation("omni", OmniFileSystem, clobber=clobber)
    for protocol, cls in BY_NAME.items():
        fsspec.register_implementation(protocol, cls, clobber=clobber)


register()
