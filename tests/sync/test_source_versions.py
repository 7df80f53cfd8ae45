"""A source rewritten in place while it is read is never published as a mix of versions.

The rewrite keeps the size (so the byte count cannot tell) and happens after the first
chunk was read, at offsets behind the reader, ahead of it and at the last byte; the
default comparison hashes nothing, so only the version check can see it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import pytest

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.errors import ChangedDuringRead
from omnistorage.ext import Layer
from omnistorage.sync import copy_file, sync

SIZE = 3 * (1 << 20) + 12_345
V1 = bytes(range(256)) * (SIZE // 256) + b"\x01" * (SIZE % 256)
OFFSETS = [0, 10, (1 << 20) + 5, 2 * (1 << 20), SIZE - 1]


class RewriteAfterFirstRead(Layer):
    """After the first read of ``key``'s stream, rewrites ``length`` bytes at ``offset`` of
    the local file in place (same size: a different version the byte count cannot see).
    Fires once."""

    def __init__(self, inner: LocalBackend, key: str, offset: int, length: int = 1) -> None:
        super().__init__(inner)
        self.path = inner.native_path(key)
        self.key = key
        self.offset = offset
        self.length = length
        self.fired = False

    def rewrite(self) -> None:
        if self.fired:
            return
        self.fired = True
        fd = os.open(self.path, os.O_WRONLY)
        try:
            old = V1[self.offset : self.offset + self.length]
            os.pwrite(fd, bytes(b ^ 0xFF for b in old), self.offset)
        finally:
            os.close(fd)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        inner = super().new_reader(key, offset=offset, length=length)
        return _Trigger(inner, self.rewrite) if key == self.key else inner  # type: ignore[return-value]


class _Trigger:
    def __init__(self, inner: BinaryIO, hook: object) -> None:
        self._inner = inner
        self._hook = hook
        self._reads = 0

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self._reads += 1
        if self._reads == 1:
            self._hook()  # type: ignore[operator]
        return data

    def close(self) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def v2(offset: int) -> bytes:
    return V1[:offset] + bytes([V1[offset] ^ 0xFF]) + V1[offset + 1 :]


def source(tmp_path: Path, offset: int) -> tuple[RewriteAfterFirstRead, Store]:
    backend = LocalBackend(tmp_path / "src")
    Store(backend).write("big.bin", V1)
    # An old mtime: the rewrite's new mtime differs even within one tick of the clock.
    os.utime(backend.native_path("big.bin"), ns=(10**18, 10**18))
    layer = RewriteAfterFirstRead(backend, "big.bin", offset)
    return layer, Store(layer)


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize(
    "make_dst",
    [lambda p: Store(MemoryBackend()), lambda p: Store(LocalBackend(p / "dst"))],
    ids=["memory", "local"],
)
def test_a_rewrite_in_place_mid_read_fails_the_file_and_publishes_nothing(
    offset: int, make_dst: object, tmp_path: Path
) -> None:
    layer, src = source(tmp_path, offset)
    dst: Store = make_dst(tmp_path)  # type: ignore[operator]
    dst.write("extra", b"kept: no deletes after an error")
    report = sync(src, dst, retries=0)
    assert layer.fired
    assert not report.ok
    assert any("changed while it was read" in e.error for e in report.errors)
    assert not dst.exists("big.bin")
    assert dst.exists("extra")


@pytest.mark.parametrize("offset", OFFSETS)
def test_a_retry_after_a_rewrite_publishes_one_whole_version(offset: int, tmp_path: Path) -> None:
    _, src = source(tmp_path, offset)
    dst = Store(MemoryBackend())
    report = sync(src, dst, retries=1, retry_backoff=0)
    assert report.ok, report.errors
    assert dst.read_bytes("big.bin") == v2(offset)


@pytest.mark.parametrize("offset", [0, SIZE - 1])
def test_copy_file_of_an_updated_file_keeps_the_old_copy_on_a_rewrite(
    offset: int, tmp_path: Path
) -> None:
    _, src = source(tmp_path, offset)
    dst = Store(MemoryBackend())
    dst.write("big.bin", b"previous")
    report = copy_file(src, "big.bin", dst, "big.bin", retries=0)
    assert not report.ok
    assert dst.read_bytes("big.bin") == b"previous"


@pytest.mark.parametrize("offset", OFFSETS)
def test_a_store_read_and_a_pinned_read_refuse_a_mix(offset: int, tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "files")
    store = Store(backend)
    store.write("f", V1)
    os.utime(backend.native_path("f"), ns=(10**18, 10**18))
    layer = RewriteAfterFirstRead(backend, "f", offset)
    with pytest.raises(ChangedDuringRead), Store(layer).read("f") as stream:
        while stream.read(1 << 20):
            pass
    layer.fired = False
    os.utime(backend.native_path("f"), ns=(10**18, 10**18))
    with pytest.raises(ChangedDuringRead), store.read_seekable("f") as pinned:
        pinned.read(1 << 20)
        layer.rewrite()
        pinned.read()
