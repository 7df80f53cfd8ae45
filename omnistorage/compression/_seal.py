"""Seals: end-of-object markers that standard tools skip and our readers verify.

A stream of gzip members, zstd frames or snappy chunks that was cut exactly
at a member/frame/chunk boundary is a valid, shorter stream: nothing in the
format tells it from a complete one. A *seal*, appended once the writer
finished, says "this is where the object ends, after ``records`` records and
``size`` uncompressed bytes". A reader that knows the object was sealed
(``require_seal=True``) then detects a cut at any byte.

The seal is a 28-byte payload::

    b"OMNISEAL" · records (u64 LE) · size (u64 LE) · CRC-32 of the 24 bytes before (u32 LE)

wrapped in what each format defines as ignorable:

- ``zstd``: a skippable frame, magic ``0x184D2A5B`` (``zstd -d`` skips it; the
  seekable format uses 0x184D2A5E and pzstd 0x184D2A50, so those are avoided);
- ``gzip``: an empty member whose header carries an FEXTRA subfield
  ``b"OS"`` holding the payload (``gzip -d`` outputs nothing for it);
- ``snappy``: a stream identifier then a reserved skippable chunk of type
  ``0xA5`` holding the payload (python-snappy skips it; our reader accepts
  exactly this chunk and still rejects other skippable chunks by default).

``size`` counts the uncompressed bytes since the previous seal (or the
start of the stream), so sealed objects can be concatenated. The seal has no
checksum of the data itself: every gzip member (CRC-32), zstd frame (XXH64)
and snappy chunk (CRC-32C) carries its own, which decoders verify.

``none`` (uncompressed bytes) cannot be sealed: any marker would be data.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from omnistorage.errors import ConfigurationError, CorruptDataError, TruncatedDataError

__all__ = [
    "Seal",
    "SealTracker",
    "can_seal",
    "find_gzip_seal",
    "is_seal_payload",
    "parse_seal_payload",
    "seal_bytes",
]

SEAL_MAGIC = b"OMNISEAL"
SEAL_PAYLOAD_SIZE = 28
ZSTD_SEAL_MAGIC = 0x184D2A5B  # one of the sixteen skippable-frame magics
GZIP_SEAL_SUBFIELD = b"OS"  # FEXTRA subfield id (SI1, SI2)
SNAPPY_SEAL_CHUNK = 0xA5  # a reserved skippable chunk type (0x80-0xfd)
_SNAPPY_IDENTIFIER = b"\xff\x06\x00\x00sNaPpY"
_U64 = 1 << 64
_SEALABLE = ("gzip", "zstd", "snappy")


@dataclass(frozen=True, slots=True)
class Seal:
    """What a seal states about the bytes before it.

    Attributes:
        records: the record count written before the seal (the writer's
            count; codecs carry it, record readers compare it).
        size: uncompressed bytes before the seal, since the previous seal
            or the stream start. Decompressors verify it.
    """

    records: int
    size: int

    def __post_init__(self) -> None:
        for name in ("records", "size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _U64:
                raise ConfigurationError(f"Seal.{name} must be an int in 0..2**64-1, got {value!r}")


def can_seal(codec_name: str) -> bool:
    """True for ``"gzip"``, ``"zstd"`` and ``"snappy"``; False for ``"none"`` and others."""
    return codec_name in _SEALABLE


def _payload(seal: Seal) -> bytes:
    body = SEAL_MAGIC + seal.records.to_bytes(8, "little") + seal.size.to_bytes(8, "little")
    return body + zlib.crc32(body).to_bytes(4, "little")


def seal_bytes(codec_name: str, seal: Seal) -> bytes:
    """The end marker for ``codec_name`` (``"gzip"`` | ``"zstd"`` | ``"snappy"``).

    A zstd skippable frame, a gzip empty member carrying an FEXTRA subfield,
    or a snappy stream identifier plus skippable chunk; standard tools ignore
    it. Append it to the compressed stream after the compressor's
    ``finish()`` (or ``flush()``): it is self-contained and never joins a
    member.

    Raises:
        ConfigurationError: the codec cannot be sealed (``"none"``, unknown).
    """
    payload = _payload(seal)
    if codec_name == "zstd":
        return ZSTD_SEAL_MAGIC.to_bytes(4, "little") + len(payload).to_bytes(4, "little") + payload
    if codec_name == "gzip":
        extra = GZIP_SEAL_SUBFIELD + len(payload).to_bytes(2, "little") + payload
        header = b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff" + len(extra).to_bytes(2, "little")
        # An empty deflate body (one final fixed-Huffman block holding only
        # end-of-block), then CRC-32 0 and ISIZE 0.
        return header + extra + b"\x03\x00" + bytes(8)
    if codec_name == "snappy":
        chunk = bytes((SNAPPY_SEAL_CHUNK,)) + len(payload).to_bytes(3, "little") + payload
        return _SNAPPY_IDENTIFIER + chunk
    raise ConfigurationError(
        f"codec {codec_name!r} cannot be sealed (only gzip, zstd and snappy can)"
    )


def is_seal_payload(payload: bytes) -> bool:
    """True when ``payload`` has a seal's size and magic (its CRC is checked later).

    Markers of the same type that are not seals (other skippable frames,
    FEXTRA subfields or chunks) are ignored as the formats allow.
    """
    return len(payload) == SEAL_PAYLOAD_SIZE and payload.startswith(SEAL_MAGIC)


def parse_seal_payload(payload: bytes) -> Seal | None:
    """The :class:`Seal` in ``payload``; ``None`` if it is not a well-formed seal."""
    if len(payload) != SEAL_PAYLOAD_SIZE or not payload.startswith(SEAL_MAGIC):
        return None
    if zlib.crc32(payload[:24]) != int.from_bytes(payload[24:], "little"):
        return None
    return Seal(
        records=int.from_bytes(payload[8:16], "little"),
        size=int.from_bytes(payload[16:24], "little"),
    )


def find_gzip_seal(extra: bytes) -> bytes | None:
    """The seal subfield's data in a gzip FEXTRA field, if it has one."""
    pos = 0
    while pos + 4 <= len(extra):
        length = int.from_bytes(extra[pos + 2 : pos + 4], "little")
        data = extra[pos + 4 : pos + 4 + length]
        if extra[pos : pos + 2] == GZIP_SEAL_SUBFIELD and is_seal_payload(data):
            return data
        pos += 4 + length
    return None


class SealTracker:
    """Counts decoded bytes, verifies seals and knows whether the stream ended sealed.

    Used inside decompressors: ``output(n)`` for every decoded byte count (in
    stream order), ``data()`` when a non-seal member/frame/data chunk starts,
    ``found(payload, where)`` for a seal, ``check_end()`` from ``finish()``.
    """

    __slots__ = ("_codec", "at_seal", "produced", "require", "seal")

    def __init__(self, codec: str, *, require: bool) -> None:
        self._codec = codec
        self.require = require
        self.produced = 0  # decoded bytes since the last seal (or the start)
        self.seal: Seal | None = None
        self.at_seal = False  # nothing but the last seal since it

    def output(self, n: int) -> None:
        if n:
            self.produced += n
            self.at_seal = False

    def data(self) -> None:
        self.at_seal = False

    def found(self, payload: bytes, where: str) -> None:
        """Verify a seal's payload against the bytes decoded since the previous seal."""
        seal = parse_seal_payload(payload)
        if seal is None:
            raise CorruptDataError(f"corrupt {self._codec} stream: a damaged seal {where}")
        if seal.size != self.produced:
            raise CorruptDataError(
                f"corrupt {self._codec} stream: the seal {where} states {seal.size} "
                f"uncompressed bytes, but {self.produced} were decoded before it"
            )
        self.seal = seal
        self.produced = 0
        self.at_seal = True

    def check_end(self) -> None:
        """Raise :class:`TruncatedDataError` if a seal is required but did not end the stream."""
        if self.require and not self.at_seal:
            raise TruncatedDataError(
                f"truncated {self._codec} stream: the object was sealed but the seal is "
                "missing at its end: truncated"
            )
