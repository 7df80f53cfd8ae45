"""RecordReader: a Store stream → codec → format → records, in bounded chunks.

The decoding is :class:`~omnistorage.records._decoding.RecordDecoding`, shared with
the async reader; this class reads the chunks and hands out the records.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol

from omnistorage.compression import Codec
from omnistorage.formats import Format
from omnistorage.records._decoding import DECODE_TARGET, DEFAULT_READ_SIZE, RecordDecoding

__all__ = ["DECODE_TARGET", "DEFAULT_READ_SIZE", "RecordReader"]


class Source(Protocol):
    """What a RecordReader reads from: a binary stream such as ``Store.read``'s."""

    def read(self, size: int = ..., /) -> bytes | None: ...

    def close(self) -> None: ...


class RecordReader(RecordDecoding):
    """Reads the records of one object: stream, decompress, decode.

    Open one with :func:`omnistorage.records.open_reader`. Iterate it (or
    call :meth:`read`) for the records, in order: NDJSON gives parsed JSON
    values, CSV dict rows (lists without a header), length-prefixed formats
    ``bytes``; with ``decode=False`` every format gives each record's raw
    bytes. :meth:`read_batch` returns the next records in bulk (faster).

    Memory is bounded: the reader pulls at most ``read_size`` compressed
    bytes at a time — fewer once the stream has shown a high compression
    ratio, aiming at about 256 KiB of decompressed bytes per read — and the
    decompressor returns at most 256 KiB per step (output it holds back is
    drained before more input is read), which are turned into records at
    once (plus at most ``max_record_size`` for one partial record). So a
    crafted stream (a "decompression bomb") cannot make one step large.
    (Steps of 256 KiB rather than megabytes also keep the buffers under
    the sizes where the allocator maps and unmaps fresh memory for each.)

    **Damaged input raises typed errors**, never short or wrong data:
    :class:`~omnistorage.errors.CorruptDataError` /
    :class:`~omnistorage.errors.TruncatedDataError` from the codec (bad
    bytes, a stream cut inside a member or frame) and
    :class:`~omnistorage.errors.CorruptRecordError` /
    :class:`~omnistorage.errors.TruncatedRecordError` /
    :class:`~omnistorage.errors.RecordTooLargeError` from the format. Each
    carries the object's ``path``. Records decoded before the damage are
    returned first; after the error every call raises it again.

    **Recover mode** (``recover=True``, NDJSON and TFRecord framing): damaged
    records are skipped and their ``(start, end)`` byte ranges in the
    *decompressed* stream listed in :attr:`skipped`; a compressed stream cut
    short is accepted too (every complete record before the cut is
    returned, the partial one is skipped) and sets :attr:`truncated`. Bytes
    that fail the codec's own checks still raise: a compressed stream
    cannot be resynchronised.

    Not thread-safe. ``close()`` (or leaving the ``with`` block) closes the
    store stream.
    """

    __slots__ = ("_source",)

    def __init__(
        self,
        source: Source,
        *,
        format: Format,
        codec: Codec,
        path: str = "",
        decode: bool = True,
        recover: bool = False,
        read_size: int = DEFAULT_READ_SIZE,
        sealed: bool = False,
    ) -> None:
        super().__init__(
            format=format,
            codec=codec,
            path=path,
            decode=decode,
            recover=recover,
            read_size=read_size,
            sealed=sealed,
        )
        self._source = source

    # ------------------------------------------------------------ reading

    def __iter__(self) -> RecordReader:
        return self

    def __next__(self) -> Any:
        pos = self._pos
        batch = self._batch
        if pos < len(batch):
            self._pos = pos + 1
            return batch[pos]
        return self._next_slow()

    def read(self) -> Any:
        """The next record, or ``None`` at the end.

        An NDJSON ``null`` record also reads as ``None``; iterate to tell them
        apart.
        """
        try:
            return next(self)
        except StopIteration:
            return None

    def read_batch(self) -> list[Any]:
        """The next records in bulk (at least one), or ``[]`` at the end."""
        if self._pos >= len(self._batch) and not self._fill_until_records():
            return []
        return self._take_batch()

    def close(self) -> None:
        """Close the store stream. Idempotent."""
        if self._mark_closed():
            self._source.close()

    def __enter__(self) -> RecordReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------ internals

    def _next_slow(self) -> Any:
        if not self._fill_until_records():
            raise StopIteration
        self._pos = 1
        return self._batch[0]

    def _fill_until_records(self) -> bool:
        """Decode until records are available; False at the end."""
        self._begin_fill()
        while not self._batch:
            if not self._can_fill():
                return False
            want = self._want()
            if not want:
                self._step(None)
                continue
            try:
                chunk = self._source.read(want)
                if chunk is None:
                    raise BlockingIOError("the store stream would block")
            except BaseException as exc:
                self._failed(exc)
                raise
            self._step(chunk)
        return True
