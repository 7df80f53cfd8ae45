"""NDJSON: one JSON value per ``\\n``-terminated UTF-8 line, via orjson."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from omnistorage.errors import (
    CorruptRecordError,
    DataError,
    RecordTooLargeError,
    TruncatedRecordError,
)
from omnistorage.formats import _null_check
from omnistorage.formats._base import (
    DEFAULT_MAX_RECORD_SIZE,
    DecoderBase,
    SkipCallback,
    check_max_record_size,
)
from omnistorage.formats._null_check import NullTest

__all__ = ["NDJSON", "NDJSONDecoder", "NDJSONEncoder"]

_RAW_TYPES = (bytes, bytearray, memoryview)
_APPEND_NEWLINE = orjson.OPT_APPEND_NEWLINE


class NDJSONEncoder:
    """Encodes records as ``\\n``-terminated JSON lines (see :class:`NDJSON`)."""

    __slots__ = (
        "_default",
        "_max",
        "_nan_as_null",
        "_null",
        "_null_arg",
        "fast_dumps",
        "fast_suspect",
        "max_line",
    )

    def __init__(
        self,
        *,
        max_record_size: int,
        default: Callable[[Any], Any] | None,
        nan_as_null: bool = False,
    ) -> None:
        self._max = max_record_size
        self._default = default
        self._nan_as_null = nan_as_null
        # orjson writes NaN and ±Infinity as null: bytes without "null" hold
        # none. self._null(data, self._null_arg) is true when data holds "null".
        test = _null_check.NULL_TEST
        self._null, self._null_arg = test
        # For a writer's per-record path: orjson itself, called as
        # fast_dumps(record, None, OPT_APPEND_NEWLINE); a line for which
        # test(line, arg) is true, with (test, arg) = fast_suspect (it holds
        # "null", which may be a NaN), or longer than max_line (plus its
        # newline) goes through encode(). fast_suspect is None when no line
        # needs that look (nan_as_null).
        self.fast_dumps = orjson.dumps if default is None else None
        self.fast_suspect: NullTest | None = None if nan_as_null else test
        self.max_line = max_record_size

    def _check_finite(self, record: Any, line: bytes) -> None:
        """orjson writes NaN and ±Infinity as ``null``: refuse them unless asked.

        Cheap for the common case: only a line that contains ``null`` is
        inspected, a walk of the record's dicts, lists, tuples and dataclasses.
        """
        if self._nan_as_null or not self._null(line, self._null_arg):
            return
        where = _non_finite(record, "")
        if where is not None:
            raise DataError(
                f"NDJSON record holds NaN or Infinity{where}, which JSON cannot represent "
                "(orjson would write null); pass NDJSON(nan_as_null=True) to write null"
            )

    def _too_large(self, size: int) -> RecordTooLargeError:
        return RecordTooLargeError(
            f"NDJSON record of {size} bytes exceeds max_record_size={self._max}"
        )

    def _raw_line(self, record: bytes | bytearray | memoryview) -> bytes:
        line = bytes(record)
        if b"\n" in line:
            raise DataError("a raw NDJSON record must not contain a newline (b'\\n')")
        if len(line) > self._max:
            raise self._too_large(len(line))
        return line + b"\n"

    def encode(self, record: Any) -> bytes:
        """Return ``record`` as one JSON line; bytes-like records are written as-is.

        Raises:
            DataError: the value is not JSON-serializable (orjson's rules:
                str keys, 64-bit ints, no NaN/Infinity …), or a raw line
                contains ``\\n``.
            RecordTooLargeError: the line (without its ``\\n``) is longer
                than ``max_record_size``.
        """
        if isinstance(record, _RAW_TYPES):
            return self._raw_line(record)
        try:
            line = orjson.dumps(record, default=self._default, option=_APPEND_NEWLINE)
        except orjson.JSONEncodeError as exc:
            raise DataError(f"NDJSON record is not JSON-serializable: {exc}") from exc
        if len(line) > self._max + 1:
            raise self._too_large(len(line) - 1)
        self._check_finite(record, line)
        return line

    def encode_many(self, records: Iterable[Any]) -> bytes:
        """Return the lines of ``records`` joined; the same bytes as ``encode`` on each."""
        if not isinstance(records, list | tuple):
            records = list(records)
        if not records:
            return b""
        if self._default is None:
            try:
                # orjson never emits a newline inside a value, so joining its output
                # with b"\n" is the same bytes as encode() on each record. It rejects
                # top-level bytes, so raw records fall through to the per-record path.
                out = b"\n".join(map(orjson.dumps, records)) + b"\n"
            except orjson.JSONEncodeError:
                return b"".join([self.encode(record) for record in records])
            if not self._nan_as_null and self._null(out, self._null_arg):
                # Walk only the records whose line holds null (None or NaN/Infinity).
                for record, line in zip(records, out.split(b"\n"), strict=False):
                    self._check_finite(record, line)
        else:
            return b"".join([self.encode(record) for record in records])
        if len(out) - len(records) > self._max:  # only then can one line be too long
            longest = max(map(len, out.split(b"\n")))
            if longest > self._max:
                raise self._too_large(longest)
        return out

    def finish(self) -> bytes:
        """NDJSON needs no trailer: returns ``b""``."""
        return b""


def _non_finite(value: Any, path: str) -> str | None:
    """Where in ``value`` a NaN or ±Infinity float is (`` at key 'x'``), else None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (f" at {path}" if path else "")
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, f"{path}[{key!r}]")
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _non_finite(item, f"{path}[{index}]")
            if found is not None:
                return found
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            found = _non_finite(getattr(value, field.name), f"{path}.{field.name}")
            if found is not None:
                return found
    return None


class NDJSONDecoder(DecoderBase):
    """Splits on ``\\n`` only and parses each line (see :class:`NDJSON`)."""

    _label = "NDJSON"

    __slots__ = (
        "_decode",
        "_line",
        "_max",
        "_offset",
        "_on_skip",
        "_pending",
        "_pending_len",
        "_recover",
        "_strict_eof",
    )

    def __init__(
        self,
        *,
        max_record_size: int,
        decode: bool,
        recover: bool,
        on_skip: SkipCallback | None,
        require_final_newline: bool,
    ) -> None:
        super().__init__()
        self._max = max_record_size
        self._decode = decode
        self._recover = recover
        self._on_skip = on_skip
        self._strict_eof = require_final_newline
        self._pending: list[bytes] = []  # pieces of the unterminated last line
        self._pending_len = 0
        self._offset = 0  # stream offset of the first pending byte
        self._line = 1  # line number of the pending line

    def _skip(self, start: int, end: int) -> None:
        self.skipped.append((start, end))
        if self._on_skip is not None:
            self._on_skip(start, end)

    def _too_large(self, size: int, line: int, offset: int) -> RecordTooLargeError:
        return RecordTooLargeError(
            f"NDJSON line {line} at byte offset {offset} is longer than "
            f"max_record_size={self._max} ({size} bytes without a newline so far)"
        )

    def _feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        if not data:
            return []
        chunk = data if type(data) is bytes else bytes(data)
        if b"\n" not in chunk:
            self._pending.append(chunk)
            self._pending_len += len(chunk)
            if self._pending_len > self._max:
                raise self._too_large(self._pending_len, self._line, self._offset)
            return []
        lines = chunk.split(b"\n")
        tail = lines.pop()
        consumed = self._pending_len + len(chunk) - len(tail)
        if self._pending:  # the line begun in earlier chunks (the chunk itself is not copied)
            self._pending.append(lines[0])
            lines[0] = b"".join(self._pending)
        if consumed - len(lines) > self._max:
            self._check_sizes(lines)
        records = self._parse(lines)
        self._line += len(lines)
        self._offset += consumed
        self._pending = [tail] if tail else []
        self._pending_len = len(tail)
        if self._pending_len > self._max:
            raise self._too_large(self._pending_len, self._line, self._offset)
        return records

    def _check_sizes(self, lines: list[bytes]) -> None:
        if max(map(len, lines)) <= self._max:
            return
        offset = self._offset
        for index, line in enumerate(lines):
            if len(line) > self._max:
                raise self._too_large(len(line), self._line + index, offset)
            offset += len(line) + 1

    def _parse(self, lines: list[bytes]) -> list[Any]:
        if not self._decode:
            return [line for line in lines if line.strip()]
        try:
            return list(map(orjson.loads, lines))
        except orjson.JSONDecodeError:
            pass
        # Slow path: blank lines to skip, or a bad line to report or skip.
        records: list[Any] = []
        offset = self._offset
        for index, line in enumerate(lines):
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                if not line.strip():
                    pass
                elif self._recover:
                    self._skip(offset, offset + len(line) + 1)
                else:
                    raise CorruptRecordError(
                        f"invalid JSON on NDJSON line {self._line + index} "
                        f"at byte offset {offset}: {exc}"
                    ) from exc
            offset += len(line) + 1
        return records

    def _finish(self) -> list[Any]:
        """Return the last line if it lacks a final ``\\n`` (see :class:`NDJSON`)."""
        tail = b"".join(self._pending)
        self._pending = []
        if not tail.strip():
            return []
        where = f"line {self._line} at byte offset {self._offset}"
        if self._strict_eof:
            raise TruncatedRecordError(f"NDJSON object ends inside {where} (no final newline)")
        if not self._decode:
            return [tail]
        try:
            return [orjson.loads(tail)]
        except orjson.JSONDecodeError as exc:
            if self._recover:
                self._skip(self._offset, self._offset + len(tail))
                return []
            raise TruncatedRecordError(
                f"NDJSON object ends inside {where}: the last line has no newline "
                f"and is not valid JSON ({exc})"
            ) from exc


@dataclass(frozen=True, kw_only=True, slots=True)
class NDJSON:
    """NDJSON / JSON Lines (``.ndjson``, ``.jsonl``, ``.json``), via orjson.

    Writing: each record is serialized by orjson (UTF-8, compact) and always
    followed by ``\\n``. ``bytes``/``bytearray``/``memoryview`` records are
    written as one line as they are (they must not contain ``\\n``; they are
    not validated as JSON). ``default`` is orjson's hook for other types.
    NaN and ±Infinity (which JSON cannot represent, and orjson would write as
    ``null``) raise :class:`~omnistorage.errors.DataError` naming where they
    are; ``nan_as_null=True`` writes them as ``null``.

    Reading: the input is split on ``\\n`` only — never on ``\\r``, U+2028 or
    U+2029, which may appear inside strings — and each line parsed by
    orjson; ``\\r\\n`` endings work because ``\\r`` is JSON whitespace.
    Blank (whitespace-only) lines are skipped. ``decode=False`` yields each
    non-blank line's raw bytes without its ``\\n``.

    The end of the object: a last line without a final ``\\n`` is accepted
    and decoded (many tools write files that way), unless it is not valid
    JSON — then it is taken for a truncated record and ``finish()`` raises
    :class:`~omnistorage.errors.TruncatedRecordError`. A truncation that
    happens to leave valid JSON (``123`` from ``1234``) cannot be told
    apart; set ``require_final_newline=True`` to reject every unterminated
    last line.

    ``max_record_size`` (bytes, without the ``\\n``; default 16 MiB) is
    enforced when writing and when reading: a line that grows beyond it
    raises :class:`~omnistorage.errors.RecordTooLargeError` without being
    buffered further. With ``recover=True`` invalid JSON lines are skipped
    and reported as ``(start, end)`` byte ranges (``end`` past the ``\\n``);
    an oversized line still raises.

    Raises:
        ConfigurationError: a bad ``max_record_size``.
    """

    name: ClassVar[str] = "ndjson"
    extensions: ClassVar[tuple[str, ...]] = (".ndjson", ".jsonl", ".json")

    max_record_size: int = DEFAULT_MAX_RECORD_SIZE
    require_final_newline: bool = False
    default: Callable[[Any], Any] | None = None
    nan_as_null: bool = False

    def __post_init__(self) -> None:
        check_max_record_size(self.max_record_size)

    def encoder(self) -> NDJSONEncoder:
        """Return a new encoder."""
        return NDJSONEncoder(
            max_record_size=self.max_record_size,
            default=self.default,
            nan_as_null=self.nan_as_null,
        )

    def decoder(
        self,
        *,
        decode: bool = True,
        recover: bool = False,
        on_skip: SkipCallback | None = None,
    ) -> NDJSONDecoder:
        """Return a new decoder (``decode=False``: raw line bytes)."""
        return NDJSONDecoder(
            max_record_size=self.max_record_size,
            decode=decode,
            recover=recover,
            on_skip=on_skip,
            require_final_newline=self.require_final_newline,
        )
