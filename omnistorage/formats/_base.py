"""The format contracts: I/O-free incremental record encoders and decoders.

A format turns records into bytes and back without doing I/O: an
:class:`Encoder` returns bytes for records, a :class:`Decoder` is fed bytes
split anywhere and returns the complete records found so far. One encoder or
decoder serves one object (file); make a new one per object.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Protocol, runtime_checkable

from omnistorage.errors import ConfigurationError, StreamClosed

__all__ = [
    "DEFAULT_MAX_RECORD_SIZE",
    "Decoder",
    "DecoderBase",
    "Encoder",
    "Format",
    "SkipCallback",
    "check_max_record_size",
]

#: The default ``max_record_size``: 16 MiB.
DEFAULT_MAX_RECORD_SIZE = 16 * 1024 * 1024

#: Called as ``on_skip(start_offset, end_offset)`` for each skipped region.
SkipCallback = Callable[[int, int], None]


def check_max_record_size(value: object) -> None:
    """Raise :class:`ConfigurationError` unless ``value`` is a positive int."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"max_record_size must be an int, got {value!r}")
    if value < 1:
        raise ConfigurationError(f"max_record_size must be positive, got {value}")


@runtime_checkable
class Encoder(Protocol):
    """Turns records into bytes, for one object.

    What the caller may rely on: concatenating, in order, every value
    returned by ``encode``/``encode_many`` and finally ``finish()`` gives a
    complete object. ``encode_many`` returns exactly what calling ``encode``
    on each record would, only faster. A record that cannot be encoded
    raises before any of its bytes are returned (``encode_many``: none of the
    batch's bytes are returned).

    Raises:
        RecordTooLargeError: an encoded record exceeds ``max_record_size``.
        DataError: a record's value cannot be encoded by this format.
        TypeError: a record of a type the format does not take.
    """

    def encode(self, record: Any) -> bytes:
        """Return the bytes of one record."""
        ...

    def encode_many(self, records: Iterable[Any]) -> bytes:
        """Return the bytes of many records, in order."""
        ...

    def finish(self) -> bytes:
        """Return the bytes that end the object (e.g. a CSV header-only file)."""
        ...


@runtime_checkable
class Decoder(Protocol):
    """Turns bytes, fed in pieces split anywhere, back into records.

    What the caller may rely on:

    - ``feed(data)`` returns the records completed by ``data``, in order; a
      record split across calls is returned once it is complete. Memory is
      bounded by ``max_record_size`` plus the size of one ``feed``.
    - ``finish()`` declares the end of the object and returns any last
      records. It raises :class:`~omnistorage.errors.TruncatedRecordError`
      when the input stopped inside a record (each format documents what
      counts as a record boundary).
    - ``skipped`` lists the ``(start_offset, end_offset)`` byte ranges that
      recover mode skipped (always empty otherwise).

    Raises:
        CorruptRecordError: bytes that are not a valid record (with its byte
            offset and, for line formats, line number). In recover mode, a
            corrupt record is skipped instead and reported in ``skipped``.
        RecordTooLargeError: a record longer than ``max_record_size``.
    """

    @property
    def skipped(self) -> list[tuple[int, int]]:
        """Byte ranges skipped in recover mode."""
        ...

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """Consume ``data``; return the records it completed."""
        ...

    def finish(self) -> list[Any]:
        """Declare end of input; return the last records."""
        ...


@runtime_checkable
class Format(Protocol):
    """A record format with its options: a factory of encoders and decoders."""

    @property
    def name(self) -> str:
        """The registry name (``"ndjson"``, ``"csv"``, ``"tfrecord"`` …)."""
        ...

    @property
    def extensions(self) -> tuple[str, ...]:
        """Key suffixes that select this format, lower case (``(".csv",)``)."""
        ...

    def encoder(self) -> Encoder:
        """Return a new encoder for one object."""
        ...

    def decoder(
        self,
        *,
        decode: bool = True,
        recover: bool = False,
        on_skip: SkipCallback | None = None,
    ) -> Decoder:
        """Return a new decoder for one object.

        ``decode=False`` yields each record's raw bytes instead of a parsed
        value. ``recover=True`` skips damaged records, reporting each skipped
        byte range in ``Decoder.skipped`` and to ``on_skip``; formats that
        cannot resynchronise raise :class:`~omnistorage.errors.ConfigurationError`.
        """
        ...


class DecoderBase(abc.ABC):
    """Shared lifecycle of the built-in decoders.

    A decoder is single-use: ``feed`` after ``finish`` raises
    :class:`~omnistorage.errors.StreamClosed`. After any error it stays
    failed — every later ``feed``/``finish`` raises ``StreamClosed`` (with
    the first error as ``__cause__``) — so it can never resume in the
    middle of damaged input and return wrong records.
    """

    __slots__ = ("_failure", "_finished", "skipped")

    _label: ClassVar[str] = "record"

    def __init__(self) -> None:
        self._finished = False
        self._failure: BaseException | None = None
        self.skipped: list[tuple[int, int]] = []

    def _unusable(self) -> StreamClosed:
        if self._failure is not None:
            error = StreamClosed(
                f"this {self._label} decoder failed earlier ({self._failure}); "
                "it cannot be used again"
            )
            error.__cause__ = self._failure
            return error
        return StreamClosed(f"{self._label} decoder fed after finish()")

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """Consume ``data``; return the records it completed."""
        if self._finished or self._failure is not None:
            raise self._unusable()
        try:
            return self._feed(data)
        except BaseException as exc:
            self._failure = exc
            raise

    def finish(self) -> list[Any]:
        """Declare end of input; return the last records (``[]`` if called again)."""
        if self._failure is not None:
            raise self._unusable()
        if self._finished:
            return []
        self._finished = True
        try:
            return self._finish()
        except BaseException as exc:
            self._failure = exc
            raise

    @abc.abstractmethod
    def _feed(self, data: bytes | bytearray | memoryview) -> list[Any]: ...

    @abc.abstractmethod
    def _finish(self) -> list[Any]: ...
