"""The primitives :class:`~omnistorage.Store` builds on: the driver's extended
interface (when it has one), file and folder existence, and stat with its listing
fallback. Each maps native errors once, through the kernel's error boundary (the
sync twin of :mod:`omnistorage.aio._store_base`)."""

from __future__ import annotations

from omnistorage import paths
from omnistorage._kernel import StoreKernel
from omnistorage.capabilities import BASIC_FEATURES, Capability
from omnistorage.driver import Backend, ExtendedBackend, as_extended
from omnistorage.errors import ErrorKind, native_cause
from omnistorage.models import ObjectInfo

__all__ = ["StoreBase"]


class StoreBase(StoreKernel[Backend]):
    """The kernel over a sync driver, plus the queries every Store method uses."""

    __slots__ = ("_ext",)

    def __init__(self, backend: Backend, root: str = "") -> None:
        ext = as_extended(backend)
        super().__init__(backend, root, ext.features() if ext is not None else BASIC_FEATURES)
        self._ext: ExtendedBackend | None = ext

    def _exists_file(self, key: str, path: str) -> bool:
        try:
            return self._backend.exists(key)
        except Exception as exc:
            raise self._fail(exc, "exists", path) from native_cause(exc)

    def _stat_file(self, key: str, path: str) -> ObjectInfo | None:
        """Info for a file, or None when there is none (uses stat, else a listing)."""
        ext = self._ext
        if ext is not None and Capability.METADATA in self._caps:
            try:
                info = ext.stat(key)
            except Exception as exc:
                if self._is_kind(exc, ErrorKind.NOT_FOUND):
                    return None
                raise self._fail(exc, "stat", path) from native_cause(exc)
            return None if info.is_dir else info
        try:
            for info in self._backend.list(paths.folder_prefix(paths.parent(key)), recursive=False):
                if info.path == key and not info.is_dir:
                    return info
        except Exception as exc:
            raise self._fail(exc, "stat", path) from native_cause(exc)
        return None

    def _folder_exists(self, folder: str, path: str) -> bool:
        ext = self._ext
        try:
            if ext is not None and Capability.MKDIR in self._caps:
                try:
                    return ext.stat(folder).is_dir
                except Exception as exc:
                    if self._is_kind(exc, ErrorKind.NOT_FOUND):
                        return False
                    raise
            prefix = paths.folder_prefix(folder)
            for info in self._backend.list(prefix, recursive=True):
                if info.path.startswith(prefix) or (info.is_dir and info.path == folder):
                    return True
            return False
        except Exception as exc:
            raise self._fail(exc, "exists", path) from native_cause(exc)
