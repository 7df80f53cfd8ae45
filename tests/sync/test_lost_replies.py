"""copy_file(overwrite=False) whose publish reply was lost recognises its own object.

The fault: the destination stores the object, then the reply is lost (the driver
raises a temporary error after its inner publish succeeded). The retry meets the
object and the backend answers AlreadyExists; the copy must check, as the drivers
do after a retried create-only request, whether that object is the one it sent.
The destinations are real: memory, local files, SQLite, and S3 on the moto server.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.backends.sql import SQLBlobBackend
from omnistorage.driver import Backend, WriteOptions, Writer
from omnistorage.ext import Layer
from omnistorage.sync import copy_file
from tests.support.remote import s3_store, wipe

PAYLOAD = b"the bytes this copy sent" * 1000


class LostReplyLayer(Layer):
    """The first ``times`` publishes reach the inner backend, then fail as if the reply
    was lost (a temporary ``ConnectionResetError``). ``instead``: bytes another writer
    publishes at the key in place of ours (a race lost, then a lost reply)."""

    def __init__(self, inner: Backend, *, times: int = 1, instead: bytes | None = None) -> None:
        super().__init__(inner)
        self.left = times
        self.instead = instead
        self.lost = 0

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return _Writer(self, key, options, super().new_writer(key, options))


class _Writer(Writer):
    def __init__(self, layer: LostReplyLayer, key: str, options: WriteOptions, inner: Writer):
        self._layer, self._key, self._options, self._inner = layer, key, options, inner

    def write(self, data: bytes | bytearray | memoryview) -> int:
        return self._inner.write(data)

    def close(self) -> None:
        layer = self._layer
        if layer.left <= 0:
            self._inner.close()
            return
        layer.left -= 1
        if layer.instead is not None:
            self._inner.abort()
            other = layer.inner.new_writer(self._key, self._options)
            other.write(layer.instead)
            other.close()
        else:
            self._inner.close()
        layer.lost += 1
        raise ConnectionResetError("the reply to the publish was lost")

    def abort(self) -> None:
        self._inner.abort()


def memory(tmp_path: Path) -> Backend:
    return MemoryBackend()


def local(tmp_path: Path) -> Backend:
    return LocalBackend(tmp_path / "dst")


def sqlite(tmp_path: Path) -> Backend:
    return SQLBlobBackend(f"sqlite:///{tmp_path / 'dst.db'}")


def s3(tmp_path: Path) -> Backend:
    store = s3_store()
    return _Rooted(store)


class _Rooted(Layer):
    """The S3 test store's backend with its unique root (wiped afterwards)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store.unwrap())
        self.store = store


DESTINATIONS: list[Callable[[Path], Backend]] = [memory, local, sqlite, s3]


def _make(make: Callable[[Path], Backend], tmp_path: Path, **faults: object) -> tuple[Store, Store]:
    inner = make(tmp_path)
    root = inner.store.root if isinstance(inner, _Rooted) else ""
    layer = LostReplyLayer(inner, **faults)  # type: ignore[arg-type]
    return Store(layer, root), Store(inner, root)


@pytest.mark.parametrize("make", DESTINATIONS, ids=lambda f: f.__name__)
def test_a_lost_publish_reply_is_recognised_as_our_own_object(
    make: Callable[[Path], Backend], tmp_path: Path
) -> None:
    if make is s3:
        pytest.importorskip("boto3")
    dst, plain = _make(make, tmp_path)
    src = Store(MemoryBackend())
    src.write("f.bin", PAYLOAD)
    try:
        report = copy_file(src, "f.bin", dst, "f.bin", overwrite=False, retry_backoff=0)
        assert dst.unwrap().lost == 1  # type: ignore[attr-defined]
        assert report.ok, report.errors
        assert report.copied == ["f.bin"]
        assert plain.read_bytes("f.bin") == PAYLOAD
    finally:
        wipe(plain)


@pytest.mark.parametrize("make", DESTINATIONS, ids=lambda f: f.__name__)
def test_another_writers_object_stays_a_conflict(
    make: Callable[[Path], Backend], tmp_path: Path
) -> None:
    dst, plain = _make(make, tmp_path, instead=b"another writer won the race")
    src = Store(MemoryBackend())
    src.write("f.bin", PAYLOAD)
    try:
        report = copy_file(src, "f.bin", dst, "f.bin", overwrite=False, retry_backoff=0)
        assert not report.ok
        assert report.errors[0].type == "AlreadyExists"
        assert plain.read_bytes("f.bin") == b"another writer won the race"
    finally:
        wipe(plain)


def test_a_first_attempt_conflict_is_never_taken_for_ours() -> None:
    src, dst = Store(MemoryBackend()), Store(MemoryBackend())
    src.write("f", PAYLOAD)
    dst.write("f", PAYLOAD)  # the same bytes, but there before this copy started
    report = copy_file(src, "f", dst, "f", overwrite=False)
    assert not report.ok
    assert report.errors[0].type == "AlreadyExists"
