"""Which threads copy what: between two stores that read locally, small files go to one
thread of their own (their copies are short system calls that would only trade the GIL
between threads); larger files and every other pair of stores use the transfer threads."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.driver import Backend, WriteOptions, Writer
from omnistorage.ext._layer import Layer
from omnistorage.sync import sync


class WriterThreads(Layer):
    """Records the thread that opens each writer."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.threads: dict[str, str] = {}
        self._lock = threading.Lock()

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        with self._lock:
            self.threads[key] = threading.current_thread().name
        return self.inner.new_writer(key, options)


def _tree(store: Store, small: int, large: int) -> dict[str, bytes]:
    files = {f"s/{i:03d}.bin": bytes([i % 251]) * (100 + i) for i in range(small)}
    files |= {f"l/{i}.bin": bytes([i]) * ((1 << 20) + i) for i in range(large)}
    for path, data in files.items():
        store.write(path, data)
    return files


def test_small_local_files_are_copied_on_one_thread_large_ones_on_the_transfer_threads(
    tmp_path: Path,
) -> None:
    src = Store(LocalBackend(tmp_path / "src"))
    files = _tree(src, small=60, large=3)
    dst_layer = WriterThreads(LocalBackend(tmp_path / "dst"))
    dst = Store(dst_layer)
    report = sync(src, dst, transfers=4)
    assert report.ok
    assert {path: dst.read_bytes(path) for path in files} == files
    small = {name for key, name in dst_layer.threads.items() if key.startswith("s/")}
    large = {name for key, name in dst_layer.threads.items() if key.startswith("l/")}
    assert len(small) == 1
    assert small.pop().startswith("omnistorage-sync-small")
    assert large
    assert all(name.startswith("omnistorage-sync-transfer") for name in large)


@pytest.mark.parametrize("transfers", [1, 4])
def test_other_stores_and_one_transfer_thread_keep_the_transfer_threads(
    tmp_path: Path, transfers: int
) -> None:
    """Memory does not read locally (``Features.reads_local`` is the local disk's); with
    ``transfers=1`` there is nothing to spare."""
    src = Store(LocalBackend(tmp_path / "src"))
    files = _tree(src, small=40, large=0)
    for dst_backend in (MemoryBackend(), LocalBackend(tmp_path / f"dst{transfers}")):
        if transfers == 4 and isinstance(dst_backend, LocalBackend):
            continue  # the case above
        layer = WriterThreads(dst_backend)
        dst = Store(layer)
        assert sync(src, dst, transfers=transfers).ok
        assert {path: dst.read_bytes(path) for path in files} == files
        names = set(layer.threads.values())
        assert all(name.startswith("omnistorage-sync-transfer") for name in names), names
        assert len(names) <= transfers
