"""Shared fixtures for the records tests: stores, a failing backend, a null backend, the
NaN test in use."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from omnistorage import LocalBackend, MemoryBackend, ObjectInfo, Store, WriteOptions, Writer
from omnistorage.driver import Backend
from omnistorage.formats import _null_check

FORMAT_SUFFIXES = {"ndjson": ".ndjson", "csv": ".csv", "tfrecord": ".tfrecord", "lp": ".lp"}
CODEC_SUFFIXES = {"none": "", "gzip": ".gz", "zstd": ".zst", "snappy": ".sz"}


@pytest.fixture(params=["memory", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    backend = MemoryBackend() if request.param == "memory" else LocalBackend(tmp_path / "store")
    with Store(backend) as opened:
        yield opened


@pytest.fixture
def memory_store() -> Store:
    return Store(MemoryBackend())


class FailingBackend(MemoryBackend):
    """A memory backend whose writers fail on demand.

    ``fail_publish``: keys whose ``close`` (publish) raises; ``fail_write_after``:
    writers raise once they received that many bytes. ``fail_all`` fails
    every publish while set. ``fail_open``: keys whose writer cannot be opened.
    """

    def __init__(self) -> None:
        super().__init__()
        self.fail_open: set[str] = set()
        self.fail_publish: set[str] = set()
        self.fail_all = False
        self.fail_write_after: int | None = None
        self.aborted: list[str] = []
        self.lock = threading.Lock()

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        if key in self.fail_open:
            raise ConnectionError(f"injected open failure on {key!r}")
        return _FailingWriter(self, key, super().new_writer(key, options))


class _FailingWriter(Writer):
    def __init__(self, backend: FailingBackend, key: str, inner: Writer) -> None:
        self._backend = backend
        self._key = key
        self._inner = inner
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        limit = self._backend.fail_write_after
        self._size += len(data)
        if limit is not None and self._size > limit:
            raise ConnectionError(f"injected write failure on {self._key!r}")
        return self._inner.write(data)

    def close(self) -> None:
        if self._backend.fail_all or self._key in self._backend.fail_publish:
            raise ConnectionError(f"injected publish failure on {self._key!r}")
        self._inner.close()

    def abort(self) -> None:
        with self._backend.lock:
            self._backend.aborted.append(self._key)
        self._inner.abort()


class NullBackend(Backend):
    """Discards every byte; remembers only how many were written per key."""

    name = "null"

    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return _NullWriter(self, key)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        raise FileNotFoundError(key)

    def exists(self, key: str) -> bool:
        return False

    def delete(self, key: str) -> None:
        self.sizes.pop(key, None)

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        return iter(())


class _NullWriter(Writer):
    def __init__(self, backend: NullBackend, key: str) -> None:
        self._backend = backend
        self._key = key
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self._size += len(data)
        return len(data)

    def close(self) -> None:
        self._backend.sizes[self._key] = self._size

    def abort(self) -> None:
        pass


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Every test stops the writer and timer threads it started."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 30  # returns as soon as they end; a busy machine is slow
    while True:
        leaked = [
            thread
            for thread in threading.enumerate()
            if thread not in before and thread.name.startswith("omnistorage-")
        ]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert not leaked, f"threads left running: {[thread.name for thread in leaked]}"


@pytest.fixture(params=["installed", "re"])
def null_test(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run with each test for ``null`` in encoded NDJSON (what finds NaN/Infinity): the
    fastest one installed (stringzilla's) and the ``re`` fallback."""
    if request.param == "re":
        monkeypatch.setattr(_null_check, "NULL_TEST", _null_check.RE_NULL_TEST)
    return str(request.param)
