"""A view of a backend through the basic driver interface only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from omnistorage.driver import Backend, WriteOptions, Writer
from omnistorage.errors import Classification
from omnistorage.models import Location, ObjectInfo

__all__ = ["BasicOnly"]


class BasicOnly(Backend):
    """Wraps a backend and hides its extended interface.

    A Store over it uses every fallback (stat by listing, copy by streaming,
    move by copy + delete, create-only by check-then-write), so running the
    conformance suite over it checks each fallback against the fast path.
    """

    def __init__(self, inner: Backend) -> None:
        self._inner = inner
        self.name = inner.name
        self.secret_values = inner.secret_values

    @property
    def inner(self) -> Backend:
        """The wrapped backend."""
        return self._inner

    def __repr__(self) -> str:
        return f"BasicOnly({self._inner!r})"

    @property
    def closed(self) -> bool:
        return self._inner.closed

    @closed.setter
    def closed(self, value: bool) -> None:
        self._inner.closed = value

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return self._inner.new_writer(key, options)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        return self._inner.new_reader(key, offset=offset, length=length)

    def exists(self, key: str) -> bool:
        return self._inner.exists(key)

    def delete(self, key: str) -> None:
        self._inner.delete(key)

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        return self._inner.list(prefix, recursive=recursive)

    def close(self) -> None:
        self._inner.close()

    def classify_error(self, exc: BaseException) -> Classification:
        return self._inner.classify_error(exc)

    def native_path(self, key: str) -> str:
        return self._inner.native_path(key)

    def locations(self) -> tuple[Location, ...]:
        return self._inner.locations()

    def key_from_native(self, native: str) -> str | None:
        return self._inner.key_from_native(native)
