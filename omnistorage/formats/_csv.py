"""CSV: RFC 4180 records through the standard library's :mod:`csv` module."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import accumulate, chain
from typing import Any, ClassVar

from omnistorage.errors import (
    ConfigurationError,
    CorruptRecordError,
    DataError,
    RecordTooLargeError,
    TruncatedRecordError,
)
from omnistorage.formats._base import (
    DEFAULT_MAX_RECORD_SIZE,
    DecoderBase,
    SkipCallback,
    check_max_record_size,
)

__all__ = ["CSV", "CSVDecoder", "CSVEncoder"]

_UTF8_BOM = codecs.BOM_UTF8


@dataclass(frozen=True, slots=True)
class _Dialect:
    delimiter: str
    quotechar: str
    lineterminator: str

    def writer_args(self) -> dict[str, Any]:
        return {
            "delimiter": self.delimiter,
            "quotechar": self.quotechar,
            "lineterminator": self.lineterminator,
            "quoting": csv.QUOTE_MINIMAL,
            "doublequote": True,
        }

    def reader_args(self) -> dict[str, Any]:
        return {
            "delimiter": self.delimiter,
            "quotechar": self.quotechar,
            "quoting": csv.QUOTE_MINIMAL,
            "doublequote": True,
        }


class CSVEncoder:
    """Writes rows with :func:`csv.writer` (see :class:`CSV`)."""

    __slots__ = ("_encoding", "_fieldnames", "_header", "_header_done", "_max", "_text", "_writer")

    def __init__(
        self,
        *,
        fieldnames: tuple[str, ...] | None,
        header: bool,
        dialect: _Dialect,
        encoding: str,
        max_record_size: int,
    ) -> None:
        self._fieldnames = fieldnames
        self._header = header
        self._header_done = False
        self._encoding = encoding
        self._max = max_record_size
        self._text = io.StringIO()
        self._writer = csv.writer(self._text, **dialect.writer_args())

    def _row(self, record: Any, fieldnames: tuple[str, ...] | None) -> Sequence[Any]:
        if isinstance(record, Mapping):
            if fieldnames is None:
                raise DataError("a CSV dict row needs fieldnames")  # pragma: no cover
            try:
                values = [record[name] for name in fieldnames]
            except KeyError as exc:
                raise DataError(f"CSV row is missing the field {exc.args[0]!r}") from None
            if len(record) != len(fieldnames):
                known = set(fieldnames)
                extra = [key for key in record if key not in known]
                raise DataError(
                    f"CSV row has field(s) not in the header: {', '.join(map(repr, extra))}"
                )
            return values
        if isinstance(record, str | bytes) or not isinstance(record, Sequence):
            raise TypeError(f"a CSV row is a dict or a sequence, not {type(record).__name__}")
        if fieldnames is not None and len(record) != len(fieldnames):
            raise DataError(
                f"CSV row has {len(record)} values for {len(fieldnames)} fields {fieldnames!r}"
            )
        return record

    def encode(self, record: Any) -> bytes:
        """Return one row (preceded by the header if it is the first)."""
        return self.encode_many((record,))

    def encode_many(self, records: Iterable[Any]) -> bytes:
        """Return the rows (preceded by the header if they are the first).

        Raises:
            DataError: a dict row with a missing or extra field, or a sequence
                of the wrong length; text the encoding cannot represent.
            TypeError: a row that is neither a mapping nor a sequence, or a
                sequence row when there is a header but no fieldnames.
            RecordTooLargeError: an encoded row longer than ``max_record_size``.
        """
        fieldnames = self._fieldnames
        rows: list[Sequence[Any]] = []
        for record in records:
            if fieldnames is None and isinstance(record, Mapping):
                fieldnames = tuple(record)
            elif fieldnames is None and self._header:
                raise TypeError(
                    "the first CSV row must be a dict (or fieldnames given) to write a header"
                )
            rows.append(self._row(record, fieldnames))
        write_header = self._header and not self._header_done and fieldnames is not None
        if write_header and fieldnames is not None:
            rows.insert(0, fieldnames)
        data = self._write(rows)
        if len(data) > self._max:
            for row in rows:
                size = len(self._write([row]))
                if size > self._max:
                    raise RecordTooLargeError(
                        f"CSV row of {size} bytes exceeds max_record_size={self._max}"
                    )
        self._fieldnames = fieldnames
        self._header_done = self._header_done or write_header
        return data

    def _write(self, rows: list[Sequence[Any]]) -> bytes:
        text = self._text
        try:
            self._writer.writerows(rows)
            out = text.getvalue()
        finally:
            text.seek(0)
            text.truncate()
        try:
            return out.encode(self._encoding)
        except UnicodeEncodeError as exc:
            raise DataError(f"CSV text cannot be encoded as {self._encoding}: {exc}") from exc

    def finish(self) -> bytes:
        """Return the header if no row was written (a header-only object), else ``b""``."""
        if self._header and not self._header_done and self._fieldnames is not None:
            return self.encode_many(())
        return b""


def _strip_terminator(record: bytes) -> bytes:
    if record.endswith(b"\r\n"):
        return record[:-2]
    if record.endswith((b"\n", b"\r")):
        return record[:-1]
    return record


class CSVDecoder(DecoderBase):
    """Incremental CSV parsing over the stdlib reader (see :class:`CSV`).

    Only complete lines are handed to :func:`csv.reader`; a record whose
    quoted field continues past the last complete line is detected (the
    reader asks for another line) and kept for the next ``feed``.
    """

    _label = "CSV"

    __slots__ = (
        "_decode",
        "_decode_line",
        "_dialect",
        "_fieldnames",
        "_header",
        "_line",
        "_max",
        "_offset",
        "_pending",
        "_pending_len",
        "_retry_at",
        "_started",
    )

    def __init__(
        self,
        *,
        fieldnames: tuple[str, ...] | None,
        header: bool,
        dialect: _Dialect,
        encoding: str,
        max_record_size: int,
        decode: bool,
    ) -> None:
        super().__init__()
        self._fieldnames = fieldnames
        self._header = header
        self._dialect = dialect.reader_args()
        self._decode_line: Callable[[bytes], str] = (
            bytes.decode
            if codecs.lookup(encoding).name == "utf-8"
            else partial(bytes.decode, encoding=encoding)
        )
        self._max = max_record_size
        self._decode = decode
        self._pending: list[bytes] = []
        self._pending_len = 0
        self._retry_at = 0  # don't re-parse a partial record before this much is pending
        self._offset = 0  # stream offset of the first pending byte
        self._line = 1  # physical line number of the first pending byte
        # A leading UTF-8 byte-order mark is looked for until 3 bytes arrived.
        self._started = codecs.lookup(encoding).name != "utf-8"
        # The reader refuses fields longer than a process-wide limit
        # (128 Ki characters by default); raise it to max_record_size.
        if csv.field_size_limit() < max_record_size:
            csv.field_size_limit(max_record_size)

    @property
    def fieldnames(self) -> tuple[str, ...] | None:
        """The header's field names once read (or the configured ones)."""
        return self._fieldnames

    def _feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        if not data:
            return []
        chunk = bytes(data)
        if not self._started:
            self._pending.append(chunk)
            joined = b"".join(self._pending)
            if len(joined) < len(_UTF8_BOM) and _UTF8_BOM.startswith(joined):
                self._pending_len = len(joined)
                return []
            self._started = True
            self._pending = []
            if joined.startswith(_UTF8_BOM):
                joined = joined[len(_UTF8_BOM) :]
                self._offset = len(_UTF8_BOM)
            chunk = joined
            self._pending_len = 0
        held_cr = bool(self._pending) and self._pending[-1].endswith(b"\r")
        self._pending.append(chunk)
        self._pending_len += len(chunk)
        if not held_cr and b"\n" not in chunk and b"\r" not in chunk:
            # No new line ended, so no record can have completed.
            if self._pending_len > self._max:
                raise self._too_large()
            return []
        if self._pending_len < self._retry_at:
            if self._pending_len > self._max:
                raise self._too_large()
            return []
        buf = b"".join(self._pending)
        # Cut after the last line terminator; a final b"\r" may be the first
        # half of b"\r\n", so it waits for the next byte.
        limit = len(buf) - 1 if buf.endswith(b"\r") else len(buf)
        cut = max(buf.rfind(b"\n", 0, limit), buf.rfind(b"\r", 0, limit)) + 1
        records: list[Any] = []
        if cut:
            records, used = self._parse(buf[:cut] if cut < len(buf) else buf, final=False)
            rest = buf[used:]
            self._retry_at = 2 * len(rest) if used < cut else 0
        else:
            rest = buf
        self._pending = [rest] if rest else []
        self._pending_len = len(rest)
        if len(rest) > self._max:
            raise self._too_large()
        return records

    def _too_large(self) -> RecordTooLargeError:
        return RecordTooLargeError(
            f"CSV record starting on line {self._line} at byte offset {self._offset} "
            f"is longer than max_record_size={self._max}"
        )

    def _finish(self) -> list[Any]:
        """Return the last records; a last record without a line break is accepted.

        Raises:
            TruncatedRecordError: the object ends inside a quoted field.
        """
        buf = b"".join(self._pending)
        self._pending = []
        # Not started: fewer than 3 bytes, a strict prefix of a byte-order
        # mark (invalid text, reported by the parser) or nothing.
        if not buf:
            return []
        records, _ = self._parse(buf, final=True)
        return records

    def _parse(self, block: bytes, *, final: bool) -> tuple[list[Any], int]:
        """Parse whole records from ``block``; return them and the bytes used."""
        lines = block.splitlines(keepends=True)
        exhausted = False

        def end_marker() -> Iterator[str]:
            nonlocal exhausted
            exhausted = True
            yield from ()

        reader = csv.reader(chain(map(self._decode_line, lines), end_marker()), **self._dialect)
        rows: list[list[str]] = []
        ends: list[int] = []  # line count after each row
        try:
            for row in reader:
                if exhausted:
                    # The reader ran out of lines inside a quoted field.
                    if final:
                        raise TruncatedRecordError(
                            f"CSV object ends inside a quoted field of the record at "
                            f"byte offset {self._offset + self._used(lines, ends)}"
                        )
                    break
                rows.append(row)
                ends.append(reader.line_num)
        except UnicodeDecodeError as exc:
            where = self._line + reader.line_num
            raise CorruptRecordError(f"CSV line {where} is not valid text: {exc}") from exc
        except csv.Error as exc:
            where = self._line + max(reader.line_num - 1, 0)
            raise CorruptRecordError(f"bad CSV on line {where}: {exc}") from exc
        used_lines = ends[-1] if ends else 0
        sizes: list[int] = []
        if len(block) > self._max:
            sizes = [0, *accumulate(map(len, lines[:used_lines]))]
        records = self._records(rows, ends, sizes, lines)
        used = sizes[used_lines] if sizes else sum(map(len, lines[:used_lines]))
        self._offset += used
        self._line += used_lines
        return records, used

    @staticmethod
    def _used(lines: list[bytes], ends: list[int]) -> int:
        return sum(map(len, lines[: ends[-1] if ends else 0]))

    def _records(
        self, rows: list[list[str]], ends: list[int], sizes: list[int], lines: list[bytes]
    ) -> list[Any]:
        out: list[Any] = []
        fieldnames = self._fieldnames
        start = 0
        for row, end in zip(rows, ends, strict=True):
            first, start = start, end
            if sizes and sizes[end] - sizes[first] > self._max:
                raise RecordTooLargeError(
                    f"CSV record on line {self._line + first} at byte offset "
                    f"{self._offset + sizes[first]} is longer than max_record_size={self._max}"
                )
            if not row:
                continue  # a blank line
            if self._header:
                self._header = False
                if fieldnames is None:
                    fieldnames = self._fieldnames = tuple(row)
                elif tuple(row) != fieldnames:
                    raise CorruptRecordError(
                        f"CSV header {row!r} does not match the fieldnames {list(fieldnames)!r}"
                    )
                continue
            if fieldnames is not None and len(row) != len(fieldnames):
                raise CorruptRecordError(
                    f"CSV record on line {self._line + first} has {len(row)} fields; "
                    f"the header has {len(fieldnames)}"
                )
            if not self._decode:
                out.append(_strip_terminator(b"".join(lines[first:end])))
            elif fieldnames is None:
                out.append(row)
            else:
                out.append(dict(zip(fieldnames, row, strict=True)))
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class CSV:
    """CSV (``.csv``), RFC 4180 via the standard library's :mod:`csv`.

    Args:
        fieldnames: the columns. Writing: the header and the order of dict
            values; without it the first dict row's keys are used. Reading
            with ``header=True``: the object's header must equal it.
        header: objects start with one header row (default). Without a
            header and without fieldnames, rows are lists of strings.
        delimiter, quotechar: as in :mod:`csv` (defaults ``,`` and ``"``).
        lineterminator: written after each row; ``"\\r\\n"`` by default, as
            the stdlib and RFC 4180. Reading accepts ``\\r\\n``, ``\\n`` and
            ``\\r`` whatever this is.
        encoding: an ASCII-compatible text encoding (default UTF-8). A
            leading UTF-8 byte-order mark is skipped when reading.
        max_record_size: the largest record in bytes, including its line
            break (default 16 MiB), enforced when writing and reading.

    Writing: the header once per object (also for an object with no rows,
    from ``finish()``), then one row per record with minimal quoting —
    byte-for-byte what :class:`csv.DictWriter` writes to a file opened with
    ``newline=""``. Rows are dicts (every field present, no extras, else
    :class:`~omnistorage.errors.DataError` naming the field) or, when
    fieldnames are known, sequences of the same length. Values are written
    with ``str()``; ``None`` as an empty field.

    Reading: dict rows of strings (lists without fieldnames), one per
    record; quoted fields may hold the delimiter, quotes and line breaks,
    and records may be split across ``feed()`` calls anywhere. Parsing is
    the stdlib's, so a stray quote inside an unquoted field is kept as text.
    Blank lines are skipped. A record with a different number of fields
    than the header raises :class:`~omnistorage.errors.CorruptRecordError`.
    The last record may lack its line break (RFC 4180 allows it); an object
    ending inside a quoted field raises
    :class:`~omnistorage.errors.TruncatedRecordError`. ``decode=False``
    yields each data record's raw bytes without its line break. There is no
    recover mode.

    Process-wide effect: the stdlib's ``csv.field_size_limit`` is raised to
    ``max_record_size`` when a decoder is made (never lowered).

    Raises:
        ConfigurationError: bad dialect characters, a non-ASCII-compatible
            encoding or a bad ``max_record_size``; ``recover=True``.
    """

    name: ClassVar[str] = "csv"
    extensions: ClassVar[tuple[str, ...]] = (".csv",)

    fieldnames: tuple[str, ...] | None = None
    header: bool = True
    delimiter: str = ","
    quotechar: str = '"'
    lineterminator: str = "\r\n"
    encoding: str = "utf-8"
    max_record_size: int = DEFAULT_MAX_RECORD_SIZE

    def __post_init__(self) -> None:
        check_max_record_size(self.max_record_size)
        if self.fieldnames is not None:
            names = tuple(self.fieldnames)
            if not names or not all(isinstance(name, str) for name in names):
                raise ConfigurationError("CSV fieldnames must be a non-empty sequence of str")
            if len(set(names)) != len(names):
                raise ConfigurationError(f"CSV fieldnames repeat a name: {names!r}")
            object.__setattr__(self, "fieldnames", names)
        for option in ("delimiter", "quotechar"):
            value = getattr(self, option)
            if not isinstance(value, str) or len(value) != 1 or value in "\r\n":
                raise ConfigurationError(f"CSV {option} must be one character, got {value!r}")
        if self.delimiter == self.quotechar:
            raise ConfigurationError("CSV delimiter and quotechar must differ")
        if self.lineterminator not in ("\r\n", "\n", "\r"):
            raise ConfigurationError(
                f"CSV lineterminator must be '\\r\\n', '\\n' or '\\r', got {self.lineterminator!r}"
            )
        try:
            ascii_compatible = "\r\n,\"'abc".encode(self.encoding) == b"\r\n,\"'abc"
        except LookupError:
            raise ConfigurationError(f"unknown encoding {self.encoding!r}") from None
        except UnicodeError:
            ascii_compatible = False
        if not ascii_compatible:
            raise ConfigurationError(
                f"CSV encoding must be ASCII-compatible (utf-8, latin-1 …), not {self.encoding!r}"
            )

    def _dialect(self) -> _Dialect:
        return _Dialect(self.delimiter, self.quotechar, self.lineterminator)

    def encoder(self) -> CSVEncoder:
        """Return a new encoder for one object."""
        return CSVEncoder(
            fieldnames=self.fieldnames,
            header=self.header,
            dialect=self._dialect(),
            encoding=self.encoding,
            max_record_size=self.max_record_size,
        )

    def decoder(
        self,
        *,
        decode: bool = True,
        recover: bool = False,
        on_skip: SkipCallback | None = None,
    ) -> CSVDecoder:
        """Return a new decoder for one object (``decode=False``: raw record bytes)."""
        if recover:
            raise ConfigurationError("the csv format has no recover mode")
        return CSVDecoder(
            fieldnames=self.fieldnames,
            header=self.header,
            dialect=self._dialect(),
            encoding=self.encoding,
            max_record_size=self.max_record_size,
            decode=decode,
        )
