"""The encoder a :class:`~omnistorage.records.RecordWriter` uses for a format.

Every format takes bytes-like records as raw records except CSV, whose
encoder takes rows only. :class:`CSVRows` adds raw rows to it: a bytes-like
record is one already-encoded row, written as it is followed by the
format's line terminator (the bytes ``decode=False`` yields when reading).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from omnistorage.errors import DataError, RecordTooLargeError
from omnistorage.formats import CSV, Encoder, Format

__all__ = ["RAW_TYPES", "CSVRows", "make_encoder"]

RAW_TYPES = (bytes, bytearray, memoryview)


def make_encoder(fmt: Format) -> Encoder:
    """A new encoder for one object of ``fmt`` that also takes raw (bytes) records."""
    if isinstance(fmt, CSV):
        return CSVRows(fmt)
    return fmt.encoder()


class CSVRows:
    """A CSV encoder that also takes raw rows (bytes-like records).

    A raw row is written as it is, followed by the line terminator; it is
    not parsed or validated. Raw rows need the header settled before the
    first row, so they need ``fieldnames=`` (or ``header=False``); the header
    is then written before the first row, whatever its kind. Otherwise a
    raw row raises :class:`~omnistorage.errors.DataError`.

    ``encode_many`` keeps the encoder contract: a batch that raises changed
    nothing (raw rows are checked before any row is encoded, and once the
    header is settled the inner encoder holds no other output state).
    """

    __slots__ = ("_header", "_inner", "_max", "_raw_ok", "_terminator")

    def __init__(self, fmt: CSV) -> None:
        self._inner = fmt.encoder()
        self._raw_ok = not fmt.header or fmt.fieldnames is not None
        self._terminator = fmt.lineterminator.encode(fmt.encoding)
        self._max = fmt.max_record_size
        # With known fieldnames, take the header now; it goes before the first row.
        self._header = self._inner.encode_many(()) if fmt.header and fmt.fieldnames else b""

    def _check_raw(self, records: Sequence[Any]) -> None:
        for record in records:
            if isinstance(record, RAW_TYPES):
                if not self._raw_ok:
                    raise DataError(
                        "a raw (bytes) CSV row needs fieldnames= (or header=False): "
                        "the header must be known before the first row"
                    )
                size = memoryview(record).nbytes + len(self._terminator)
                if size > self._max:
                    raise RecordTooLargeError(
                        f"CSV row of {size} bytes exceeds max_record_size={self._max}"
                    )

    def encode(self, record: Any) -> bytes:
        """Return one row (preceded by the header if it is the first)."""
        return self.encode_many((record,))

    def encode_many(self, records: Iterable[Any]) -> bytes:
        """Return the rows, raw ones as they are (preceded by the header if first)."""
        if not isinstance(records, list | tuple):
            records = list(records)
        if any(isinstance(record, RAW_TYPES) for record in records):
            self._check_raw(records)
            out = self._mixed(records)
        else:
            out = self._inner.encode_many(records)
        if self._header and out:
            out = self._header + out
            self._header = b""
        return out

    def _mixed(self, records: Sequence[Any]) -> bytes:
        parts: list[bytes] = []
        rows: list[Any] = []
        for record in records:
            if isinstance(record, RAW_TYPES):
                if rows:
                    parts.append(self._inner.encode_many(rows))
                    rows = []
                parts.append(bytes(record))
                parts.append(self._terminator)
            else:
                rows.append(record)
        if rows:
            parts.append(self._inner.encode_many(rows))
        return b"".join(parts)

    def finish(self) -> bytes:
        """The header of an object with no rows, else ``b""``."""
        header, self._header = self._header, b""
        return header + self._inner.finish()
