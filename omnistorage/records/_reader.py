"""RecordReader: a Store stream → codec → format → records, in bounded chunks."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol

from omnistorage.compression import Codec
from omnistorage.errors import (
    CorruptRecordError,
    DataError,
    StorageError,
    StreamClosed,
    TruncatedDataError,
)
from omnistorage.formats import Format
from omnistorage.records._writer import check_positive

__all__ = ["DEFAULT_READ_SIZE", "RecordReader"]

DEFAULT_READ_SIZE = 128 * 1024
#: Decompressed bytes the reader aims to decode per step (it reads fewer
#: compressed bytes when the stream compresses very well).
DECODE_TARGET = 256 * 1024
_MIN_READ = 4096


class Source(Protocol):
    """What a RecordReader reads from: a binary stream such as ``Store.read``'s."""

    def read(self, size: int = ..., /) -> bytes | None: ...

    def close(self) -> None: ...


class RecordReader:
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

    __slots__ = (
        "_batch",
        "_bytes_decoded",
        "_bytes_read",
        "_closed",
        "_consumed",
        "_decoded",
        "_decoder",
        "_decompressor",
        "_eof",
        "_failure",
        "_max_ratio",
        "_path",
        "_pos",
        "_read_size",
        "_recover",
        "_sealed",
        "_source",
        "_truncated",
    )

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
        check_positive("read_size", read_size)
        self._decoder = format.decoder(decode=decode, recover=recover)
        self._decompressor = codec.decompressor(require_seal=sealed)
        self._sealed = sealed
        self._decoded = 0  # records decoded by earlier steps
        self._source = source
        self._path = path
        self._recover = recover
        self._read_size = read_size
        self._batch: list[Any] = []
        self._pos = 0
        self._consumed = 0  # records returned from earlier batches
        self._eof = False
        self._closed = False
        self._failure: BaseException | None = None
        self._truncated = False
        self._bytes_read = 0
        self._bytes_decoded = 0
        self._max_ratio = 1.0  # the best compression ratio seen in one read

    # ------------------------------------------------------------ counters

    @property
    def path(self) -> str:
        """The store-relative key being read (``""`` if not given)."""
        return self._path

    @property
    def records(self) -> int:
        """Records returned so far."""
        return self._consumed + self._pos

    @property
    def bytes_read(self) -> int:
        """Bytes read from the store so far (compressed)."""
        return self._bytes_read

    @property
    def bytes_decoded(self) -> int:
        """Decompressed bytes so far."""
        return self._bytes_decoded

    @property
    def skipped(self) -> list[tuple[int, int]]:
        """Recover mode: ``(start, end)`` offsets, in the decompressed stream, of skipped bytes."""
        return list(self._decoder.skipped)

    @property
    def truncated(self) -> bool:
        """Recover mode: True when the compressed stream was cut short."""
        return self._truncated

    @property
    def closed(self) -> bool:
        return self._closed

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
        rest = self._batch[self._pos :] if self._pos else self._batch
        self._consumed += len(self._batch)
        self._batch = []
        self._pos = 0
        return rest

    def close(self) -> None:
        """Close the store stream. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._batch = []
        self._pos = 0
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

    def __repr__(self) -> str:
        return f"RecordReader({self._path!r}, records={self.records})"

    # ------------------------------------------------------------ internals

    def _next_slow(self) -> Any:
        if not self._fill_until_records():
            raise StopIteration
        self._pos = 1
        return self._batch[0]

    def _fill_until_records(self) -> bool:
        """Decode until records are available; False at the end."""
        self._consumed += len(self._batch)
        self._batch = []
        self._pos = 0
        while not self._batch:
            if self._closed:
                raise StreamClosed(f"read from a closed RecordReader ({self._path!r})")
            if self._failure is not None:
                raise self._failure
            if self._eof:
                return False
            try:
                self._batch = self._decode_next()
                self._decoded += len(self._batch)
            except BaseException as exc:
                if isinstance(exc, StorageError) and exc.path is None:
                    exc.path = self._path or None
                    if isinstance(exc, DataError) and exc.op is None:
                        exc.op = "read"
                self._failure = exc
                raise
        return True

    def _next_read_size(self) -> int:
        """``read_size``, or less when the best ratio seen would decode far more than the target."""
        ratio = self._max_ratio
        if ratio * self._read_size <= DECODE_TARGET:
            return self._read_size
        return max(_MIN_READ, int(DECODE_TARGET / ratio))

    def _decode_next(self) -> list[Any]:
        """Decode the next step: up to ``DECODE_TARGET`` decompressed bytes into records.

        The decompressor never returns more than that per call (output it
        holds back is drained before more input is read), so memory stays
        bounded whatever the compression ratio, a decompression bomb included.
        """
        decompressor = self._decompressor
        if not decompressor.needs_input:
            data = decompressor.decompress(b"", DECODE_TARGET)
            self._bytes_decoded += len(data)
            return self._decoder.feed(data) if data else []
        chunk = self._source.read(self._next_read_size())
        if chunk is None:
            raise BlockingIOError("the store stream would block")
        if chunk:
            self._bytes_read += len(chunk)
            data = decompressor.decompress(chunk, DECODE_TARGET)
            if not data:
                return []
            self._bytes_decoded += len(data)
            self._max_ratio = max(self._max_ratio, len(data) / len(chunk))
            return self._decoder.feed(data)
        self._eof = True
        try:
            data = self._decompressor.finish()
        except TruncatedDataError:
            if not self._recover:
                raise
            self._truncated = True
            data = b""
        records: list[Any] = []
        if data:
            self._bytes_decoded += len(data)
            records = self._decoder.feed(data)
        records += self._decoder.finish()
        seal = self._decompressor.seal
        if self._sealed and seal is not None and not self._recover:
            total = self._decoded + len(records)
            if seal.records != total:
                raise CorruptRecordError(
                    f"the object's seal says {seal.records} records were written, "
                    f"but {total} were read"
                )
        return records
