"""gzip: RFC 1952 members via zlib, or ISA-L (``isal``) when it is installed."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar, Literal

from omnistorage.compression._base import Buffer
from omnistorage.compression._gzip_member import GzipMember
from omnistorage.compression._imports import require
from omnistorage.compression._members import MemberCompressor, MemberDecompressor
from omnistorage.errors import ConfigurationError

__all__ = ["GzipCodec"]

_GZIP_WBITS = 31  # deflate with a gzip header and trailer

Implementation = Literal["auto", "isal", "zlib"]


def _isal_or_none() -> ModuleType | None:
    try:
        from isal import isal_zlib
    except ImportError:
        return None
    return isal_zlib


def _isal_level(level: int) -> int:
    # ISA-L has levels 0-3. Its level 1 and 2 compress about as well as zlib
    # 6 at several times the speed; level 3 is slower and rarely smaller.
    if level <= 3:
        return 1
    if level <= 6:
        return 2
    return 3


@dataclass(frozen=True, kw_only=True, slots=True)
class GzipCodec:
    """gzip (``.gz``): concatenated RFC 1952 members.

    Args:
        level: zlib's scale, 0 (store) to 9 (smallest); default 6.
        implementation: ``"zlib"`` (the standard library), ``"isal"`` (the
            ``isal`` package, much faster, the same gzip format; raises
            :class:`~omnistorage.errors.DependencyMissing` when missing) or
            ``"auto"`` (``isal`` if importable, else ``zlib``). With ISA-L the
            level maps to its 0-3 scale: 1-3 → 1, 4-6 → 2, 7-9 → 3; level 0
            always uses zlib so that it stores uncompressed.

    Members carry no file name and mtime 0, so the output is deterministic.
    Every ``flush()`` ends a member; decoding reads members back to back, as
    ``gzip -d`` does, and verifies each member's CRC-32 and length. Trailing
    bytes that are not a gzip member raise
    :class:`~omnistorage.errors.CorruptDataError`.

    Raises:
        ConfigurationError: a level outside 0-9 or an unknown implementation.
    """

    name: ClassVar[str] = "gzip"
    extensions: ClassVar[tuple[str, ...]] = (".gz",)

    level: int = 6
    implementation: Implementation = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.level, bool) or not isinstance(self.level, int):
            raise ConfigurationError(f"gzip level must be an int, got {self.level!r}")
        if not 0 <= self.level <= 9:
            raise ConfigurationError(f"gzip level must be 0-9, got {self.level}")
        if self.implementation not in ("auto", "isal", "zlib"):
            raise ConfigurationError(
                f"gzip implementation must be 'auto', 'isal' or 'zlib', got {self.implementation!r}"
            )

    def _module(self) -> ModuleType | None:
        """The ``isal_zlib`` module to use, or ``None`` for zlib."""
        if self.implementation == "zlib":
            return None
        if self.implementation == "isal":
            require("isal", codec="gzip", install="'omnistorage[isal]'")
        return _isal_or_none()

    def compressor(self) -> MemberCompressor:
        """Return a new gzip compressor (each ``flush()`` ends a member)."""
        isal = self._module()
        if isal is None or self.level == 0:
            level = self.level

            def new_member() -> zlib._Compress:
                return zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)

            return MemberCompressor(new_member, name="gzip")
        isal_mod = isal
        isal_level = _isal_level(self.level)
        return MemberCompressor(
            lambda: isal_mod.compressobj(isal_level, isal_mod.DEFLATED, _GZIP_WBITS),
            name="gzip",
        )

    def decompressor(self, *, require_seal: bool = False) -> MemberDecompressor:
        """Return a new gzip decompressor (reads concatenated members, bounded output).

        Headers and trailers are parsed here (:mod:`._gzip_member`); zlib or
        ISA-L decodes the raw deflate body only.
        """
        isal = self._module()
        if isal is None:
            inflater: Callable[[], Any] = lambda: zlib.decompressobj(-15)  # noqa: E731
            crc32: Callable[[Buffer, int], int] = zlib.crc32
            errors: tuple[type[BaseException], ...] = (zlib.error,)
        else:
            isal_mod = isal
            inflater = lambda: isal_mod.decompressobj(-15)  # noqa: E731
            crc32 = isal_mod.crc32
            errors = (isal_mod.error, zlib.error)
        return MemberDecompressor(
            lambda: GzipMember(inflater, crc32),
            errors=errors,
            name="gzip",
            require_seal=require_seal,
        )
