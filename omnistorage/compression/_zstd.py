"""zstd: Zstandard frames via python-zstandard, content checksum on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from omnistorage.compression._imports import require
from omnistorage.compression._members import MemberCompressor, MemberDecompressor
from omnistorage.compression._zstd_member import ZstdMember
from omnistorage.errors import ConfigurationError, LimitExceeded

__all__ = ["ZstdCodec"]

_MIN_LEVEL = -131072  # ZSTD_minCLevel() of libzstd 1.5
_MAX_LEVEL = 22


_MIN_JOB = 512 << 10  # ZSTDMT_JOBSIZE_MIN
_MAX_JOB = 1 << 30  # ZSTDMT_JOBSIZE_MAX on 64-bit builds

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
        job_size: with ``threads``, the input bytes per libzstd job (from
            512 KiB to 1 GiB); 0 (default) is libzstd's choice, four times the
            window (8 MiB at level 3). Each worker holds about two jobs, so
            smaller jobs bound the writer's memory (1 MiB jobs save 30-45 MiB
            of RSS at level 3). Needs ``threads`` != 0.
        max_window_size: the largest window a frame may need to be decoded
            (bytes, a power of two); default 2**27, the ``zstd`` CLI's limit.
            A frame over it (``zstd --long=30``) raises
            :class:`~omnistorage.errors.LimitExceeded` naming this option.
            A decoder must keep a frame's whole window, so reading holds up
            to this much memory besides the bounded output: about 64 MiB in
            all needs ``max_window_size <= 2**25``.

    Every frame carries a content checksum (XXH64), so corruption inside a
    frame is detected. Decoding output is bounded per call (see
    :class:`~omnistorage.compression.Decompressor`), so a crafted frame that
    expands a thousandfold cannot exhaust memory. Every ``flush()`` ends a
    frame; decoding reads frames (and skippable frames) back to back, as
    ``zstd -d`` does. A stream that stops inside a frame raises
    :class:`~omnistorage.errors.TruncatedDataError` from ``finish()``, which
    python-zstandard alone does not do.

    Raises:
        ConfigurationError: a level, thread count, job size or window limit
            out of range, or ``job_size`` without ``threads``.
    """

    name: ClassVar[str] = "zstd"
    extensions: ClassVar[tuple[str, ...]] = (".zst",)

    level: int = 3
    threads: int = 0
    job_size: int = 0
    max_window_size: int = DEFAULT_MAX_WINDOW

    def __post_init__(self) -> None:
        for option in ("level", "threads", "job_size", "max_window_size"):
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
        if self.job_size:
            if not _MIN_JOB <= self.job_size <= _MAX_JOB:
                raise ConfigurationError(
                    f"zstd job_size must be 0 or {_MIN_JOB}-{_MAX_JOB} bytes, got {self.job_size}"
                )
            if not self.threads:
                raise ConfigurationError(
                    "zstd job_size applies to multi-threaded compression: set threads too"
                )

    def compressor(self) -> MemberCompressor:
        """Return a new zstd compressor (each ``flush()`` ends a frame)."""
        zstd = _zstandard()
        if self.job_size:
            params = zstd.ZstdCompressionParameters.from_level(
                self.level, threads=self.threads, job_size=self.job_size, write_checksum=True
            )
            cctx = zstd.ZstdCompressor(compression_params=params)
        else:
            cctx = zstd.ZstdCompressor(level=self.level, write_checksum=True, threads=self.threads)
        return MemberCompressor(cctx.compressobj, name="zstd")

    def decompressor(self, *, require_seal: bool = False) -> MemberDecompressor:
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
            lambda: ZstdMember(lambda: zstd.ZstdDecompressor(options=options)),
            errors=(zstd.ZstdError,),
            name="zstd",
            translate=translate,
            require_seal=require_seal,
        )
