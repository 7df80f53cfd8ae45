"""Driving a Store from inside a driver: backends built from other stores (the mirror,
the composite) read through these."""

from __future__ import annotations

import io
from typing import BinaryIO

from omnistorage._io import LimitedReader, SeekableReader
from omnistorage.driver import PinnedReader
from omnistorage.store import Store

__all__ = ["StorePinned", "ranged_reader"]


def ranged_reader(store: Store, key: str, offset: int, length: int | None) -> BinaryIO:
    reader = store.read_seekable(key)
    try:
        reader.seek(offset)
    except BaseException:
        reader.close()
        raise
    if length is None:
        return reader
    return LimitedReader(reader, length)  # type: ignore[return-value]


class StorePinned(PinnedReader):
    """A store's pinned seekable reader as a driver-level pin."""

    def __init__(self, store: Store, key: str) -> None:
        self._reader = store.read_seekable(key)
        self.size = self._reader.seek(0, io.SEEK_END)
        raw = getattr(self._reader, "raw", None)  # the buffered reader's SeekableReader
        self.version = raw.version if isinstance(raw, SeekableReader) else None

    def read_range(self, offset: int, length: int) -> bytes:
        self._reader.seek(offset)
        return self._reader.read(length)

    def close(self) -> None:
        self._reader.close()
