"""Multi-threaded zstd with a bounded job size, for the records writer.

libzstd's worker threads compress without the GIL, so they overlap the
Python encoding on the caller's thread. Their memory is about two input
jobs per worker, and at level 3 libzstd's default job is 8 MiB (four times
the window), which adds 30-45 MiB of RSS. :class:`~omnistorage.compression.ZstdCodec`
has no ``job_size`` option, so the records layer builds its multi-threaded
compressor here, with 1 MiB jobs (the same format, the codec's level,
content checksums on, one frame per ``flush``). Single-threaded zstd and
every other codec use the codec's own compressor.
"""

from __future__ import annotations

from typing import Any

from omnistorage.compression import Buffer, Codec, Compressor, ZstdCodec
from omnistorage.errors import StreamClosed

__all__ = ["MT_JOB_SIZE", "make_compressor"]

#: Input bytes per libzstd job in multi-threaded mode.
MT_JOB_SIZE = 1 << 20


def make_compressor(codec: Codec, *, parallel: bool) -> tuple[Compressor, bool]:
    """A compressor for ``codec``, and whether it already compresses on worker threads.

    zstd is multi-threaded when the codec sets ``threads`` or in parallel
    mode (one libzstd worker unless the codec asks for more).
    """
    if isinstance(codec, ZstdCodec) and (codec.threads or parallel):
        return _MultiThreadedZstd(codec.level, codec.threads or 1), True
    return codec.compressor(), False


class _MultiThreadedZstd:
    """A :class:`~omnistorage.compression.Compressor`: frames opened lazily, ended by flush."""

    __slots__ = ("_cctx", "_emitted", "_finished", "_frame")

    def __init__(self, level: int, threads: int) -> None:
        import zstandard

        params = zstandard.ZstdCompressionParameters.from_level(
            level, threads=threads, job_size=MT_JOB_SIZE, write_checksum=True
        )
        self._cctx = zstandard.ZstdCompressor(compression_params=params)
        self._frame: Any = None
        self._emitted = False
        self._finished = False

    def compress(self, data: Buffer) -> bytes:
        if self._finished:
            raise StreamClosed("zstd compressor used after finish()")
        if not data:
            return b""
        frame = self._frame
        if frame is None:
            frame = self._frame = self._cctx.compressobj()
        out: bytes = frame.compress(data)
        if out:
            self._emitted = True
        return out

    def flush(self) -> bytes:
        if self._finished:
            raise StreamClosed("zstd compressor used after finish()")
        frame, self._frame = self._frame, None
        if frame is None:
            return b""
        self._emitted = True
        out: bytes = frame.flush()
        return out

    def finish(self) -> bytes:
        if self._finished:
            raise StreamClosed("zstd compressor finished twice")
        if self._frame is None and not self._emitted:
            self._frame = self._cctx.compressobj()  # an empty stream is one empty frame
        out = self.flush()
        self._finished = True
        return out
