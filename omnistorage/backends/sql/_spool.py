"""A materialized query result: a spooled temporary file, and readers over it.

The serializer writes into a ``SpooledTemporaryFile``: in memory up to the
threshold, then on disk (in ``spool_dir`` or the system's temp folder, unlinked
at once, so nothing is left behind even if the process dies). A result is
produced once per open reader, so every reader sees one version by construction.
"""

from __future__ import annotations

import io
import tempfile
import threading
from typing import IO, Any

from omnistorage.driver import PinnedReader

__all__ = ["Spool", "SpoolPinned", "SpoolReader"]


class Spool:
    """The bytes of one materialized result."""

    def __init__(self, memory: int, directory: str | None) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=memory, dir=directory)  # noqa: SIM115
        self.size = 0
        self._lock = threading.Lock()

    def sink(self) -> _Sink:
        """A write-only view of the file for a serializer (closing it does not close us)."""
        return _Sink(self.file)

    def finish(self) -> None:
        self.size = self.file.tell()

    def read_at(self, offset: int, length: int) -> bytes:
        with self._lock:
            self.file.seek(offset)
            return self.file.read(length)

    def close(self) -> None:
        self.file.close()


class _Sink(io.RawIOBase):
    def __init__(self, file: IO[bytes]) -> None:
        super().__init__()
        self._file = file

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self._file.write(data)

    def tell(self) -> int:
        return self._file.tell()

    def flush(self) -> None:
        return None


class SpoolPinned(PinnedReader):
    """Random access to a materialized result (one version by construction)."""

    def __init__(self, spool: Spool) -> None:
        self._spool = spool
        self.size = spool.size

    def read_range(self, offset: int, length: int) -> bytes:
        return self._spool.read_at(offset, max(0, min(length, self.size - offset)))

    def close(self) -> None:
        self._spool.close()


class SpoolReader(io.RawIOBase):
    """A streaming reader over ``[offset, end)`` of a materialized result."""

    def __init__(self, spool: Spool, offset: int, end: int) -> None:
        super().__init__()
        self._spool = spool
        self._pos = offset
        self._end = end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._end - self._pos)
        if want <= 0:
            return 0
        data = self._spool.read_at(self._pos, want)
        memoryview(buffer)[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def readall(self) -> bytes:
        data = self._spool.read_at(self._pos, max(0, self._end - self._pos))
        self._pos += len(data)
        return data

    def close(self) -> None:
        if not self.closed:
            self._spool.close()
        super().close()
