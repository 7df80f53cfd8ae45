"""Thin stream wrappers: a binary file object in, a compressed one out.

The codecs do the work; these classes only move bytes between a codec object
and a file-like object, holding at most one chunk's worth of data.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, Protocol

from omnistorage.compression._base import Buffer, Codec
from omnistorage.compression._seal import Seal
from omnistorage.errors import StreamClosed

__all__ = ["CompressedWriter", "DecompressedReader"]

DEFAULT_READ_SIZE = 64 * 1024
MAX_DECODE = 4 << 20
"""The most decoded bytes one step of a reader holds: bounds memory against bombs."""


class _Sink(Protocol):
    def write(self, data: bytes, /) -> int | None: ...

    def close(self) -> None: ...


class _Source(Protocol):
    def read(self, size: int = ..., /) -> bytes | None: ...

    def close(self) -> None: ...


class CompressedWriter(io.BufferedIOBase):
    """A writable binary stream that compresses into ``fileobj``.

    - ``write(b)`` compresses ``b`` and writes whatever output is ready to
      ``fileobj``; it always accepts all of ``b``.
    - ``flush()`` ends the current gzip member / zstd frame / snappy chunk,
      writes it and flushes ``fileobj`` (when it has ``flush``): everything
      written so far is then decodable even if the process dies.
    - ``close()`` finishes the stream (writing the final member/frame), then
      closes ``fileobj`` — which publishes it when it is an omnistorage
      Writer. With ``close_underlying=False`` it flushes ``fileobj`` and
      leaves it open. If writing the final bytes fails, it aborts instead
      (see ``abort()``) and re-raises.
    - ``abort()`` drops the codec state without finishing the stream and, when
      ``close_underlying`` is true, calls ``fileobj.abort()`` if it exists
      (omnistorage Writers discard the object) or else ``fileobj.close()``.
    - If a ``write`` or ``flush`` fails (the underlying write raised), the
      stream has lost bytes: later writes raise
      :class:`~omnistorage.errors.StreamClosed` and ``close()`` aborts
      instead of publishing, then raises ``StreamClosed``.
    - As a context manager, an exception inside the block calls ``abort()``
      and a normal exit calls ``close()``. Garbage collection never finishes
      or publishes anything (``__del__`` does not close).

    Raises:
        StreamClosed: ``write`` or ``flush`` after ``close``/``abort``.
    """

    def __init__(self, fileobj: _Sink, codec: Codec, *, close_underlying: bool = True) -> None:
        super().__init__()
        self._fileobj = fileobj
        self._compressor = codec.compressor()
        self._close_underlying = close_underlying
        self._done = False
        self._failure: BaseException | None = None

    def __del__(self) -> None:
        # io.IOBase.__del__ would call close(), which finishes the stream and
        # closes (publishes) the underlying writer. Never publish from GC.
        pass

    def writable(self) -> bool:
        return True

    def _write_out(self, data: bytes) -> None:
        # A raw stream may accept less than everything; ``None`` (what many
        # file-likes return) means it took it all.
        n = self._fileobj.write(data)
        while n is not None and n < len(data):
            if n <= 0:
                raise OSError("the underlying stream accepted no bytes")
            data = data[n:]
            n = self._fileobj.write(data)

    def _check_usable(self) -> None:
        if self._done:
            raise StreamClosed("write to a closed CompressedWriter")
        if self._failure is not None:
            raise StreamClosed(
                "an earlier write to this CompressedWriter failed; the stream is unusable"
            ) from self._failure

    def write(self, data: Buffer) -> int:  # type: ignore[override]
        self._check_usable()
        try:
            out = self._compressor.compress(data)
            if out:
                self._write_out(out)
        except BaseException as exc:
            self._failure = exc
            raise
        return memoryview(data).nbytes

    def flush(self) -> None:
        if self._done:
            return
        self._check_usable()
        try:
            out = self._compressor.flush()
            if out:
                self._write_out(out)
            flush: Callable[[], Any] | None = getattr(self._fileobj, "flush", None)
            if flush is not None:
                flush()
        except BaseException as exc:
            self._failure = exc
            raise

    def close(self) -> None:
        if self._done:
            return
        if self._failure is not None:
            # Bytes were lost: finishing would publish a damaged stream.
            failure = self._failure
            self.abort()
            raise StreamClosed(
                "not published: an earlier write to this CompressedWriter failed "
                "(the underlying writer was aborted)"
            ) from failure
        try:
            out = self._compressor.finish()
            if out:
                self._write_out(out)
        except BaseException:
            # The stream could not be completed: discard, never publish.
            self.abort()
            raise
        self._done = True
        try:
            if self._close_underlying:
                self._fileobj.close()
            else:
                flush: Callable[[], Any] | None = getattr(self._fileobj, "flush", None)
                if flush is not None:
                    flush()
        finally:
            super().close()

    def abort(self) -> None:
        """Discard: do not finish the stream; abort (or close) ``fileobj``."""
        if self._done:
            return
        self._done = True
        try:
            if self._close_underlying:
                abort: Callable[[], Any] | None = getattr(self._fileobj, "abort", None)
                if abort is not None:
                    abort()
                else:
                    self._fileobj.close()
        finally:
            super().close()

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class DecompressedReader(io.RawIOBase):
    """A readable binary stream that decompresses ``fileobj``.

    It reads ``fileobj`` in chunks of ``read_size`` compressed bytes and
    holds the decompressed output of one chunk at a time, so memory stays
    bounded whatever the stream's length. ``read(n)`` returns ``n`` bytes
    unless the stream ends first (like a buffered reader); ``readinto``,
    ``read()`` (all), ``peek`` and ``readline`` work directly; wrap it in
    :class:`io.BufferedReader` or :class:`io.TextIOWrapper` as needed.

    At the end of ``fileobj`` the codec checks the stream is complete, so a
    read that reaches the end of a truncated stream raises
    :class:`~omnistorage.errors.TruncatedDataError`, and bytes that fail to
    decode or verify raise :class:`~omnistorage.errors.CorruptDataError` —
    never silently short or wrong data. After such an error every later read
    raises it again. ``close()`` closes ``fileobj`` unless
    ``close_underlying=False``.

    Seals (:mod:`omnistorage.compression._seal`) are verified as they pass;
    :attr:`seal` is the last one seen (the object's own after EOF). With
    ``require_seal=True`` the read that reaches EOF raises
    :class:`~omnistorage.errors.TruncatedDataError` unless the stream ended
    right after a valid seal, so a cut at any byte is detected (``none``
    cannot be sealed: ``ConfigurationError``).
    """

    def __init__(
        self,
        fileobj: _Source,
        codec: Codec,
        *,
        close_underlying: bool = True,
        read_size: int = DEFAULT_READ_SIZE,
        require_seal: bool = False,
    ) -> None:
        super().__init__()
        if read_size <= 0:
            raise ValueError("read_size must be positive")
        self._decompressor = codec.decompressor(require_seal=require_seal)
        self._fileobj = fileobj
        self._close_underlying = close_underlying
        self._read_size = read_size
        self._buffer = b""
        self._pos = 0
        self._eof = False
        self._failure: BaseException | None = None

    def readable(self) -> bool:
        return True

    @property
    def name(self) -> Any:
        """The underlying object's ``name`` (``AttributeError`` if it has none)."""
        return self._fileobj.name  # type: ignore[attr-defined]

    @property
    def seal(self) -> Seal | None:
        """The last seal seen; after EOF, the seal that ends the stream (``None`` if unsealed)."""
        return self._decompressor.seal

    def _check_open(self) -> None:
        if self.closed:
            raise StreamClosed("read from a closed DecompressedReader")

    def _fill(self) -> int:
        """Make decoded bytes available; return how many (0 only at the end)."""
        while self._pos >= len(self._buffer):
            if self._failure is not None:
                # Stay failed: never resume after corrupt or missing bytes.
                raise self._failure
            if self._eof:
                return 0
            try:
                decompressor = self._decompressor
                if not decompressor.needs_input:  # output held back: drain it first
                    self._buffer = decompressor.decompress(b"", MAX_DECODE)
                    self._pos = 0
                    continue
                chunk = self._fileobj.read(self._read_size)
                if chunk is None:
                    raise BlockingIOError("the underlying stream would block")
                if chunk:
                    self._buffer = decompressor.decompress(chunk, MAX_DECODE)
                else:
                    self._buffer = self._decompressor.finish()
                    self._eof = True
            except BlockingIOError:
                raise
            except Exception as exc:
                self._failure = exc
                raise
            self._pos = 0
        return len(self._buffer) - self._pos

    def _take(self, size: int) -> bytes:
        start = self._pos
        if start == 0 and size >= len(self._buffer):
            out = self._buffer
        else:
            out = self._buffer[start : start + size]
        self._pos = start + len(out)
        return out

    def readinto(self, buffer: Any) -> int:
        self._check_open()
        view = memoryview(buffer).cast("B")
        if not view or not self._fill():
            return 0
        start = self._pos
        n = min(len(view), len(self._buffer) - start)
        view[:n] = self._buffer[start : start + n]
        self._pos = start + n
        return n

    def read(self, size: int | None = -1) -> bytes:
        """Return ``size`` bytes, fewer only at the end of the stream (all if negative)."""
        self._check_open()
        if size is None or size < 0:
            return self.readall()
        if size == 0 or not self._fill():
            return b""
        first = self._take(size)
        if len(first) == size:
            return first
        parts = [first]
        missing = size - len(first)
        while missing and self._fill():
            part = self._take(missing)
            parts.append(part)
            missing -= len(part)
        return b"".join(parts)

    def read1(self, size: int = -1) -> bytes:
        """Return at most ``size`` bytes (one chunk's worth if negative)."""
        self._check_open()
        if not self._fill():
            return b""
        return self._take(len(self._buffer) if size < 0 else size)

    def readall(self) -> bytes:
        self._check_open()
        parts: list[bytes] = []
        while self._fill():
            parts.append(self._take(len(self._buffer)))
        return b"".join(parts)

    def peek(self, size: int = 0) -> bytes:
        """Return decoded bytes without consuming them (at least one unless at the end)."""
        self._check_open()
        if not self._fill():
            return b""
        return self._buffer[self._pos :]

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._close_underlying:
                self._fileobj.close()
        finally:
            self._buffer = b""
            super().close()
