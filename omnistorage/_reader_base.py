"""The reader classes the layers and drivers build on, written once.

A driver's ``new_reader`` returns a binary stream; the layers wrap one in another, and
some drivers serve a stream from ranged reads of a pinned version. Each of those
readers needs the same surface (``read``, ``readinto``, ``readline``, ``readable``,
``close``/``closed``, ``with``), and differs only in how it reads:

- :class:`ReaderBase`: everything from one method, ``read(size)``.
- :class:`WrappedReader`: forwards ``read`` and ``close`` to an inner reader and passes its
  ``info`` (``READ_INFO``) on; a layer overrides only the methods it changes.
- :class:`RangeReader`: a stream over ``[offset, end)`` of a
  :class:`~omnistorage.driver.PinnedReader` (one version by construction), one
  ranged read of at most ``step`` bytes at a time.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from omnistorage.driver import PinnedReader

__all__ = ["RangeReader", "ReaderBase", "WrappedReader"]


class ReaderBase:
    """A binary reader whose subclass gives ``read(size)`` (``-1``/``None``: to the end)."""

    closed = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        raise NotImplementedError

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(view.nbytes)
        view[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        """Up to and including the next ``\\n`` (at most ``size`` bytes). Unbuffered: it
        reads one byte at a time, as a raw stream does; wrap the reader in
        :class:`io.BufferedReader` for many lines."""
        limit = -1 if size is None else size
        line = bytearray()
        while limit < 0 or len(line) < limit:
            byte = self.read(1)
            if not byte:
                break
            line += byte
            if byte == b"\n":
                break
        return bytes(line)

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class WrappedReader(ReaderBase):
    """Forwards to ``inner`` (see the module docstring); closing closes it once."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self.info = getattr(inner, "info", None)  # READ_INFO passes through

    def read(self, size: int | None = -1) -> bytes:
        return self._inner.read(-1 if size is None else size)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._inner.close()


class RangeReader(ReaderBase):
    """A stream over ``[offset, end)`` of ``pin`` in ranged reads of at most ``step`` bytes.
    With ``owns_pin`` closing the stream closes the pin."""

    def __init__(
        self, pin: PinnedReader, offset: int, end: int, *, step: int, owns_pin: bool
    ) -> None:
        self._pin, self._pos, self._end = pin, offset, max(end, offset)
        self._step, self._owns_pin = step, owns_pin

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while chunk := self.read(self._step):
                parts.append(chunk)
            return b"".join(parts)
        want = min(size, self._end - self._pos)
        if want <= 0:
            return b""
        data = self._pin.read_range(self._pos, want)
        self._pos += len(data)
        return data

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._owns_pin:
                self._pin.close()
