"""A fault-injecting backend wrapper for tests (fakes are for fault injection only).

``Faulty(inner, ...)`` passes every call to ``inner`` and fails where told:
at writer open, after N written bytes (mid-stream), at the last write before
close (staging end), or at publish (``close``, after which the inner write is
aborted: nothing is published); it can also slow every write, and fail reads
with a temporary error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from omnistorage.capabilities import Features
from omnistorage.driver import Backend, ExtendedBackend, WriteOptions, Writer, as_extended
from omnistorage.errors import Classification, ErrorKind
from omnistorage.models import ObjectInfo

__all__ = ["Faults", "Faulty", "InjectedFault"]


class InjectedFault(ConnectionError):
    """The injected failure (classified as a temporary unavailability)."""


@dataclass
class Faults:
    fail_open: bool = False
    fail_after_bytes: int | None = None
    fail_publish: bool = False
    fail_reads: bool = False
    write_delay: float = 0.0
    writes: int = 0


class Faulty(ExtendedBackend):
    def __init__(self, inner: Backend, faults: Faults | None = None) -> None:
        self.inner = inner
        self.faults = faults or Faults()
        self.name = f"faulty-{inner.name}"
        self._ext = as_extended(inner)

    def __repr__(self) -> str:
        return f"Faulty({self.inner!r})"

    def features(self) -> Features:
        assert self._ext is not None
        return self._ext.features()

    def classify_error(self, exc: BaseException) -> Classification:
        if isinstance(exc, InjectedFault):
            return Classification(ErrorKind.UNAVAILABLE, temporary=True)
        return self.inner.classify_error(exc)

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        if self.faults.fail_open:
            raise InjectedFault(f"injected: open of {key!r} failed")
        return _FaultyWriter(self.inner.new_writer(key, options), self.faults)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        if self.faults.fail_reads:
            raise InjectedFault(f"injected: read of {key!r} failed")
        return self.inner.new_reader(key, offset=offset, length=length)

    def exists(self, key: str) -> bool:
        if self.faults.fail_reads:
            raise InjectedFault(f"injected: exists {key!r} failed")
        return self.inner.exists(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        return self.inner.list(prefix, recursive=recursive)

    def stat(self, key: str) -> ObjectInfo:
        assert self._ext is not None
        if self.faults.fail_reads:
            raise InjectedFault(f"injected: stat {key!r} failed")
        return self._ext.stat(key)

    def open_pinned(self, key: str):  # type: ignore[no-untyped-def]
        assert self._ext is not None
        if self.faults.fail_reads:
            raise InjectedFault(f"injected: read of {key!r} failed")
        return self._ext.open_pinned(key)

    def mkdir(self, key: str) -> None:
        assert self._ext is not None
        self._ext.mkdir(key)

    def rmdir(self, key: str) -> None:
        assert self._ext is not None
        self._ext.rmdir(key)

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        assert self._ext is not None
        self._ext.copy(src, dst, overwrite=overwrite)

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        assert self._ext is not None
        self._ext.move(src, dst, overwrite=overwrite)


class _FaultyWriter(Writer):
    def __init__(self, inner: Writer, faults: Faults) -> None:
        self._inner = inner
        self._faults = faults
        self._written = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        faults = self._faults
        faults.writes += 1
        if faults.write_delay:
            time.sleep(faults.write_delay)
        limit = faults.fail_after_bytes
        if limit is not None and self._written + len(data) > limit:
            raise InjectedFault(f"injected: connection lost after {self._written} bytes")
        self._written += len(data)
        return self._inner.write(data)

    def close(self) -> None:
        if self._faults.fail_publish:
            self._inner.abort()
            raise InjectedFault("injected: publish failed")
        self._inner.close()

    def abort(self) -> None:
        self._inner.abort()
