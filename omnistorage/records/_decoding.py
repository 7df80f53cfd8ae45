"""The I/O-free core of a record reader: decompress and decode the chunks it is given.

:class:`RecordDecoding` holds the whole state of reading one object's records (the
decompressor, the format's decoder, the batch being handed out, the counters, the
seal check, the first failure) and one step of the work, :meth:`~RecordDecoding._step`,
which is given the compressed chunk the shell read, or nothing. The sync
:class:`~omnistorage.records.RecordReader` reads the chunks with ``source.read``, the
async :class:`~omnistorage.aio.records.AsyncRecordReader` awaits them: that loop is all
either adds.
"""

from __future__ import annotations

from typing import Any, Generic, Required, TypedDict, TypeVar

from omnistorage.compression import Codec
from omnistorage.errors import (
    CorruptRecordError,
    DataError,
    StorageError,
    StreamClosed,
    TruncatedDataError,
)
from omnistorage.formats import Format
from omnistorage.records._tuning import check_positive

__all__ = ["DECODE_TARGET", "DEFAULT_READ_SIZE", "DecodingOptions", "RecordDecoding"]

DEFAULT_READ_SIZE = 128 * 1024
#: Decompressed bytes the reader aims to decode per step (it reads fewer
#: compressed bytes when the stream compresses very well).
DECODE_TARGET = 256 * 1024
_MIN_READ = 4096

SourceT = TypeVar("SourceT")


class DecodingOptions(TypedDict, total=False):
    """The keyword arguments of :class:`RecordDecoding` (what a reader shell that adds
    arguments of its own passes on)."""

    format: Required[Format]
    codec: Required[Codec]
    path: str
    decode: bool
    recover: bool
    read_size: int
    sealed: bool


class RecordDecoding(Generic[SourceT]):
    """The state and the decoding steps of a record reader (see the module docstring):
    the shell reads ``source``."""

    __slots__ = (
        "_batch",
        "_bytes_decoded",
        "_bytes_read",
        "_closed",
        "_codec",
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
        source: SourceT,
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
        self._source = source
        self._decoder = format.decoder(decode=decode, recover=recover)
        self._codec = codec
        self._decompressor = codec.decompressor(require_seal=sealed)
        self._sealed = sealed
        self._decoded = 0  # records decoded by earlier steps
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
        self._started()

    def _started(self) -> None:
        """The shell's own setup, at the end of construction (none by default)."""

    def _require_seal(self, sealed: bool) -> None:
        """Decide whether the seal is required, before the first chunk is decoded."""
        if sealed != self._sealed:
            self._decompressor = self._codec.decompressor(require_seal=sealed)
            self._sealed = sealed

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._path!r}, records={self.records})"

    # ------------------------------------------------------------ steps

    def _begin_fill(self) -> None:
        """Retire the batch handed out so far, before decoding the next one."""
        self._consumed += len(self._batch)
        self._batch = []
        self._pos = 0

    def _next_read(self) -> int:
        """Until the batch holds records, the compressed bytes the shell must read for
        the next step; 0 once records are there or the stream is done (steps that need
        no input run here). Raises once closed or failed."""
        while not self._batch:
            if not self._can_fill():
                return 0
            want = self._want()
            if want:
                return want
            self._step(None)
        return 0

    def _can_fill(self) -> bool:
        """Whether another step may run: False at the end; raises once closed or failed."""
        if self._closed:
            raise StreamClosed(f"read from a closed {type(self).__name__} ({self._path!r})")
        if self._failure is not None:
            raise self._failure
        return not self._eof

    def _want(self) -> int:
        """Compressed bytes the next step needs read (0: it decodes held output first).

        ``read_size``, or less when the best ratio seen would decode far more than the
        target.
        """
        if not self._decompressor.needs_input:
            return 0
        ratio = self._max_ratio
        if ratio * self._read_size <= DECODE_TARGET:
            return self._read_size
        return max(_MIN_READ, int(DECODE_TARGET / ratio))

    def _step(self, chunk: bytes | None) -> None:
        """Decode one step into the batch: the held output (``chunk`` ``None``), the
        next compressed ``chunk``, or the end of the stream (``b""``).

        The decompressor never returns more than :data:`DECODE_TARGET` bytes per call
        (output it holds back is drained before more input is read), so memory stays
        bounded whatever the compression ratio, a decompression bomb included. A
        failure is kept: every later step raises it again.
        """
        try:
            batch = self._decode(chunk)
        except BaseException as exc:
            self._failed(exc)
            raise
        self._batch = batch
        self._decoded += len(batch)

    def _failed(self, exc: BaseException) -> None:
        """Keep the first failure (reading or decoding), with this object's path on it."""
        if isinstance(exc, StorageError) and exc.path is None:
            exc.path = self._path or None
            if isinstance(exc, DataError) and exc.op is None:
                exc.op = "read"
        self._failure = exc

    def _decode(self, chunk: bytes | None) -> list[Any]:
        decompressor = self._decompressor
        if chunk is None:
            data = decompressor.decompress(b"", DECODE_TARGET)
            self._bytes_decoded += len(data)
            return self._decoder.feed(data) if data else []
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

    def _take_batch(self) -> list[Any]:
        """The rest of the current batch, handed out whole (``read_batch``)."""
        rest = self._batch[self._pos :] if self._pos else self._batch
        self._consumed += len(self._batch)
        self._batch = []
        self._pos = 0
        return rest

    def _mark_closed(self) -> bool:
        """Mark the reader closed; False if it already was."""
        if self._closed:
            return False
        self._closed = True
        self._batch = []
        self._pos = 0
        return True
