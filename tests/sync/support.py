"""Test helpers of the sync tests: stores filled and read back, and a layer that records
the order of publishes and deletes on a real backend."""

from __future__ import annotations

import threading
import time
from typing import BinaryIO

from omnistorage import Store
from omnistorage.driver import Backend, WriteOptions, Writer
from omnistorage.ext import Layer


def fill(store: Store, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        store.write(path, data, overwrite=True)


def contents(store: Store) -> dict[str, bytes]:
    return {info.path: store.read_bytes(info.path) for info in store.list_files(recursive=True)}


class RecordingLayer(Layer):
    """Records ``("publish" | "delete" | "read", key)`` in call order (thread-safe), and can
    slow publishes down (``publish_delay``) or run a hook when a key is opened for reading."""

    def __init__(self, inner: Backend, *, publish_delay: float = 0.0) -> None:
        super().__init__(inner)
        self.events: list[tuple[str, str]] = []
        self.publish_delay = publish_delay
        self.on_read: dict[str, object] = {}
        self._lock = threading.Lock()

    def record(self, op: str, key: str) -> None:
        with self._lock:
            self.events.append((op, key))

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return _RecordingWriter(self, key, self.inner.new_writer(key, options))

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        hook = self.on_read.pop(key, None)
        if callable(hook):
            hook()
        self.record("read", key)
        return self.inner.new_reader(key, offset=offset, length=length)

    def delete(self, key: str) -> None:
        self.record("delete", key)
        self.inner.delete(key)

    def ops(self, op: str) -> list[str]:
        return [key for kind, key in self.events if kind == op]


class _RecordingWriter(Writer):
    def __init__(self, layer: RecordingLayer, key: str, inner: Writer) -> None:
        self._layer = layer
        self._key = key
        self._inner = inner

    def write(self, data: bytes | bytearray | memoryview) -> int:
        return self._inner.write(data)

    def close(self) -> None:
        if self._layer.publish_delay:
            time.sleep(self._layer.publish_delay)
        self._inner.close()
        self._layer.record("publish", self._key)

    def abort(self) -> None:
        self._inner.abort()
