"""The read stream: a raw stream over a ranged download's chunks."""

from __future__ import annotations

import io
from collections.abc import Iterator

from azure.storage.blob import StorageStreamDownloader

__all__ = ["DownloadReader"]


class DownloadReader(io.RawIOBase):
    """A raw stream over a downloader's chunks (one ranged GET per chunk, 4 MiB each)."""

    def __init__(self, downloader: StorageStreamDownloader[bytes]) -> None:
        super().__init__()
        self._chunks: Iterator[bytes] | None = downloader.chunks()
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        while not self._pending:
            if self._chunks is None:
                return False
            chunk = next(self._chunks, None)
            if chunk is None:
                self._chunks = None
                return False
            self._pending = memoryview(chunk)
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if not self._fill():
            return 0
        view = memoryview(buffer).cast("B")
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def readall(self) -> bytes:
        parts = []
        while self._fill():
            parts.append(bytes(self._pending))
            self._pending = memoryview(b"")
        return b"".join(parts)

    def close(self) -> None:
        self._chunks = None
        self._pending = memoryview(b"")
        super().close()
