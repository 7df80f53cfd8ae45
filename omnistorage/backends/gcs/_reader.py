"""The download stream: one media ``GET``, the whole object's CRC32C checked at the end."""

from __future__ import annotations

import io
from typing import Any

import google_crc32c

from omnistorage.backends.gcs._errors import DataCorruption

__all__ = ["GCSReader"]


class GCSReader(io.RawIOBase):
    """Streams one media download; checks the whole object's CRC32C at the end."""

    def __init__(self, response: Any, expected_crc32c: int | None) -> None:
        super().__init__()
        self._response = response
        self._raw = response.raw
        self._expected = expected_crc32c
        self._crc = 0
        self._checked = expected_crc32c is None

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("read from a closed GCS reader")
        whole = size is None or size < 0
        if whole:
            data: bytes = self._raw.read(decode_content=False)
        elif size == 0:
            return b""
        else:
            data = self._raw.read(size, decode_content=False)
        if not self._checked:
            if data:
                self._crc = google_crc32c.extend(self._crc, data)
            if whole or not data:
                self._verify()
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        return n

    def _verify(self) -> None:
        self._checked = True
        if self._crc != self._expected:
            raise DataCorruption(
                self._response,
                f"GCS download checksum mismatch: crc32c {self._crc:08x}, "
                f"expected {self._expected:08x}",
            )

    def close(self) -> None:
        if not self.closed:
            try:
                self._response.close()
            finally:
                super().close()
