"""zstd: Zstandard frames via python-zstandard, content checksum on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from omnistorage.compression._imports import require
from omnistorage.compression._members import MemberCompressor, MemberDecompressor
from omnistorage.errors import ConfigurationError

__all__ = ["ZstdCodec"]

_MIN_LEVEL = -131072  # ZSTD_minCLevel() of libzstd 1.5
_MAX_LEVEL = 22


def _zstandard() -> Any:
    return require("zstandard", codec="zstd", install="zstandard")


@dataclass(frozen=True, kw_only=True, slots=True)
class ZstdCodec:
    """Zstandard (``.zst``): concatenated frames with a content checksum.

    Args:
        level: compression level, negative (fastest) to 22; default 3.
        threads: 0 (default) compresses on the calling thread; ``n > 0``
            uses ``n`` libzstd worker threads; ``-1`` one per CPU. Output of
            multi-threaded compression is a standard stream, decoded the same
            way.

    Every frame carries a content checksum (XXH64), so corruption inside a
    frame is detected. Every ``flush()`` ends a frame; decoding reads frames
    (and skippable frames) back to back, as ``zstd -d`` does. A stream that
    stops inside a frame raises :class:`~omnistorage.errors.TruncatedDataError`
    from ``finish()``, which python-zstandard alone does not do.

    Raises:
        ConfigurationError: a level or thread count out of range.
    """

    name: ClassVar[str] = "zstd"
    extensions: ClassVar[tuple[str, ...]] = (".zst",)

    level: int = 3
    threads: int = 0

    def __post_init__(self) -> None:
        for option in ("level", "threads"):
            value = getattr(self, option)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigurationError(f"zstd {option} must be an int, got {value!r}")
        if not _MIN_LEVEL <= self.level <= _MAX_LEVEL:
            raise ConfigurationError(
                f"zstd level must be {_MIN_LEVEL}-{_MAX_LEVEL}, got {self.level}"
            )
        if self.threads < -1:
            raise ConfigurationError(f"zstd threads must be -1 or more, got {self.threads}")

    def compressor(self) -> MemberCompressor:
        """Return a new zstd compressor (each ``flush()`` ends a frame)."""
        zstd = _zstandard()
        cctx = zstd.ZstdCompressor(level=self.level, write_checksum=True, threads=self.threads)
        return MemberCompressor(cctx.compressobj, name="zstd")

    def decompressor(self) -> MemberDecompressor:
        """Return a new zstd decompressor (reads concatenated frames)."""
        zstd = _zstandard()
        dctx = zstd.ZstdDecompressor()
        return MemberDecompressor(dctx.decompressobj, errors=(zstd.ZstdError,), name="zstd")
