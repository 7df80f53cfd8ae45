"""Length-prefixed records: TFRecord framing (checksummed), varint, u32be.

TFRecord framing, byte-exact with TensorFlow's ``TFRecordWriter``::

    u64 LE length · u32 LE masked-CRC32C(length bytes) · payload · u32 LE masked-CRC32C(payload)

``varint`` (unsigned LEB128 length, then payload) and ``u32be`` (4-byte
big-endian length, then payload) carry no checksum: corruption inside a
payload is not detected, and a damaged length usually shows up as a
truncated or oversized record.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from omnistorage.compression import masked_crc32c
from omnistorage.errors import (
    ConfigurationError,
    CorruptRecordError,
    RecordTooLargeError,
    TruncatedRecordError,
)
from omnistorage.formats._base import (
    DEFAULT_MAX_RECORD_SIZE,
    DecoderBase,
    SkipCallback,
    check_max_record_size,
)

__all__ = [
    "Framing",
    "LengthPrefixed",
    "LengthPrefixedDecoder",
    "LengthPrefixedEncoder",
    "TFRecord",
]

Framing = Literal["tfrecord", "varint", "u32be"]
_FRAMINGS = ("tfrecord", "varint", "u32be")

_U64 = struct.Struct("<Q")
_U32LE = struct.Struct("<I")
_U32BE = struct.Struct(">I")
_TF_HEADER = 12  # u64 length + u32 length CRC
_TF_OVERHEAD = 16  # header + u32 payload CRC
_MAX_VARINT_BYTES = 10


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class LengthPrefixedEncoder:
    """Frames bytes-like records (see :class:`LengthPrefixed`)."""

    __slots__ = ("_framing", "_max")

    def __init__(self, *, framing: Framing, max_record_size: int) -> None:
        self._framing = framing
        self._max = max_record_size

    def encode(self, record: Any) -> bytes:
        """Return one framed record.

        Raises:
            TypeError: ``record`` is not bytes-like (``str`` must be encoded
                by the caller).
            RecordTooLargeError: longer than ``max_record_size``.
        """
        payload: bytes
        if type(record) is bytes:
            payload = record
        elif isinstance(record, bytearray | memoryview):
            payload = bytes(record)
        else:
            raise TypeError(f"length-prefixed records are bytes-like, not {type(record).__name__}")
        size = len(payload)
        if size > self._max:
            raise RecordTooLargeError(f"record of {size} bytes exceeds max_record_size={self._max}")
        if self._framing == "tfrecord":
            header = _U64.pack(size)
            return b"".join(
                (
                    header,
                    _U32LE.pack(masked_crc32c(header)),
                    payload,
                    _U32LE.pack(masked_crc32c(payload)),
                )
            )
        if self._framing == "varint":
            return _varint(size) + payload
        if size > 0xFFFFFFFF:
            raise RecordTooLargeError(f"record of {size} bytes does not fit a u32be length")
        return _U32BE.pack(size) + payload

    def encode_many(self, records: Iterable[Any]) -> bytes:
        """Return the framed records joined; the same bytes as ``encode`` on each."""
        return b"".join(map(self.encode, records))

    def finish(self) -> bytes:
        """Length-prefixed objects need no trailer: returns ``b""``."""
        return b""


class LengthPrefixedDecoder(DecoderBase):
    """Parses framed records; in recover mode, resynchronises on damage."""

    _label = "length-prefixed"

    __slots__ = (
        "_base",
        "_buffer",
        "_damage_start",
        "_framing",
        "_max",
        "_on_skip",
        "_recover",
    )

    def __init__(
        self,
        *,
        framing: Framing,
        max_record_size: int,
        recover: bool,
        on_skip: SkipCallback | None,
    ) -> None:
        super().__init__()
        self._framing = framing
        self._max = max_record_size
        self._recover = recover
        self._on_skip = on_skip
        self._buffer = bytearray()
        self._base = 0  # stream offset of self._buffer[0]
        self._damage_start: int | None = None  # stream offset, while resynchronising

    # -- DecoderBase hooks -----------------------------------------------

    def _feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        self._buffer += data
        return self._run(final=False)

    def _finish(self) -> list[bytes]:
        """Return the last records; raise if the input stopped inside a record."""
        return self._run(final=True)

    # -- parsing ----------------------------------------------------------

    def _run(self, *, final: bool) -> list[bytes]:
        out: list[bytes] = []
        pos = 0
        try:
            if self._framing == "tfrecord":
                pos = self._parse_tfrecord(out, final)
            else:
                pos = self._parse_unchecked(out)
            if final and pos < len(self._buffer):
                raise TruncatedRecordError(
                    f"record file ends inside the record at byte offset {self._base + pos} "
                    f"({len(self._buffer) - pos} bytes of it present)"
                )
        finally:
            if pos:
                del self._buffer[:pos]
                self._base += pos
        return out

    def _corrupt(self, pos: int, what: str) -> CorruptRecordError:
        return CorruptRecordError(f"{what} in the record at byte offset {self._base + pos}")

    def _too_large(self, pos: int, length: int) -> RecordTooLargeError:
        return RecordTooLargeError(
            f"the record at byte offset {self._base + pos} declares {length} bytes, "
            f"more than max_record_size={self._max}"
        )

    def _parse_tfrecord(self, out: list[bytes], final: bool) -> int:
        """Parse records from the buffer; return how many bytes were consumed."""
        buf = self._buffer
        end = len(buf)
        pos = 0
        while True:
            if self._damage_start is not None:
                pos = self._resync(pos, final)
                if self._damage_start is not None:
                    return pos  # still inside damage: wait for more input
            if end - pos < _TF_HEADER:
                if final and pos < end and self._recover:
                    self._damage_start = self._base + pos  # a truncated tail
                    pos += 1
                    continue
                return pos
            header = bytes(buf[pos : pos + 8])
            length = _U64.unpack(header)[0]
            if masked_crc32c(header) != _U32LE.unpack_from(buf, pos + 8)[0]:
                if not self._recover:
                    raise self._corrupt(pos, "length checksum mismatch")
                self._damage_start = self._base + pos
                pos += 1
                continue
            if length > self._max:
                raise self._too_large(pos, length)
            stop = pos + _TF_OVERHEAD + length
            if stop > end:
                if final and self._recover:
                    self._damage_start = self._base + pos  # a truncated tail
                    pos += 1
                    continue
                return pos
            payload = bytes(buf[pos + _TF_HEADER : stop - 4])
            if masked_crc32c(payload) != _U32LE.unpack_from(buf, stop - 4)[0]:
                if not self._recover:
                    raise self._corrupt(pos, "payload checksum mismatch")
                self._damage_start = self._base + pos
                pos += 1
                continue
            out.append(payload)
            pos = stop

    def _resync(self, pos: int, final: bool) -> int:
        """Scan from ``pos`` for the next fully valid record.

        On finding one (or, with ``final``, reaching the end) the skipped
        range is reported, ``_damage_start`` cleared and the position
        returned. Otherwise returns the first position that still needs more
        input to be judged; everything before it is damage.
        """
        buf = self._buffer
        end = len(buf)
        crc = masked_crc32c
        unpack_u32 = _U32LE.unpack_from
        while end - pos >= _TF_HEADER:
            header = bytes(buf[pos : pos + 8])
            if crc(header) == unpack_u32(buf, pos + 8)[0]:
                length = _U64.unpack(header)[0]
                stop = pos + _TF_OVERHEAD + length
                if length > self._max:
                    pass
                elif stop > end:
                    if not final:
                        return pos  # wait for the candidate's payload
                elif crc(bytes(buf[pos + _TF_HEADER : stop - 4])) == unpack_u32(buf, stop - 4)[0]:
                    self._report(self._base + pos)
                    return pos
            pos += 1
        if final:
            self._report(self._base + end)
            return end
        return pos

    def _report(self, end: int) -> None:
        start = self._damage_start
        assert start is not None
        self._damage_start = None
        self.skipped.append((start, end))
        if self._on_skip is not None:
            self._on_skip(start, end)

    def _parse_unchecked(self, out: list[bytes]) -> int:
        buf = self._buffer
        end = len(buf)
        pos = 0
        varint = self._framing == "varint"
        while pos < end:
            if varint:
                length = 0
                shift = 0
                cursor = pos
                while True:
                    if cursor >= end:
                        return pos
                    byte = buf[cursor]
                    cursor += 1
                    length |= (byte & 0x7F) << shift
                    if byte < 0x80:
                        break
                    shift += 7
                    if cursor - pos >= _MAX_VARINT_BYTES:
                        raise self._corrupt(pos, "varint length longer than 10 bytes")
                start = cursor
            else:
                if end - pos < 4:
                    return pos
                length = _U32BE.unpack_from(buf, pos)[0]
                start = pos + 4
            if length > self._max:
                raise self._too_large(pos, length)
            stop = start + length
            if stop > end:
                return pos
            out.append(bytes(buf[start:stop]))
            pos = stop
        return pos


@dataclass(frozen=True, kw_only=True, slots=True)
class LengthPrefixed:
    """Length-prefixed binary records (``.lp``); records are ``bytes``.

    Args:
        framing: ``"tfrecord"`` (default; byte-exact TFRecord, checksummed),
            ``"varint"`` (LEB128 length + payload) or ``"u32be"`` (4-byte
            big-endian length + payload). ``varint`` and ``u32be`` are
            unchecked: a changed payload byte is not detected.
        max_record_size: the largest payload, in bytes (default 16 MiB),
            enforced when writing and when reading — on reading, after the
            length's checksum verified, before anything is buffered.

    Writing takes bytes-like records only (``TypeError`` otherwise).
    Reading yields ``bytes``; ``decode`` has no effect (records are raw
    already). The object must end at a record boundary, else
    :class:`~omnistorage.errors.TruncatedRecordError`; a failed checksum
    raises :class:`~omnistorage.errors.CorruptRecordError`.

    Recover mode (``tfrecord`` framing only): a damaged record is skipped by
    scanning forward, byte by byte, for the next position where a whole
    record verifies (length checksum, size limit, payload checksum); each
    skipped range ``(start, end)`` — ``end`` is where the next good record
    starts, or the end of the object — is appended to ``decoder.skipped``
    and passed to ``on_skip``. A truncated last record is skipped the same
    way. A record whose length verifies but exceeds ``max_record_size`` is
    not damage and still raises :class:`~omnistorage.errors.RecordTooLargeError`.

    Raises:
        ConfigurationError: an unknown framing, a bad ``max_record_size``, or
            ``recover=True`` with an unchecked framing.
    """

    name: ClassVar[str] = "length-prefixed"
    extensions: ClassVar[tuple[str, ...]] = (".lp",)

    framing: Framing = "tfrecord"
    max_record_size: int = DEFAULT_MAX_RECORD_SIZE

    def __post_init__(self) -> None:
        if self.framing not in _FRAMINGS:
            raise ConfigurationError(
                f"unknown framing {self.framing!r}; known: {', '.join(_FRAMINGS)}"
            )
        check_max_record_size(self.max_record_size)

    def encoder(self) -> LengthPrefixedEncoder:
        """Return a new encoder."""
        return LengthPrefixedEncoder(framing=self.framing, max_record_size=self.max_record_size)

    def decoder(
        self,
        *,
        decode: bool = True,
        recover: bool = False,
        on_skip: SkipCallback | None = None,
    ) -> LengthPrefixedDecoder:
        """Return a new decoder (``decode`` is ignored: records are bytes)."""
        if recover and self.framing != "tfrecord":
            raise ConfigurationError(
                f"recover mode needs checksums; the {self.framing!r} framing has none "
                "(use framing='tfrecord')"
            )
        return LengthPrefixedDecoder(
            framing=self.framing,
            max_record_size=self.max_record_size,
            recover=recover,
            on_skip=on_skip,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class TFRecord(LengthPrefixed):
    """TFRecord files (``.tfrecord``, ``.tfrecords``): :class:`LengthPrefixed`
    with the ``tfrecord`` framing, which is its only accepted framing."""

    name: ClassVar[str] = "tfrecord"
    extensions: ClassVar[tuple[str, ...]] = (".tfrecord", ".tfrecords")

    def __post_init__(self) -> None:
        if self.framing != "tfrecord":
            raise ConfigurationError(
                f"the tfrecord format has the tfrecord framing only, not {self.framing!r} "
                "(use the 'length-prefixed' format for other framings)"
            )
        LengthPrefixed.__post_init__(self)
