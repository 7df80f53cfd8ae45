"""The codec contracts: I/O-free incremental compressors and decompressors.

A codec does no I/O. Bytes go in, bytes come out, so the same objects serve
sync and async streams (httpx's ``_decoders.py`` pattern). The stream
wrappers in :mod:`omnistorage.compression._streams` are thin loops over them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from omnistorage.compression._seal import Seal

__all__ = ["Buffer", "Codec", "Compressor", "Decompressor"]

#: What ``compress`` / ``decompress`` accept: any bytes-like object.
Buffer = bytes | bytearray | memoryview


@runtime_checkable
class Compressor(Protocol):
    """An incremental, single-use compressor.

    What the caller may rely on:

    - ``compress(data)`` returns the compressed bytes that are ready so far
      (often ``b""``: codecs buffer internally). Concatenating every returned
      value, in order, gives the stream.
    - ``flush()`` ends the current gzip member / zstd frame / snappy chunk and
      returns its remaining bytes. Everything written before a ``flush()`` is
      then decodable on its own: a crash after writing the flushed bytes loses
      nothing that was flushed. A later ``compress()`` starts a new
      member/frame. ``flush()`` with nothing pending returns ``b""`` (it never
      produces an empty member).
    - ``finish()`` ends the stream and returns the last bytes. A stream that
      never received data still finishes as a valid, empty stream (an empty
      gzip member, an empty zstd frame, a bare snappy stream identifier), so
      command-line tools accept it. No method may be called after ``finish()``.
    """

    def compress(self, data: Buffer) -> bytes:
        """Feed ``data``; return the compressed bytes ready so far."""
        ...

    def flush(self) -> bytes:
        """End the current member/frame/chunk; return its remaining bytes."""
        ...

    def finish(self) -> bytes:
        """End the stream; return its remaining bytes."""
        ...


@runtime_checkable
class Decompressor(Protocol):
    """An incremental, single-use decompressor.

    What the caller may rely on:

    - ``decompress(data, max_length=-1)`` returns bytes that ``data``
      (together with what was fed before) decodes to, at most
      ``max_length`` of them when it is not negative. Input may be split
      anywhere. What did not fit stays inside: ``needs_input`` is then False,
      and ``decompress(b"", n)`` returns more. Callers that pass a
      ``max_length`` and drain before feeding more hold bounded memory
      whatever the input (a decompression bomb included); without one the
      output is bounded only by the compression ratio.
    - Concatenated gzip members, zstd frames and snappy streams are decoded
      one after the other, as the command-line tools do.
    - Bytes that fail to decode or verify raise
      :class:`~omnistorage.errors.CorruptDataError`.
    - ``finish()`` states that the input ended. It raises
      :class:`~omnistorage.errors.TruncatedDataError` if the input ended inside a member, frame or
      chunk (the decoders of python-zstandard and python-snappy return short
      data silently there; ours do not). Empty input is a valid empty stream.
      It returns any remaining output (``b""`` for the built-in codecs).
    - Seals (:mod:`omnistorage.compression._seal`) are recognised and
      verified: a seal whose ``size`` differs from the bytes decoded since the
      previous seal (or the start) raises ``CorruptDataError``. ``seal`` is
      the last seal seen. Made with ``require_seal=True``, ``finish()`` raises
      ``TruncatedDataError`` unless the input ended right after a valid seal.
    """

    @property
    def seal(self) -> Seal | None:
        """The last seal seen so far (the object's own once ``finish()`` returned)."""
        ...

    @property
    def needs_input(self) -> bool:
        """False while decoded output is held back by ``max_length`` (drain it first)."""
        ...

    def decompress(self, data: Buffer, max_length: int = -1) -> bytes:
        """Feed ``data``; return up to ``max_length`` bytes of what it decodes to."""
        ...

    def finish(self) -> bytes:
        """Declare end of input; raise :class:`TruncatedDataError` if incomplete."""
        ...


@runtime_checkable
class Codec(Protocol):
    """A compression scheme with its options: a factory of codec objects.

    Codec objects are immutable, cheap and safe to share between threads;
    every call to :meth:`compressor` or :meth:`decompressor` returns a fresh
    single-use object, which is not thread-safe (one per stream).
    """

    @property
    def name(self) -> str:
        """The registry name (``"gzip"``, ``"zstd"``, ``"snappy"``, ``"none"``)."""
        ...

    @property
    def extensions(self) -> tuple[str, ...]:
        """Key suffixes that select this codec (``(".gz",)``), lower case."""
        ...

    def compressor(self) -> Compressor:
        """Return a new :class:`Compressor`."""
        ...

    def decompressor(self, *, require_seal: bool = False) -> Decompressor:
        """Return a new :class:`Decompressor`.

        With ``require_seal=True`` its ``finish()`` raises
        :class:`~omnistorage.errors.TruncatedDataError` unless the stream
        ended with a valid seal (``ConfigurationError`` for ``none``).
        """
        ...
