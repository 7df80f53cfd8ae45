"""Which threads copy what: between two stores that read locally, small files are copied by
the thread that plans them, one at a time (their copies are short system calls that would
only trade the GIL between threads); larger files and every other pair of stores use the
transfer threads."""

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


def test_small_local_files_are_copied_where_planned_large_ones_on_the_transfer_threads(
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
    assert small == {threading.current_thread().name}  # the march runs in the caller's thread
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


class Overlap(Layer):
    """Records the most writers open at once."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.open = 0
        self.most = 0
        self._lock = threading.Lock()

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        writer = self.inner.new_writer(key, options)
        with self._lock:
            self.open += 1
            self.most = max(self.most, self.open)
        close, abort = writer.close, writer.abort

        def done(finish: object) -> None:
            try:
                finish()  # type: ignore[operator]
            finally:
                with self._lock:
                    self.open -= 1

        writer.close = lambda: done(close)  # type: ignore[method-assign]
        writer.abort = lambda: done(abort)  # type: ignore[method-assign]
        return writer


def test_small_local_copies_planned_by_checkers_still_run_one_at_a_time(tmp_path: Path) -> None:
    """With ``compare="checksum"`` the checker threads settle each file and plan its update
    themselves: the small copies they plan still run one at a time."""
    src = Store(LocalBackend(tmp_path / "src"))
    files = _tree(src, small=80, large=0)
    plain = Store(LocalBackend(tmp_path / "dst"))
    for path, data in files.items():  # same sizes, other bytes: only a hash tells
        plain.write(path, bytes(255 - b for b in data))
    layer = Overlap(LocalBackend(tmp_path / "dst"))
    report = sync(src, Store(layer), transfers=4, checkers=8, compare="checksum")
    assert report.ok, report.errors
    assert report.counts.get("updated") == len(files)
    assert {path: plain.read_bytes(path) for path in files} == files
    assert layer.most == 1
