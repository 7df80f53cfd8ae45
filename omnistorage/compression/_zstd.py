"""zstd: Zstandard frames via python-zstandard, content checksum on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from omnistorage.compression._imports import require
from omnistorage.compression._members import MemberCompressor, MemberDecompressor
from omnistorage.errors import ConfigurationError, LimitExceeded

__all__ = ["ZstdCodec"]

_MIN_LEVEL = -131072  # ZSTD_minCLevel() of libzstd 1.5
_MAX_LEVEL = 22


DEFAULT_MAX_WINDOW = 1 << 27  # the zstd CLI's default decoding limit (128 MiB)


def _zstandard() -> Any:
    return require("zstandard", codec="zstd", install="zstandard")


def _bounded_zstd() -> Any:
    """The stdlib-style zstd module: ``compression.zstd`` (3.14+) or its backport."""
    try:
        from compression import zstd  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return require("backports.zstd", codec="zstd", install="backports.zstd")
    return zstd


@dataclass(frozen=True, kw_only=True, slots=True)
class ZstdCodec:
    """Zstandard (``.zst``): concatenated frames with a content checksum.

    Args:
        level: compression level, negative (fastest) to 22; default 3.
        threads: 0 (default) compresses on the calling thread; ``n > 0``
            uses ``n`` libzstd worker threads; ``-1`` one per CPU. Output of
            multi-threaded compression is a standard stream, decoded the same
            way.

        max_window_size: the largest window a frame may need to be decoded
            (bytes, a power of two); default 2**27, the ``zstd`` CLI's limit.
            A frame over it (``zstd --long=30``) raises
            :class:`~omnistorage.errors.LimitExceeded` naming this option.

    Every frame carries a content checksum (XXH64), so corruption inside a
    frame is detected. Decoding output is bounded per call (see
    :class:`~omnistorage.compression.Decompressor`), so a crafted frame that
    expands a thousandfold cannot exhaust memory. Every ``flush()`` ends a
    frame; decoding reads frames (and skippable frames) back to back, as
    ``zstd -d`` does. A stream that stops inside a frame raises
    :class:`~omnistorage.errors.TruncatedDataError` from ``finish()``, which
    python-zstandard alone does not do.

    Raises:
        ConfigurationError: a level or thread count out of range.
    """

    name: ClassVar[str] = "zstd"
    extensions: ClassVar[tuple[str, ...]] = (".zst",)

    level: int = 3
    threads: int = 0
    max_window_size: int = DEFAULT_MAX_WINDOW

    def __post_init__(self) -> None:
        for option in ("level", "threads", "max_window_size"):
            value = getattr(self, option)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigurationError(f"zstd {option} must be an int, got {value!r}")
        if not _MIN_LEVEL <= self.level <= _MAX_LEVEL:
            raise ConfigurationError(
                f"zstd level must be {_MIN_LEVEL}-{_MAX_LEVEL}, got {self.level}"
            )
        size = self.max_window_size
        if size < 1 << 10 or size > 1 << 31 or size & (size - 1):
            raise ConfigurationError(
                f"zstd max_window_size must be a power of two from 1 KiB to 2 GiB, got {size}"
            )
        if self.threads < -1:
            raise ConfigurationError(f"zstd threads must be -1 or more, got {self.threads}")

    def compressor(self) -> MemberCompressor:
        """Return a new zstd compressor (each ``flush()`` ends a frame)."""
        zstd = _zstandard()
        cctx = zstd.ZstdCompressor(level=self.level, write_checksum=True, threads=self.threads)
        return MemberCompressor(cctx.compressobj, name="zstd")

    def decompressor(self) -> MemberDecompressor:
        """Return a new zstd decompressor (reads concatenated frames, bounded output)."""
        zstd = _bounded_zstd()
        options = {
            zstd.DecompressionParameter.window_log_max: self.max_window_size.bit_length() - 1
        }
        limit = self.max_window_size

        def translate(exc: BaseException) -> BaseException | None:
            if "too much memory" in str(exc) or "window" in str(exc).lower():
                return LimitExceeded(
                    f"a zstd frame needs a window larger than max_window_size={limit} "
                    f"({exc}); pass ZstdCodec(max_window_size=...) to decode it"
                )
            return None

        return MemberDecompressor(
            lambda: zstd.ZstdDecompressor(options=options),
            errors=(zstd.ZstdError,),
            name="zstd",
            translate=translate,
        )
