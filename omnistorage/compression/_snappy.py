"""snappy: the snappy *framing* format, built here on raw snappy blocks.

The framing format (google/snappy ``framing_format.txt``) is a sequence of
chunks, each ``type (1 byte) · length (3 bytes LE) · body``:

- ``0xff`` stream identifier, body ``b"sNaPpY"``; first in every stream and
  allowed again later (concatenated streams);
- ``0x00`` compressed data: masked CRC-32C of the *uncompressed* data (4 bytes
  LE) then a raw snappy block of at most 65536 uncompressed bytes;
- ``0x01`` uncompressed data: masked CRC-32C then at most 65536 bytes;
- ``0xfe`` padding: skipped;
- ``0xa5`` holding a seal (:mod:`omnistorage.compression._seal`): verified;
- other ``0x80``-``0xfd`` reserved skippable chunks: an error naming the type and
  offset (one flipped bit turns a data chunk into one, which a lenient reader
  would skip, silently losing its records), unless ``allow_skippable=True``;
- ``0x02``-``0x7f`` reserved unskippable chunks: an error.

We parse chunk headers ourselves and verify every CRC, so a stream that stops
inside a chunk, or whose bytes changed, raises instead of returning short or
wrong data. Raw block compression comes from cramjam, the engine of
python-snappy 0.7.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from omnistorage.compression._base import Buffer
from omnistorage.compression._crc import masked_crc32c
from omnistorage.compression._imports import require
from omnistorage.compression._seal import (
    SEAL_MAGIC,
    SEAL_PAYLOAD_SIZE,
    SNAPPY_SEAL_CHUNK,
    Seal,
    SealTracker,
)
from omnistorage.errors import CorruptDataError, StreamClosed, TruncatedDataError

__all__ = ["SnappyCodec"]

STREAM_IDENTIFIER = b"\xff\x06\x00\x00sNaPpY"
CHUNK_SIZE = 65536  # the format's maximum uncompressed data per chunk
_MAX_COMPRESSED = 32 + CHUNK_SIZE + CHUNK_SIZE // 6  # snappy MaxCompressedLength(65536)
_COMPRESSED = 0x00
_UNCOMPRESSED = 0x01
_PADDING = 0xFE
_IDENTIFIER = 0xFF


def _snappy() -> Any:
    # python-snappy 0.7 is the declared dependency; it is built on cramjam.
    return require("cramjam", codec="snappy", install="python-snappy").snappy


class SnappyFramedCompressor:
    """Buffers input into 64 KiB chunks; ``flush()`` emits a short chunk."""

    __slots__ = ("_buffer", "_compress_raw", "_finished", "_started")

    def __init__(self) -> None:
        self._compress_raw = _snappy().compress_raw
        self._buffer = bytearray()
        self._started = False
        self._finished = False

    def _chunk(self, raw: bytes) -> bytes:
        crc = masked_crc32c(raw).to_bytes(4, "little")
        packed = bytes(self._compress_raw(raw))
        # Store uncompressed when compression saves less than 1/8 (as the
        # reference implementation does).
        if len(packed) < len(raw) - len(raw) // 8:
            kind, body = _COMPRESSED, packed
        else:
            kind, body = _UNCOMPRESSED, raw
        header = bytes((kind,)) + (len(body) + 4).to_bytes(3, "little")
        return b"".join((header, crc, body))

    def _start(self, out: list[bytes]) -> None:
        if not self._started:
            self._started = True
            out.append(STREAM_IDENTIFIER)

    def compress(self, data: Buffer) -> bytes:
        if self._finished:
            raise StreamClosed("snappy compressor used after finish()")
        view = memoryview(data).cast("B")
        buffer = self._buffer
        if len(buffer) + len(view) < CHUNK_SIZE:
            buffer += view
            return b""
        out: list[bytes] = []
        self._start(out)
        if buffer:
            need = CHUNK_SIZE - len(buffer)
            buffer += view[:need]
            view = view[need:]
            out.append(self._chunk(bytes(buffer)))
            buffer.clear()
        while len(view) >= CHUNK_SIZE:
            out.append(self._chunk(bytes(view[:CHUNK_SIZE])))
            view = view[CHUNK_SIZE:]
        buffer += view
        return b"".join(out)

    def flush(self) -> bytes:
        if self._finished:
            raise StreamClosed("snappy compressor used after finish()")
        if not self._buffer:
            return b""
        out: list[bytes] = []
        self._start(out)
        out.append(self._chunk(bytes(self._buffer)))
        self._buffer.clear()
        return b"".join(out)

    def finish(self) -> bytes:
        if self._finished:
            raise StreamClosed("snappy compressor finished twice")
        out = self.flush()
        if not self._started:
            self._started = True
            out = STREAM_IDENTIFIER
        self._finished = True
        return out


class SnappyFramedDecompressor:
    """Parses chunks, verifies each CRC, and knows when input stops mid-chunk."""

    __slots__ = (
        "_allow_skippable",
        "_buffer",
        "_decompress_raw",
        "_errors",
        "_finished",
        "_held",
        "_more",
        "_offset",
        "_raw_len",
        "_tracker",
    )

    def __init__(self, *, allow_skippable: bool = False, require_seal: bool = False) -> None:
        self._allow_skippable = allow_skippable
        self._tracker = SealTracker("snappy", require=require_seal)
        self._held = b""  # decoded bytes beyond the caller's max_length
        self._more = False  # whole chunks wait in the buffer (the last call hit max_length)
        snappy = _snappy()
        self._decompress_raw = snappy.decompress_raw
        self._raw_len = snappy.decompress_raw_len
        self._errors: tuple[type[BaseException], ...] = (
            require("cramjam", codec="snappy", install="python-snappy").DecompressionError,
        )
        self._buffer = bytearray()
        self._offset = 0  # stream offset of self._buffer[0], for messages
        self._finished = False

    def _corrupt(self, pos: int, why: str) -> CorruptDataError:
        return CorruptDataError(f"corrupt snappy stream at byte {self._offset + pos}: {why}")

    @property
    def needs_input(self) -> bool:
        return not self._held and not self._more

    @property
    def seal(self) -> Seal | None:
        """The last seal seen (see :mod:`omnistorage.compression._seal`)."""
        return self._tracker.seal

    def decompress(self, data: Buffer, max_length: int = -1) -> bytes:
        if self._finished:
            raise StreamClosed("snappy decompressor used after finish() or an error")
        try:
            out = self._decompress(data, max_length)
        except CorruptDataError:
            self._finished = True  # never resume inside damaged input
            raise
        if self._held:
            out = self._held + out
            self._held = b""
        if 0 <= max_length < len(out):
            out, self._held = out[:max_length], out[max_length:]
        return out

    def _decompress(self, data: Buffer, max_length: int) -> bytes:
        buffer = self._buffer
        buffer += data
        out: list[bytes] = []
        produced = len(self._held)
        pos = 0
        end = len(buffer)
        self._more = False
        if self._offset == 0 and end and buffer[0] != _IDENTIFIER:
            raise self._corrupt(0, "the stream does not start with a stream identifier")
        while end - pos >= 4:
            if 0 <= max_length <= produced:
                self._more = True  # more whole chunks may wait: the caller drains
                break
            kind = buffer[pos]
            length = buffer[pos + 1] | buffer[pos + 2] << 8 | buffer[pos + 3] << 16
            if kind == _COMPRESSED:
                if not 4 < length <= 4 + _MAX_COMPRESSED:
                    raise self._corrupt(pos, f"bad compressed chunk length {length}")
            elif kind == _UNCOMPRESSED:
                if not 4 <= length <= 4 + CHUNK_SIZE:
                    raise self._corrupt(pos, f"bad uncompressed chunk length {length}")
            elif kind == _IDENTIFIER:
                if length != 6:
                    raise self._corrupt(pos, "bad stream identifier")
            elif kind < 0x80:
                raise self._corrupt(pos, f"reserved unskippable chunk type {kind:#04x}")
            elif (
                kind == SNAPPY_SEAL_CHUNK
                and length == SEAL_PAYLOAD_SIZE
                and (end - pos < 12 or self._seal_at(pos, length))
            ):
                pass  # a seal (or maybe one: its magic is not all here yet)
            elif kind != _PADDING and not self._allow_skippable:
                raise self._corrupt(
                    pos,
                    f"reserved skippable chunk type {kind:#04x} (a damaged data chunk? "
                    "pass SnappyCodec(allow_skippable=True) to skip such chunks)",
                )
            start = pos + 4
            stop = start + length
            if stop > end:
                break
            pos = stop
            if kind <= _UNCOMPRESSED:
                raw = self._data_chunk(kind, bytes(buffer[start:stop]), start - 4)
                out.append(raw)
                produced += len(raw)
                self._tracker.output(len(raw))
            elif kind == SNAPPY_SEAL_CHUNK and self._seal_at(start - 4, length):
                where = f"at byte {self._offset + start - 4}"
                self._tracker.found(bytes(buffer[start:stop]), where)
                continue
            elif kind == _IDENTIFIER and buffer[start:stop] != b"sNaPpY":
                raise self._corrupt(start - 4, "bad stream identifier")
            # Padding and other skippable chunks are ignored. Only a seal can
            # end a sealed object: any other chunk after one needs its own.
            self._tracker.data()
        if pos:
            del buffer[:pos]
            self._offset += pos
        if len(out) == 1:
            return out[0]
        return b"".join(out)

    def _seal_at(self, pos: int, length: int) -> bool:
        """True when the chunk at ``pos`` is a seal (its first 8 payload bytes suffice)."""
        buffer = self._buffer
        return length == SEAL_PAYLOAD_SIZE and buffer[pos + 4 : pos + 12] == SEAL_MAGIC

    def _data_chunk(self, kind: int, body: bytes, pos: int) -> bytes:
        expected = int.from_bytes(body[:4], "little")
        if kind == _COMPRESSED:
            packed = body[4:]
            try:
                if self._raw_len(packed) > CHUNK_SIZE:
                    raise self._corrupt(pos, "chunk decompresses to more than 64 KiB")
                raw = bytes(self._decompress_raw(packed))
            except self._errors as exc:
                raise self._corrupt(pos, f"bad snappy block ({exc})") from exc
        else:
            raw = body[4:]
        if masked_crc32c(raw) != expected:
            raise self._corrupt(pos, "chunk checksum mismatch")
        return raw

    def finish(self) -> bytes:
        if self._finished:
            return b""
        drained: list[bytes] = []
        while not self.needs_input:  # output a max_length held back
            drained.append(self.decompress(b"", 1 << 20))
        self._finished = True
        if self._buffer:
            raise TruncatedDataError(
                f"truncated snappy stream: the input ended inside a chunk at byte {self._offset}"
            )
        self._tracker.check_end()
        return b"".join(drained)


@dataclass(frozen=True, kw_only=True, slots=True)
class SnappyCodec:
    """snappy framing format (``.sz``, ``.snappy``), input buffered into 64 KiB chunks.

    Every chunk carries a masked CRC-32C of its uncompressed bytes, verified
    on read. Every ``flush()`` emits the buffered data as a (short) chunk.
    The framing format has no end marker: a stream cut exactly at a chunk
    boundary is a valid shorter stream; a cut anywhere else raises
    :class:`~omnistorage.errors.TruncatedDataError`. Compatible with
    python-snappy's ``StreamCompressor``/``StreamDecompressor`` and ``snzip``.

    Args:
        allow_skippable: skip reserved skippable chunks (types 0x80-0xfd) as
            the format allows; by default they raise
            :class:`~omnistorage.errors.CorruptDataError` naming the type and
            offset, because one flipped bit turns a data chunk into one.
            Padding (0xfe) is always skipped.
    """

    name: ClassVar[str] = "snappy"
    extensions: ClassVar[tuple[str, ...]] = (".sz", ".snappy")

    allow_skippable: bool = False

    def compressor(self) -> SnappyFramedCompressor:
        """Return a new framing-format compressor."""
        return SnappyFramedCompressor()

    def decompressor(self, *, require_seal: bool = False) -> SnappyFramedDecompressor:
        """Return a new framing-format decompressor (see :class:`Decompressor` for seals)."""
        return SnappyFramedDecompressor(
            allow_skippable=self.allow_skippable, require_seal=require_seal
        )
