"""One gzip member (RFC 1952), parsed here around a raw deflate decoder.

The header (FTEXT, FHCRC, FEXTRA, FNAME, FCOMMENT) and the trailer (CRC-32,
ISIZE) are parsed and verified by this module; only the deflate body goes to
zlib or ISA-L, as raw deflate (``wbits=-15``). So a header split across any
number of ``decompress`` calls parses the same, whatever the engine
(python-isal 1.9's own gzip mode mis-parses a header split across calls).

Output is bounded: ``decompress(data, max_length)`` returns at most
``max_length`` bytes and keeps the rest of the input (``needs_input`` is then
False), the interface of the standard library's bz2/lzma decompressors.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from omnistorage.compression._base import Buffer
from omnistorage.compression._seal import find_gzip_seal
from omnistorage.errors import CorruptDataError

__all__ = ["GzipMember"]

_MAGIC = b"\x1f\x8b"
_FHCRC, _FEXTRA, _FNAME, _FCOMMENT = 0x02, 0x04, 0x08, 0x10
_RESERVED = 0xE0
_HEADER, _BODY, _TRAILER, _DONE = range(4)


class GzipMember:
    """Decodes one member; ``eof`` once its trailer verified, ``unused_data`` after it.

    ``new_inflater()`` returns a raw-deflate decompress object with
    ``decompress(data, max_length)``, ``unconsumed_tail``, ``unused_data`` and
    ``eof`` (zlib's or ISA-L's); ``crc32`` is the matching CRC function.
    Bad bytes raise :class:`CorruptDataError` naming what was wrong.
    ``seal_payload`` is the seal subfield of the header's FEXTRA field, if
    any (see :mod:`omnistorage.compression._seal`).
    """

    __slots__ = (
        "_crc",
        "_crc32",
        "_full",
        "_inflater",
        "_new_inflater",
        "_pending",
        "_size",
        "_state",
        "eof",
        "seal_payload",
        "unused_data",
    )

    def __init__(
        self, new_inflater: Callable[[], Any], crc32: Callable[[Buffer, int], int]
    ) -> None:
        self._new_inflater = new_inflater
        self._crc32 = crc32
        self._state = _HEADER
        self._pending = b""  # header/trailer bytes gathered, or input the inflater left
        self._inflater: Any = None
        self._crc = 0
        self._size = 0
        self._full = False  # the last call stopped at max_length: output may be pending
        self.eof = False
        self.unused_data = b""
        self.seal_payload: bytes | None = None

    @property
    def needs_input(self) -> bool:
        """False while input is held that a further ``decompress(b"")`` would decode."""
        if self._state in (_HEADER, _TRAILER):
            return True
        return not self._pending and not self._full

    @property
    def started(self) -> bool:
        """True once any byte of this member was seen (for truncation reports)."""
        return self._state != _HEADER or bool(self._pending)

    def decompress(self, data: Buffer, max_length: int = -1) -> bytes:
        if self._pending:
            data = self._pending + bytes(data)
            self._pending = b""
        if self._state == _HEADER:
            data = self._parse_header(bytes(data))
            if self._state == _HEADER or not data:
                return b""
        if self._state == _BODY:
            out = self._inflate(data, max_length)
            if self._state != _TRAILER:
                return out
            data, self._pending = self._pending, b""
        else:
            out = b""
        if self._state == _TRAILER:
            self._parse_trailer(bytes(data))
        return out

    def _parse_header(self, data: bytes) -> bytes:
        """Consume the header from ``data`` if it is all there; return what follows."""
        end = _header_end(data)
        if end is None:
            self._pending = data
            return b""
        self._state = _BODY
        if data[3] & _FEXTRA:
            xlen = int.from_bytes(data[10:12], "little")
            self.seal_payload = find_gzip_seal(data[12 : 12 + xlen])
        self._inflater = self._new_inflater()
        return data[end:]

    def _inflate(self, data: Buffer, max_length: int) -> bytes:
        inflater = self._inflater
        try:
            out: bytes = inflater.decompress(data, max_length if max_length > 0 else 0)
            self._full = max_length > 0 and len(out) >= max_length
        except zlib.error as exc:
            raise CorruptDataError(f"corrupt gzip stream: {exc}") from exc
        except Exception as exc:  # ISA-L's own error type
            raise CorruptDataError(f"corrupt gzip stream: {exc}") from exc
        if out:
            self._crc = self._crc32(out, self._crc)
            self._size += len(out)
        if inflater.eof:
            self._state = _TRAILER
            self._pending = bytes(inflater.unused_data)
        else:
            self._pending = bytes(inflater.unconsumed_tail)
        return out

    def _parse_trailer(self, data: bytes) -> None:
        if len(data) < 8:
            self._pending = data
            return
        crc = int.from_bytes(data[:4], "little")
        size = int.from_bytes(data[4:8], "little")
        if crc != self._crc:
            raise CorruptDataError("corrupt gzip stream: CRC-32 check failed")
        if size != self._size & 0xFFFFFFFF:
            raise CorruptDataError("corrupt gzip stream: length check (ISIZE) failed")
        self._state = _DONE
        self.eof = True
        self.unused_data = data[8:]


def _header_end(data: bytes) -> int | None:
    """The length of the gzip header at the start of ``data``; None if incomplete.

    Raises CorruptDataError as soon as the bytes seen cannot start a member.
    """
    if (len(data) >= 1 and data[0] != 0x1F) or (len(data) >= 2 and data[:2] != _MAGIC):
        raise CorruptDataError("corrupt gzip stream: bytes that are not a gzip member")
    if len(data) >= 3 and data[2] != 8:
        raise CorruptDataError(f"corrupt gzip stream: unknown compression method {data[2]}")
    if len(data) >= 4 and data[3] & _RESERVED:
        raise CorruptDataError("corrupt gzip stream: reserved header flags are set")
    if len(data) < 10:
        return None
    flags = data[3]
    pos = 10
    if flags & _FEXTRA:
        if len(data) < pos + 2:
            return None
        pos += 2 + int.from_bytes(data[pos : pos + 2], "little")
    for flag in (_FNAME, _FCOMMENT):
        if flags & flag:
            zero = data.find(b"\x00", pos)
            if zero < 0:
                return None
            pos = zero + 1
    if flags & _FHCRC:
        if len(data) < pos + 2:
            return None
        if int.from_bytes(data[pos : pos + 2], "little") != zlib.crc32(data[:pos]) & 0xFFFF:
            raise CorruptDataError("corrupt gzip stream: header CRC (FHCRC) check failed")
        pos += 2
    if len(data) < pos:
        return None
    return pos
