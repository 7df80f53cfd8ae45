"""Masked CRC-32C, the checksum of the snappy framing format and TFRecord."""

from __future__ import annotations

import google_crc32c

__all__ = ["masked_crc32c"]

_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """Return the masked CRC-32C (Castagnoli) of ``data``.

    The mask is ``((c >> 15) | (c << 17)) + 0xA282EAD8`` modulo 2**32, as in
    the snappy framing format and TFRecord. ``data`` must be ``bytes`` (the
    C extension rejects other buffers); the hardware-accelerated
    implementation of ``google-crc32c`` is used.
    """
    c: int = google_crc32c.value(data)
    return ((((c >> 15) | (c << 17)) & _U32) + _MASK_DELTA) & _U32
