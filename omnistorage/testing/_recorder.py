"""A driver wrapper that records every call, to show that a refusal did no I/O."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

from omnistorage.capabilities import Capability, Features
from omnistorage.driver import ExtendedBackend, PinnedReader, WriteOptions, Writer
from omnistorage.errors import Classification
from omnistorage.models import Location, ObjectInfo

__all__ = ["Recorder"]


class Recorder(ExtendedBackend):
    """Forwards to a driver and records every call, to show a refusal did no I/O."""

    may_declare = frozenset(Capability)  # whatever the recorded backend declares

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.secret_values = inner.secret_values
        self.calls: list[str] = []

    @property
    def closed(self) -> bool:
        return bool(self.inner.closed)

    @closed.setter
    def closed(self, value: bool) -> None:
        self.inner.closed = value

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(method)
        return getattr(self.inner, method)(*args, **kwargs)

    def features(self) -> Features:
        return self.inner.features()  # type: ignore[no-any-return]

    def classify_error(self, exc: BaseException) -> Classification:
        return self.inner.classify_error(exc)  # type: ignore[no-any-return]

    def native_path(self, key: str) -> str:
        return self.inner.native_path(key)  # type: ignore[no-any-return]

    def locations(self) -> tuple[Location, ...]:
        return self.inner.locations()  # type: ignore[no-any-return]

    def key_from_native(self, native: str) -> str | None:
        return self.inner.key_from_native(native)  # type: ignore[no-any-return]

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return self._call("new_writer", key, options)  # type: ignore[no-any-return]

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        return self._call("new_reader", key, offset=offset, length=length)  # type: ignore[no-any-return]

    def exists(self, key: str) -> bool:
        return self._call("exists", key)  # type: ignore[no-any-return]

    def delete(self, key: str) -> None:
        self._call("delete", key)

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        return self._call("list", prefix, recursive=recursive)  # type: ignore[no-any-return]

    def stat(self, key: str) -> ObjectInfo:
        return self._call("stat", key)  # type: ignore[no-any-return]

    def mkdir(self, key: str) -> None:
        self._call("mkdir", key)

    def rmdir(self, key: str) -> None:
        self._call("rmdir", key)

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._call("copy", src, dst, overwrite=overwrite)

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._call("move", src, dst, overwrite=overwrite)

    def open_pinned(self, key: str) -> PinnedReader:
        return self._call("open_pinned", key)  # type: ignore[no-any-return]

    def delete_version(self, key: str, version: str) -> None:
        self._call("delete_version", key, version)

    def publish_staged(self, key: str, staged: Mapping[str, Any], *, overwrite: bool) -> str | None:
        return self._call("publish_staged", key, staged, overwrite=overwrite)  # type: ignore[no-any-return]

    def abort_staged(self, key: str, staged: Mapping[str, Any]) -> None:
        self._call("abort_staged", key, staged)
