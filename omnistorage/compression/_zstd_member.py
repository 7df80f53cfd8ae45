"""One zstd frame: a real frame for the zstd decoder, or a skippable frame read here.

Skippable frames (magic ``0x184D2A50``-``0x184D2A5F``) are parsed here, so
that a seal (:mod:`omnistorage.compression._seal`) is seen and every other
skippable frame is skipped without buffering it, whatever its size. Other
frames go to the bounded stdlib-style decoder (``compression.zstd`` or
``backports.zstd``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omnistorage.compression._base import Buffer
from omnistorage.compression._seal import SEAL_PAYLOAD_SIZE, ZSTD_SEAL_MAGIC, is_seal_payload

__all__ = ["ZstdMember"]

_SKIPPABLE_MASK = 0xFFFFFFF0
_SKIPPABLE = 0x184D2A50
_HEAD, _SKIP, _FRAME = range(3)


class ZstdMember:
    """Decodes one frame; the interface of :class:`MemberDecompressor`'s members.

    ``eof`` once the frame ended, ``unused_data`` what followed it,
    ``needs_input``, ``decompress(data, max_length)`` with bounded output,
    and ``seal_payload`` (the frame's seal, or ``None``).
    """

    __slots__ = (
        "_decoder",
        "_head",
        "_new_decoder",
        "_payload",
        "_remaining",
        "_seal",
        "_state",
        "eof",
        "seal_payload",
        "unused_data",
    )

    def __init__(self, new_decoder: Callable[[], Any]) -> None:
        self._new_decoder = new_decoder
        self._state = _HEAD
        self._head = b""  # the first bytes, until the frame kind is known
        self._decoder: Any = None
        self._remaining = 0  # skippable frame bytes still to skip
        self._seal = False  # this skippable frame may be a seal
        self._payload = bytearray()
        self.eof = False
        self.unused_data = b""
        self.seal_payload: bytes | None = None

    @property
    def needs_input(self) -> bool:
        if self._state == _FRAME:
            return bool(self._decoder.needs_input)
        return True

    def decompress(self, data: Buffer, max_length: int = -1) -> bytes:
        if self._state == _FRAME:
            return self._frame(data, max_length)
        if self._state == _HEAD:
            head = self._head + bytes(data)
            if len(head) < 4 or (
                int.from_bytes(head[:4], "little") & _SKIPPABLE_MASK == _SKIPPABLE and len(head) < 8
            ):
                self._head = head
                return b""
            self._head = b""
            magic = int.from_bytes(head[:4], "little")
            if magic & _SKIPPABLE_MASK != _SKIPPABLE:
                self._state = _FRAME
                self._decoder = self._new_decoder()
                return self._frame(head, max_length)
            self._state = _SKIP
            self._remaining = int.from_bytes(head[4:8], "little")
            self._seal = magic == ZSTD_SEAL_MAGIC and self._remaining == SEAL_PAYLOAD_SIZE
            data = head[8:]
        self._skip(memoryview(data))
        return b""

    def _frame(self, data: Buffer, max_length: int) -> bytes:
        decoder = self._decoder
        out: bytes = decoder.decompress(data, max_length)
        if decoder.eof:
            self.eof = True
            self.unused_data = bytes(decoder.unused_data)
        return out

    def _skip(self, view: memoryview) -> None:
        take = min(self._remaining, len(view))
        if self._seal:
            self._payload += view[:take]
        self._remaining -= take
        if self._remaining:
            return
        self.eof = True
        self.unused_data = bytes(view[take:])
        payload = bytes(self._payload)
        if self._seal and is_seal_payload(payload):
            self.seal_payload = payload
