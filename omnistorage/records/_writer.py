"""RecordWriter: records → format → codec → a Store writer, in batches."""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any, Required, TypedDict

from omnistorage.compression import (
    Codec,
    Seal,
    can_seal,
    seal_bytes,
)
from omnistorage.errors import ConfigurationError, StreamClosed
from omnistorage.formats import Format
from omnistorage.records._encoders import make_encoder
from omnistorage.records._sinks import CompressingSink, Sink, Target, ThreadedSink
from omnistorage.records._tuning import (
    BATCH_RECORDS,
    DEFAULT_BATCH_BYTES,
    DEFAULT_BATCH_RECORDS,
    DEFAULT_QUEUE_DEPTH,
    DEFAULT_WRITE_SIZE,
    ENCODE_ERRORS,
    FIRST_BATCH,
    HANDOFF_BYTES,
    NEWLINE,
    check_positive,
    default_parallel,
    gather_size,
    make_compressor,
)

__all__ = ["RecordWriter", "WriterOptions"]


class _Closed(list[bytes]):
    """Stands in for the gathered lines of a finished writer: ``append`` raises.

    This keeps the per-record path of :meth:`RecordWriter.write` free of a
    state check.
    """

    def __init__(self, message: str, path: str) -> None:
        super().__init__()
        self.message = message
        self.path = path

    def append(self, data: bytes, /) -> None:
        raise StreamClosed(self.message, path=self.path or None)


class WriterOptions(TypedDict, total=False):
    """:class:`RecordWriter`'s keyword arguments other than ``codec`` and ``parallel``,
    which a writer built on it (the async one) passes on."""

    format: Required[Format]
    path: str
    batch_bytes: int
    batch_records: int
    write_size: int
    queue_depth: int
    seal: bool


class RecordWriter:
    """Writes records to one object: format-encode, compress, stream to the store.

    Open one with :func:`omnistorage.records.open_writer`. Not thread-safe:
    one writer per thread (or use :class:`~omnistorage.records.RollingRecordWriter`,
    which is).

    **Records.** ``bytes``/``bytearray``/``memoryview`` records are written
    as one raw record each: an NDJSON line as it is (no ``\\n`` inside), a
    length-prefixed payload, a CSV row as it is (CSV raw rows need
    ``fieldnames=``). Other objects are encoded by the format: any
    JSON-serializable value for NDJSON, a mapping or a sequence for CSV.

    **Batching.** :meth:`write` encodes the record at once (so a record is
    what it was when ``write`` returned) and
    gathers the encoded lines, which are joined and compressed every 128
    records (or ``batch_records`` if lower), or at once after a line longer
    than ``batch_bytes / 8``; :meth:`write_many` encodes and compresses in
    batches of at most 128 records and about ``batch_bytes``. The compressed
    bytes go to the store in chunks of about ``write_size``. Memory stays
    bounded by those sizes (at most 128 lines of ``batch_bytes / 8`` each
    wait to be compressed, typically a few KiB; plus, in parallel mode,
    ``queue_depth + 1`` hand-offs of 1 MiB, or a few 1 MiB jobs of
    multi-threaded zstd, and the codec's own
    window) whatever the stream length. (If record sizes swing by orders of
    magnitude, one ``write_many`` batch can hold up to 128 big records:
    lower ``batch_records`` then.)

    **A record that cannot be encoded** (:class:`~omnistorage.errors.DataError`,
    :class:`~omnistorage.errors.RecordTooLargeError`, ``TypeError``): the
    :meth:`write` of that record raises, with a note giving its 0-based
    position among all records given to this writer. Only that record is
    dropped (counted in :attr:`rejected`); every other record is written,
    in order, and the writer stays usable. :meth:`write_many` is stricter,
    see there.

    **Failures of the store** (a failed write or publish): the object is
    aborted — nothing is published — the error is raised, and every later
    call raises :class:`~omnistorage.errors.StreamClosed`.

    **Publishing.** :meth:`close` (or a clean exit from the ``with`` block)
    publishes the object, atomically on backends with ``ATOMIC_WRITE``;
    :meth:`abort`, an exception inside the ``with`` block, or garbage
    collection of an unclosed writer (with a ``ResourceWarning``) publish
    nothing.

    **Parallel mode** takes compression off the calling thread, which then
    only encodes: the compressor and the store writes run on one Python
    worker thread fed through a queue of ``queue_depth`` batches of 1 MiB
    (or ``batch_bytes`` if larger; memory grows by at most ``queue_depth +
    1`` of them). The output is byte-for-byte the serial output (the same
    compressor sees the same bytes; a frame or member ends at the same
    flushes; the same seal). ``parallel=None`` (default) turns it on for
    zstd compressed on one libzstd thread (``threads=0``, zstd's default)
    when the process may use two or more CPUs: zstd costs most of a writer's time
    and releases the GIL, so encoding overlaps it. ``parallel=False`` (or
    ``threads=0`` given explicitly to :func:`~omnistorage.records.open_writer`)
    keeps everything on the calling thread. The other codecs also release
    the GIL while they compress, so the worker pays off when compression
    costs more than encoding (zlib gzip) or when the store's writes block;
    for ISA-L gzip, snappy and ``none``, whose compression is cheaper than
    the encoding, the hand-offs cost more than they save on a local store,
    so they are off unless asked for. zstd with ``threads=N`` (a codec
    option, ``N > 0`` or ``-1``) compresses on libzstd's own worker threads
    instead, in jobs of 1 MiB so memory stays bounded: a standard zstd
    stream with the same frames, its blocks split differently.

    **The seal.** On :meth:`close`, an object compressed with gzip, zstd or
    snappy ends with a seal (:mod:`omnistorage.compression`): a marker that
    ``gzip -d``, ``zstd -d`` and python-snappy skip, carrying the record
    count and the uncompressed size. A reader that knows the object was
    sealed detects a cut at any byte, member boundaries included.
    ``seal=False`` leaves it out. Uncompressed objects (``none``) cannot be
    sealed: there only a format's own framing or final newline tells.

    **What a returned write means.** The record is encoded and held in this
    process's memory (at most about ``batch_bytes`` plus the codec's
    buffers); nothing is durable until :meth:`close` publishes. A SIGKILL
    loses everything not published; on atomic backends the object never
    appears (see the README, "After a crash").

    Counters: :attr:`records`, :attr:`rejected`, :attr:`bytes_in` (encoded
    bytes so far) and :attr:`bytes_out`
    (compressed bytes produced so far).
    """

    __slots__ = (
        "__weakref__",
        "_batch_bytes",
        "_batch_records",
        "_big",
        "_bytes_in",
        "_counted",
        "_counted_size",
        "_dumps",
        "_encode",
        "_encode_many",
        "_encoder",
        "_inner",
        "_limit",
        "_lines",
        "_lines_max",
        "_path",
        "_rejected",
        "_result",
        "_seal_codec",
        "_sink",
        "_state",
        "_suspect",
        "_suspect_arg",
        "_threshold",
        "_written",
    )

    def __init__(
        self,
        target: Target,
        *,
        format: Format,
        codec: Codec,
        path: str = "",
        parallel: bool | None = None,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        batch_records: int = DEFAULT_BATCH_RECORDS,
        write_size: int = DEFAULT_WRITE_SIZE,
        queue_depth: int = DEFAULT_QUEUE_DEPTH,
        seal: bool = True,
    ) -> None:
        self._state = "failed"  # until fully built: __del__ then does nothing
        self._batch_bytes = check_positive("batch_bytes", batch_bytes)
        self._batch_records = check_positive("batch_records", batch_records)
        check_positive("write_size", write_size)
        check_positive("queue_depth", queue_depth)
        if parallel is None:
            parallel = default_parallel(codec)
        elif not isinstance(parallel, bool):
            raise ConfigurationError(f"parallel must be True, False or None, got {parallel!r}")
        self._path = path
        self._encoder = make_encoder(format)
        self._encode_many = self._encoder.encode_many
        self._encode = self._encoder.encode
        # The per-record fast path: a C-level encoder whose output needs only
        # cheap checks (NDJSON: orjson, called as dumps(record, None, option)),
        # else the format's own encode.
        fast = getattr(self._encoder, "fast_dumps", None)
        self._dumps: Callable[[Any, Any, int], bytes] = fast or self._encode_plain
        # A fast line for which suspect(line, arg) is true (it may hold NaN or
        # Infinity, which orjson writes as null) is re-encoded by the full
        # encoder; suspect is None when no line needs that look.
        suspect = getattr(self._encoder, "fast_suspect", None) if fast else None
        self._suspect: Callable[[bytes, Any], object] | None = None
        self._suspect_arg: Any = None
        if suspect is not None:
            self._suspect, self._suspect_arg = suspect
        # The longest line the fast path may take as it is (with its newline).
        self._limit = getattr(self._encoder, "max_line", 0) + 1 if fast else sys.maxsize
        # write() looks further after _lines_max lines, or a line over _big
        # (which every line over _limit is): compress now, or refuse the line.
        self._lines_max = min(self._batch_records, BATCH_RECORDS)
        self._big = min(self._limit, max(1, self._batch_bytes >> 3))
        compressor, offloaded = make_compressor(codec)
        inner = CompressingSink(target, compressor, write_size, gather_size(codec))
        self._inner = inner
        self._seal_codec = codec.name if seal and can_seal(codec.name) else None
        # Multi-threaded zstd compresses on libzstd's threads already (without
        # the GIL); a Python worker thread on top of it only adds hand-offs.
        self._sink: Sink = (
            ThreadedSink(inner, queue_depth, max(self._batch_bytes, HANDOFF_BYTES))
            if parallel and not offloaded
            else inner
        )
        # The lines write() gathered, one per record, not compressed yet; the
        # first _counted of them add up to _counted_size bytes (for bytes_in).
        self._lines: list[bytes] = []
        self._counted = 0
        self._counted_size = 0
        self._threshold = min(FIRST_BATCH, self._batch_records)
        self._written = 0
        self._rejected = 0
        self._bytes_in = 0
        self._result: Any = None
        self._state = "open"

    # ------------------------------------------------------------ counters

    @property
    def path(self) -> str:
        """The store-relative key being written (``""`` if not given)."""
        return self._path

    @property
    def records(self) -> int:
        """Records accepted so far (buffered or written), rejected ones excluded."""
        return self._written + len(self._lines)

    @property
    def rejected(self) -> int:
        """Records dropped because they could not be encoded."""
        return self._rejected

    @property
    def bytes_in(self) -> int:
        """Encoded (uncompressed) bytes so far."""
        lines = self._lines
        if self._counted < len(lines):
            self._counted_size += sum(map(len, lines[self._counted :]))
            self._counted = len(lines)
        return self._bytes_in + self._counted_size

    @property
    def bytes_out(self) -> int:
        """Compressed bytes produced so far (the object's size once closed)."""
        return self._sink.bytes_out

    @property
    def closed(self) -> bool:
        """True once published, aborted or failed."""
        return self._state != "open"

    # ------------------------------------------------------------ writing

    def write(self, record: Any) -> None:
        """Encode ``record`` now and buffer the bytes (compressed per batch).

        The record is what it was when ``write`` returned: a dict reused and
        changed afterwards does not change what is written. A returned
        ``write`` means the record is encoded into this process's buffers,
        not stored: it reaches the store when a batch fills, on
        :meth:`flush`, and becomes visible on :meth:`close`.

        Raises:
            StreamClosed: the writer is closed, aborted or failed.
            DataError, TypeError: this record could not be encoded (NaN or
                Infinity in NDJSON, an unserializable value …); it was not
                written, the writer stays usable.
            StorageError: the store failed (the object is aborted).
        """
        try:
            data = self._dumps(record, None, NEWLINE)
        except ENCODE_ERRORS:
            data = self._encode_one(record)
        else:
            suspect = self._suspect
            if suspect is not None and suspect(data, self._suspect_arg):
                data = self._encode_one(record)  # the full encoder decides (NaN or null)
        lines = self._lines
        lines.append(data)  # raises StreamClosed once the writer is finished
        if len(lines) >= self._lines_max or len(data) > self._big:
            self._full(record, data)

    def _full(self, record: Any, data: bytes) -> None:
        """A batch of lines is full, or ``data`` is long: check its size, compress."""
        if len(data) > self._limit:  # a fast line that may be too long
            self._lines.pop()
            self._lines.append(self._encode_one(record))  # raises RecordTooLargeError
        self._compress_lines()

    def _encode_plain(self, record: Any, default: Any = None, option: int = 0) -> bytes:
        """The per-record path of encoders without a fast path: the format's encode."""
        return self._encode(record)

    def _encode_one(self, record: Any) -> bytes:
        """Encode one record with every check; on failure count it and say which it was."""
        try:
            data = self._encode(record)
        except ENCODE_ERRORS as exc:
            if self._state != "open":
                self._check_open()
            self._rejected += 1
            exc.add_note(
                f"record {self.records + self._rejected - 1} given to "
                f"the RecordWriter for {self._path!r} was not written; the writer kept the "
                "other records"
            )
            raise
        return data

    def write_many(self, records: Iterable[Any]) -> None:
        """Write ``records`` in order, encoded in batches (the fastest path).

        Unlike :meth:`write`, errors are immediate and stop the call: if a
        record cannot be encoded, the records before it are written, and that
        record and the rest of ``records`` are not (the error's note says
        which one; :attr:`records` tells how many were written). The writer
        stays usable.
        """
        self._write_many(records, annotate=True)

    def _write_many(self, records: Iterable[Any], annotate: bool = False) -> None:
        self._check_open()
        self._compress_lines()  # the records write() gathered go first
        offset = 0
        if isinstance(records, list | tuple):
            total = len(records)
            while offset < total:
                step = self._threshold
                self._encode_chunk(records[offset : offset + step], offset, annotate)
                offset += step
            return
        iterator = iter(records)
        while chunk := list(islice(iterator, self._threshold)):
            self._encode_chunk(chunk, offset, annotate)
            offset += len(chunk)

    def flush(self) -> None:
        """Encode what is queued, end the gzip member / zstd frame, hand it all to the store.

        Afterwards the bytes given to the store decode completely on their
        own: a streaming backend's reader (``channel``) gets every record
        written so far, and a crash loses nothing before this point *of what
        the store has kept*. On an atomic backend (memory, local, S3 …)
        nothing is visible before :meth:`close`, and an object whose writer
        dies is never published, so ``flush`` there only bounds what sits in
        this process's buffers. Each flush starts a new member/frame, which
        costs a little compression ratio: flush per second, not per record.
        """
        self._check_open()
        self._compress_lines()
        self._guard(self._sink.flush)

    def close(self) -> Any:
        """Publish the object; return what the target's ``close`` returned.

        For a Store writer that is a :class:`~omnistorage.models.WriteResult`
        (path and compressed size). Closing a published writer again returns
        the same result.

        Raises:
            StreamClosed: the writer was aborted or failed.
            DataError, TypeError: a queued record could not be encoded; the
                writer is *not* closed (call ``close()`` again or ``abort()``).
            StorageError: publishing failed (nothing was published), e.g.
                ``AlreadyExists`` for a create-only key that appeared.
        """
        if self._state == "closed":
            return self._result
        self._check_open()
        self._compress_lines()
        tail = self._encoder.finish()
        if tail:
            self._bytes_in += len(tail)
            self._guard(self._sink.push, tail)
        if self._seal_codec is not None:
            self._inner.trailer = seal_bytes(
                self._seal_codec, Seal(records=self._written, size=self._bytes_in)
            )
        self._retire("closed", "write to a closed RecordWriter")
        try:
            self._result = self._sink.close()
        except BaseException:
            self._state = "failed"
            raise
        return self._result

    def abort(self) -> None:
        """Discard the object: nothing is published. Idempotent."""
        if self._state in ("aborted", "closed"):
            return
        failed = self._state == "failed"
        self._retire("aborted", "write to an aborted RecordWriter")
        if failed:
            with contextlib.suppress(Exception):  # already aborted by the failure
                self._sink.abort()
            return
        self._sink.abort()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            self._abort_quietly()
            return
        try:
            self.close()
        except BaseException as exc:
            if not self.closed and isinstance(exc, ENCODE_ERRORS):
                exc.add_note(f"leaving the with block aborted {self._path!r}: nothing published")
            self._abort_quietly()
            raise

    def __del__(self) -> None:
        if getattr(self, "_state", None) == "open":
            warnings.warn(
                f"unclosed RecordWriter for {self._path!r} was aborted (never published)",
                ResourceWarning,
                stacklevel=1,
            )
            self._abort_quietly()

    def __repr__(self) -> str:
        return f"RecordWriter({self._path!r}, records={self.records}, state={self._state})"

    # ------------------------------------------------------------ internals

    def _check_open(self) -> None:
        if self._state != "open":
            raise StreamClosed(f"RecordWriter for {self._path!r} is {self._state}", path=self._path)

    def _retire(self, state: str, message: str) -> None:
        self._written += len(self._lines)  # records stays the count of records accepted
        self._state = state
        self._lines = _Closed(f"{message} ({self._path!r})", self._path)
        self._counted = self._counted_size = 0

    def _abort_quietly(self) -> None:
        with contextlib.suppress(Exception):  # already failing: the first error is reported
            self.abort()

    def _guard(self, call: Any, *args: Any) -> Any:
        """Run a sink call; a failure kills the writer (the target aborted itself)."""
        try:
            return call(*args)
        except BaseException:
            self._retire("failed", "write to a failed RecordWriter")
            with contextlib.suppress(Exception):  # the sink's error is the one to report
                self._sink.abort()
            raise

    def _compress_lines(self) -> None:
        """Hand the lines :meth:`write` gathered to the compressor, joined."""
        lines = self._lines
        if not lines:
            return
        data = b"".join(lines)
        self._written += len(lines)
        lines.clear()
        self._counted = self._counted_size = 0
        if data:
            self._bytes_in += len(data)
            self._guard(self._sink.push, data)

    def _write_lines(self, lines: list[bytes]) -> None:
        """Take encoded lines as they are, in order (``RollingRecordWriter``'s batched path).

        Each line is one record, already checked as :meth:`write` checks it.
        """
        self._check_open()
        self._compress_lines()
        self._accept(len(lines), b"".join(lines))

    def _encode_chunk(
        self, chunk: list[Any] | tuple[Any, ...], offset: int, annotate: bool
    ) -> None:
        try:
            data = self._encode_many(chunk)
        except ENCODE_ERRORS:
            pass
        else:
            self._accept(len(chunk), data)
            return
        encode = self._encoder.encode
        good: list[bytes] = []
        for index, record in enumerate(chunk):
            try:
                good.append(encode(record))
            except ENCODE_ERRORS as exc:
                self._accept(len(good), b"".join(good))
                if annotate:
                    exc.add_note(
                        f"write_many: record {offset + index} of the call and the ones after "
                        f"it were not written to {self._path!r}; the ones before it were"
                    )
                raise
        # Not reached unless encode_many and encode disagree.
        self._accept(len(good), b"".join(good))  # pragma: no cover

    def _accept(self, count: int, data: bytes) -> None:
        """Take ``count`` encoded records and compress them."""
        self._written += count
        size = len(data)
        if not size:
            return
        if count:
            self._threshold = max(
                1, min(self._batch_records, BATCH_RECORDS, self._batch_bytes * count // size)
            )
        # Compressed as it is: copying batches into a bigger buffer costs more
        # than the compressor's per-call overhead saves.
        self._bytes_in += size
        self._guard(self._sink.push, data)
