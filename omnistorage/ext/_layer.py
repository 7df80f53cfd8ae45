"""The base of every layer: a backend that wraps a backend and forwards every call.

A layer *is* a backend, so ``Store(RetryLayer(MetricsLayer(S3Backend(...))))``
keeps the whole Store contract and runs the conformance suite unchanged. A
layer declares exactly the inner backend's features (a layer that removes
behaviour, such as :class:`~omnistorage.ext.ReadOnlyLayer`, declares less),
classifies errors with the inner backend's classifier (plus its own
exceptions), and closes the inner backend when closed.

Order matters and reads outside-in: in ``RetryLayer(MetricsLayer(inner))``
every attempt is measured; in ``MetricsLayer(RetryLayer(inner))`` one
measurement covers all attempts of a call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, BinaryIO, ClassVar, TypeVar

from omnistorage.capabilities import Capability, Features
from omnistorage.driver import (
    Backend,
    ExtendedBackend,
    PinnedReader,
    WriteOptions,
    Writer,
)
from omnistorage.errors import Classification
from omnistorage.models import Leftover, Location, ObjectInfo

__all__ = ["Layer"]

T = TypeVar("T")


class Layer(ExtendedBackend):
    """Forwards every driver call to ``inner``; subclasses override what they change."""

    may_declare = frozenset(Capability)  # whatever the inner backend declares

    forwards_staging: ClassVar[bool] = False
    """True when the layer's writers forward :meth:`Writer.stage` (and the layer the staged
    publish): only then does it declare the inner backend's ``DEFERRED_PUBLISH``."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self.secret_values = inner.secret_values
        # A fact of the backend, not of the layer: folders stay markers behind it.
        self.folders_are_markers = inner.folders_are_markers

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"

    @property
    def closed(self) -> bool:
        return self.inner.closed

    @closed.setter
    def closed(self, value: bool) -> None:
        self.inner.closed = value

    def close(self) -> None:
        self.inner.close()

    def features(self) -> Features:
        inner = self.inner.features()
        if self.forwards_staging or Capability.DEFERRED_PUBLISH not in inner.capabilities:
            return inner
        return inner.with_capabilities(inner.capabilities - {Capability.DEFERRED_PUBLISH})

    def classify_error(self, exc: BaseException) -> Classification:
        return self.inner.classify_error(exc)

    @classmethod
    def check_config(cls, options: Mapping[str, object]) -> None:
        return None

    def native_path(self, key: str) -> str:
        return self.inner.native_path(key)

    def locations(self) -> tuple[Location, ...]:
        return self.inner.locations()

    def key_from_native(self, native: str) -> str | None:
        return self.inner.key_from_native(native)

    def as_native(self, kind: type[T]) -> T | None:
        if isinstance(self.inner, kind):
            return self.inner
        return self.inner.as_native(kind)

    # ------------------------------------------------------------ basic interface

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return self.inner.new_writer(key, options)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        return self.inner.new_reader(key, offset=offset, length=length)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        return self.inner.list(prefix, recursive=recursive)

    # ------------------------------------------------------------ optional interface

    def stat(self, key: str) -> ObjectInfo:
        return self.inner.stat(key)

    def mkdir(self, key: str) -> None:
        self.inner.mkdir(key)

    def rmdir(self, key: str) -> None:
        self.inner.rmdir(key)

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        self.inner.copy(src, dst, overwrite=overwrite)

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        self.inner.move(src, dst, overwrite=overwrite)

    def open_pinned(self, key: str) -> PinnedReader:
        return self.inner.open_pinned(key)

    def delete_version(self, key: str, version: str) -> None:
        self.inner.delete_version(key, version)

    def publish_staged(self, key: str, staged: Mapping[str, Any], *, overwrite: bool) -> str | None:
        return self.inner.publish_staged(key, staged, overwrite=overwrite)

    def abort_staged(self, key: str, staged: Mapping[str, Any]) -> None:
        self.inner.abort_staged(key, staged)

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        return self.inner.list_leftovers(prefix)

    def remove_leftover(self, leftover: Leftover) -> None:
        self.inner.remove_leftover(leftover)

    def delete_many(self, keys: Iterable[str]) -> None:
        self.inner.delete_many(keys)
