"""Store-level guarantees that need a fake driver: error mapping, capability checks."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

import pytest

from omnistorage import (
    BackendUnavailable,
    CapabilityNotSupported,
    Classification,
    ErrorKind,
    MemoryBackend,
    NotFound,
    StorageError,
    Store,
    WriteOptions,
    Writer,
)
from omnistorage.capabilities import Capability, Features
from omnistorage.driver import ExtendedBackend, PinnedReader
from omnistorage.models import ObjectInfo


class NativeBoom(Exception):
    """A client library's own exception type."""


class FlakyBackend(ExtendedBackend):
    """Memory underneath; fails chosen operations with a native exception (fault injection)."""

    name = "flaky"
    secret_values = ("hunter2-secret",)
    may_declare = MemoryBackend.may_declare - {Capability.DEFERRED_PUBLISH}  # no staging here

    def __init__(self, fail: set[str], *, temporary: bool = True) -> None:
        self.inner = MemoryBackend()
        self.fail = fail
        self.temporary = temporary
        self.published: list[str] = []

    def _maybe(self, op: str) -> None:
        if op in self.fail:
            raise NativeBoom(f"{op} failed talking to host with password hunter2-secret")

    def features(self) -> Features:
        inner = self.inner.features()
        return inner.with_capabilities(inner.capabilities - {Capability.DEFERRED_PUBLISH})

    def classify_error(self, exc: BaseException) -> Classification:
        if isinstance(exc, NativeBoom):
            return Classification(ErrorKind.UNAVAILABLE, temporary=self.temporary)
        return self.inner.classify_error(exc)

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        self._maybe("new_writer")
        return _FlakyWriter(self, self.inner.new_writer(key, options))

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        self._maybe("new_reader")
        inner = self.inner.new_reader(key, offset=offset, length=length)
        if "read" in self.fail:
            return _FailingReader(inner)  # type: ignore[return-value]
        return inner

    def exists(self, key: str) -> bool:
        self._maybe("exists")
        return self.inner.exists(key)

    def delete(self, key: str) -> None:
        self._maybe("delete")
        self.inner.delete(key)

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        self._maybe("list")
        for n, info in enumerate(self.inner.list(prefix, recursive=recursive)):
            if n == 1:
                self._maybe("list_page_2")
            yield info

    def stat(self, key: str) -> ObjectInfo:
        self._maybe("stat")
        return self.inner.stat(key)

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._maybe("copy")
        self.inner.copy(src, dst, overwrite=overwrite)

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._maybe("move")
        self.inner.move(src, dst, overwrite=overwrite)

    def open_pinned(self, key: str) -> PinnedReader:
        self._maybe("open_pinned")
        return self.inner.open_pinned(key)

    def delete_version(self, key: str, version: str) -> None:
        self._maybe("delete_version")
        self.inner.delete_version(key, version)


class _FlakyWriter(Writer):
    def __init__(self, backend: FlakyBackend, inner: Writer) -> None:
        self.backend = backend
        self.inner = inner

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.backend._maybe("write")
        return self.inner.write(data)

    def close(self) -> None:
        self.backend._maybe("close")
        self.inner.close()
        self.version = self.inner.version

    def abort(self) -> None:
        self.inner.abort()


class _FailingReader(io.RawIOBase):
    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        raise NativeBoom("connection reset mid-read, password hunter2-secret")


@pytest.mark.parametrize(
    ("fail", "call"),
    [
        ("new_reader", lambda s: s.read_bytes("k")),
        ("read", lambda s: s.read("k").read()),
        ("read", lambda s: s.read_bytes("k")),
        ("exists", lambda s: s.exists("k")),
        ("stat", lambda s: s.get_file_info("k")),
        ("list", lambda s: list(s.list_files(recursive=True))),
        ("list_page_2", lambda s: list(s.list_files(recursive=True))),
        ("delete", lambda s: s.delete("k")),
        ("copy", lambda s: s.copy("k", "k2")),
        ("move", lambda s: s.move("k", "k2")),
        ("new_writer", lambda s: s.write("new", b"x")),
        ("write", lambda s: s.write("new", b"x")),
        ("close", lambda s: s.write("new", b"x")),
    ],
)
def test_native_errors_never_leak(fail: str, call: object) -> None:
    backend = FlakyBackend(set())
    store = Store(backend)
    store.write("k", b"v")
    store.write("k1", b"v")
    backend.fail = {fail}
    with pytest.raises(BackendUnavailable) as info:
        call(store)  # type: ignore[operator]
    error = info.value
    assert isinstance(error.__cause__, NativeBoom)
    assert error.temporary
    assert error.backend == "flaky"
    assert "hunter2-secret" not in str(error)
    assert "***" in str(error)


def test_a_failed_publish_publishes_nothing() -> None:
    backend = FlakyBackend({"close"})
    store = Store(backend)
    with pytest.raises(StorageError):
        store.write("never", b"data")
    backend.fail = set()
    assert not store.exists("never")


def test_a_failed_write_aborts_the_upload() -> None:
    backend = FlakyBackend(set())
    store = Store(backend)
    with store.open_atomic("x") as writer:
        writer.write(b"fine")
        backend.fail = {"write"}
        with pytest.raises(BackendUnavailable):
            writer.write(b"boom")
    backend.fail = set()
    assert not store.exists("x")


class ReadOnly(ExtendedBackend):
    """A backend that declares only READ and LIST: everything else must fail before I/O."""

    name = "readonly"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def features(self) -> Features:
        return Features.of([Capability.READ, Capability.LIST])

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        self.calls.append("new_writer")
        raise AssertionError("must not be called")

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        self.calls.append("new_reader")
        return io.BytesIO(b"data")

    def exists(self, key: str) -> bool:
        self.calls.append("exists")
        return True

    def delete(self, key: str) -> None:
        self.calls.append("delete")

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        self.calls.append("list")
        return iter([])


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.write("a", b"x"),
        lambda s: s.open_atomic("a"),
        lambda s: s.write_atomic("a", b"x"),
        lambda s: s.delete("a"),
        lambda s: s.delete_folder("d", recursive=True),
        lambda s: s.copy("a", "b"),
        lambda s: s.move("a", "b"),
    ],
)
def test_unsupported_operations_fail_before_any_io(call: object) -> None:
    backend = ReadOnly()
    with pytest.raises(CapabilityNotSupported):
        call(Store(backend))  # type: ignore[operator]
    assert backend.calls == []


def test_unwrap_returns_the_driver_or_refuses() -> None:
    backend = MemoryBackend()
    store = Store(backend)
    assert store.unwrap() is backend
    assert store.unwrap(MemoryBackend) is backend
    with pytest.raises(CapabilityNotSupported):
        store.unwrap(int)


def test_write_refuses_str_content() -> None:
    with pytest.raises(TypeError, match="write_text"):
        Store(MemoryBackend()).write("a", "text")  # type: ignore[arg-type]


def test_read_range_refuses_negative_numbers() -> None:
    store = Store(MemoryBackend())
    store.write("a", b"x")
    with pytest.raises(ValueError, match="offset"):
        store.read_range("a", -1, 2)


def test_errors_survive_pickling() -> None:
    import pickle

    error = NotFound("gone", path="p", backend="b", op="read", temporary=True)
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is NotFound
    assert (clone.path, clone.backend, clone.op, clone.temporary) == ("p", "b", "read", True)
    assert str(clone) == "gone"


def test_stores_are_cheap_and_share_the_backend() -> None:
    store = Store(MemoryBackend())
    child = store.child("a").child("b")
    child.write("c.txt", b"x")
    assert store.read_bytes("a/b/c.txt") == b"x"
    assert child.root == "a/b"
    assert repr(child) == "Store(MemoryBackend(name=''), root='a/b')"
