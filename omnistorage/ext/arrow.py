"""A pyarrow filesystem over any omnistorage Store.

>>> import pyarrow.parquet as pq
>>> from omnistorage.ext.arrow import arrow_filesystem
>>> fs = arrow_filesystem(store)                       # doctest: +SKIP
>>> pq.write_table(table, "sales/2026.parquet", filesystem=fs)   # doctest: +SKIP

``arrow_filesystem(store)`` returns a ``pyarrow.fs.PyFileSystem`` driven by
:class:`StoreHandler`, so ``pq.write_table``, ``pq.read_table`` and
``pyarrow.dataset.dataset`` read and write any Store. Paths are keys of the
store. Input files are seekable readers pinned to one version; output
streams publish atomically when pyarrow closes them, and not when the write
fails (the stream notices the exception that is propagating, as the fsspec
adapter does). Appending is not supported (``NotImplementedError``).

The store's root is refused where pyarrow's own filesystems refuse it:
``delete_dir_contents`` of ``""``, ``"/"`` (or any path naming the root)
raises ``ValueError`` (``pyarrow.lib.ArrowInvalid`` says the same for its
filesystems), and ``delete_dir`` of the root raises ``OSError``; emptying the
whole store takes the explicit ``delete_root_dir_contents`` (pyarrow's
``delete_dir_contents(path, accept_root_dir=True)``).
"""

from __future__ import annotations

import io
import sys
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from omnistorage import paths
from omnistorage._io import AtomicWriter
from omnistorage.capabilities import Capability
from omnistorage.errors import InvalidPath, NotFound
from omnistorage.store import Store

__all__ = ["StoreHandler", "arrow_filesystem"]


def arrow_filesystem(store: Store) -> pafs.PyFileSystem:
    """A ``pyarrow.fs.FileSystem`` whose paths are keys of ``store``."""
    return pafs.PyFileSystem(StoreHandler(store))


def _key(path: str) -> str:
    return path.strip("/")


class StoreHandler(pafs.FileSystemHandler):  # type: ignore[misc]
    """``pyarrow.fs.FileSystemHandler`` over a Store (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoreHandler) and other._store is self._store

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return id(self._store)

    def get_type_name(self) -> str:
        return "omnistorage"

    def normalize_path(self, path: str) -> str:
        return _key(path)

    # ------------------------------------------------------------ info

    def _info(self, path: str) -> pafs.FileInfo:
        key = _key(path)
        store = self._store
        if key == "":
            return pafs.FileInfo(path, pafs.FileType.Directory)
        try:
            paths.validate_key(key)
        except InvalidPath:
            return pafs.FileInfo(path, pafs.FileType.NotFound)
        if store.is_file(key):
            info = store.get_file_info(key)
            return pafs.FileInfo(path, pafs.FileType.File, size=info.size, mtime=info.modified)
        if store.is_folder(key):
            return pafs.FileInfo(path, pafs.FileType.Directory)
        return pafs.FileInfo(path, pafs.FileType.NotFound)

    def get_file_info(self, paths_: list[str]) -> list[pafs.FileInfo]:
        return [self._info(path) for path in paths_]

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        base = _key(selector.base_dir)
        store = self._store
        if base and not store.is_folder(base):
            if selector.allow_not_found:
                return []
            raise FileNotFoundError(f"no such folder: {selector.base_dir!r}")
        out: list[pafs.FileInfo] = []
        folders = [base]
        while folders:
            folder = folders.pop()
            for sub in store.list_folders(folder):
                out.append(pafs.FileInfo(sub, pafs.FileType.Directory))
                if selector.recursive:
                    folders.append(sub)
            for info in store.list_files(folder):
                out.append(
                    pafs.FileInfo(
                        info.path, pafs.FileType.File, size=info.size, mtime=info.modified
                    )
                )
        return out

    # ------------------------------------------------------------ folders

    def create_dir(self, path: str, recursive: bool) -> None:
        key = _key(path)
        if key and self._store.supports(Capability.MKDIR):
            self._store.make_folder(key)

    def delete_dir(self, path: str) -> None:
        key = _key(path)
        if not key:
            raise OSError(f"delete_dir called on the root {path!r}: the store's root stays")
        self._store.delete_folder(key, recursive=True)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        key = _key(path)
        if not key:
            raise ValueError(
                f"delete_dir_contents called on the root {path!r}; to empty the whole store "
                "call delete_root_dir_contents (delete_dir_contents(path, "
                "accept_root_dir=True))"
            )
        store = self._store
        if not store.is_folder(key):
            if missing_dir_ok:
                return
            raise FileNotFoundError(f"no such folder: {path!r}")
        self._empty(key)

    def delete_root_dir_contents(self) -> None:
        self._empty("")

    def _empty(self, key: str) -> None:
        store = self._store
        for sub in list(store.list_folders(key)):
            store.delete_folder(sub, recursive=True)
        for info in list(store.list_files(key)):
            store.delete(info.path, missing_ok=True)

    # ------------------------------------------------------------ files

    def delete_file(self, path: str) -> None:
        self._store.delete(_key(path))

    def move(self, src: str, dest: str) -> None:
        self._store.move(_key(src), _key(dest), overwrite=True)

    def copy_file(self, src: str, dest: str) -> None:
        self._store.copy(_key(src), _key(dest), overwrite=True)

    def open_input_stream(self, path: str) -> pa.PythonFile:
        return pa.PythonFile(self._store.read(_key(path)), mode="r")

    def open_input_file(self, path: str) -> pa.PythonFile:
        try:
            reader = self._store.read_seekable(_key(path))
        except NotFound as exc:
            raise FileNotFoundError(str(exc)) from exc
        return pa.PythonFile(reader, mode="r")

    def open_output_stream(self, path: str, metadata: Any) -> pa.PythonFile:
        writer = self._store.open_writer(_key(path), overwrite=True)
        return pa.PythonFile(_ExitAwareSink(writer), mode="w")

    def open_append_stream(self, path: str, metadata: Any) -> pa.PythonFile:
        raise NotImplementedError("omnistorage objects are written whole: no appends")


class _ExitAwareSink(io.RawIOBase):
    """Publishes on close, unless a new exception is propagating (then it aborts)."""

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

    def tell(self) -> int:
        return self._inner.tell()

    def flush(self) -> None:
        return None

    def close(self) -> None:
        if self._inner.closed:
            return
        current = sys.exc_info()[1]
        if current is not None and current is not self._exc_at_open:
            self._inner.abort()
        else:
            self._inner.close()

    def __del__(self) -> None:
        inner = getattr(self, "_inner", None)
        if inner is not None and not inner.closed:
            inner.__del__()
