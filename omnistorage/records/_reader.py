"""RecordReader: a Store stream → codec → format → records, in bounded chunks.

The decoding is :class:`~omnistorage.records._decoding.RecordDecoding`, shared with
the async reader; this class reads the chunks and hands out the records.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from itertools import chain
from typing import Any, Protocol, cast

from omnistorage.records._decoding import DECODE_TARGET, DEFAULT_READ_SIZE, RecordDecoding

__all__ = ["DECODE_TARGET", "DEFAULT_READ_SIZE", "RecordReader"]


class Source(Protocol):
    """What a RecordReader reads from: a binary stream such as ``Store.read``'s."""

    def read(self, size: int = ..., /) -> bytes | None: ...

    def close(self) -> None: ...


class _ListIterator(Protocol):
    """What ``iter(a_list)`` gives (the reader keeps its position in one)."""

    def __iter__(self) -> _ListIterator: ...

    def __next__(self) -> Any: ...

    def __length_hint__(self) -> int:
        """How many items are left."""
        ...

    def __setstate__(self, index: int, /) -> None:
        """Move to ``index`` (past the end: exhausted)."""
        ...


def _iterate(batch: list[Any]) -> _ListIterator:
    return cast(_ListIterator, iter(batch))


class RecordReader(RecordDecoding[Source]):
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

    Iterating (``for record in reader``) hands out the records through a
    C-level iterator, batch by batch; it shares its position with
    :meth:`read`, ``next(reader)`` and :meth:`read_batch`, which may be mixed
    with it or follow a ``break``, and each record is returned once.

    Not thread-safe. ``close()`` (or leaving the ``with`` block) closes the
    store stream.
    """

    # _it iterates over the current batch (the core's _batch): it holds this
    # reader's position in it (the core's _pos stays 0).
    __slots__ = ("_it",)

    def _started(self) -> None:
        self._it = _iterate(self._batch)

    # ------------------------------------------------------------ reading

    @property
    def records(self) -> int:
        """Records returned so far."""
        return self._consumed + len(self._batch) - self._it.__length_hint__()

    def __iter__(self) -> Iterator[Any]:
        return chain.from_iterable(self._iterators())

    def _iterators(self) -> Iterator[Iterator[Any]]:
        """The iterator over each batch in turn (the current one first), for ``__iter__``."""
        while True:
            if not self._it.__length_hint__() and not self._fill():
                return
            yield self._it

    def __next__(self) -> Any:
        for record in self._it:
            return record
        if not self._fill():
            raise StopIteration
        return next(self._it)

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
        it = self._it
        left = it.__length_hint__()
        if not left:
            if not self._fill():
                return []
            it = self._it
            left = len(self._batch)
        batch = self._batch
        if left == len(batch):
            it.__setstate__(left)  # all handed out, also to a chain that holds it
            return batch
        return list(it)

    def close(self) -> None:
        """Close the store stream. Idempotent."""
        if self._mark_closed():
            self._it.__setstate__(sys.maxsize)  # a paused iteration yields nothing more
            self._it = _iterate(self._batch)
            self._source.close()

    def __enter__(self) -> RecordReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------ internals

    def _fill(self) -> bool:
        """Decode the next batch (the current one is all handed out); False at the end."""
        # An iterator over the old batch may live on (a chain paused by a
        # break): make sure it yields nothing more.
        self._it.__setstate__(sys.maxsize)
        filled = self._fill_until_records()
        self._it = _iterate(self._batch)
        return filled

    def _fill_until_records(self) -> bool:
        """Decode until records are available; False at the end."""
        self._begin_fill()
        while want := self._next_read():
            try:
                chunk = self._source.read(want)
                if chunk is None:
                    raise BlockingIOError("the store stream would block")
            except BaseException as exc:
                self._failed(exc)
                raise
            self._step(chunk)
        return bool(self._batch)
