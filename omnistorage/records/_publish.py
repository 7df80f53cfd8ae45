"""What a RollingRecordWriter reports: published objects, counters, failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from omnistorage.errors import StorageError

__all__ = ["PublishError", "PublishInfo", "Reason", "RollingStats"]

Reason = Literal["max_bytes", "max_records", "max_age", "rotate", "close", "error"]


@dataclass(frozen=True, slots=True)
class PublishInfo:
    """One object the rolling writer finished: published, or failed (``error`` set).

    Attributes:
        path: the object's key in the store.
        seq: its sequence number.
        records: the records it holds (or held, if it failed).
        bytes_in: their encoded size.
        bytes_out: the object's size (compressed), as far as it was written.
        opened_at: when its first record arrived (UTC); the template's ``date``.
        reason: why it was finished: ``"max_bytes"``, ``"max_records"``,
            ``"max_age"``, ``"rotate"`` (a :meth:`RollingRecordWriter.rotate`
            call), ``"close"``, or ``"error"`` (the store failed while it
            was being written).
        error: the exception that prevented publishing, or ``None``.
    """

    path: str
    seq: int
    records: int
    bytes_in: int
    bytes_out: int
    opened_at: datetime
    reason: Reason
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class RollingStats:
    """Counters of a :class:`RollingRecordWriter` at one instant.

    ``records`` = ``published_records`` + ``pending_records`` + ``failed_records``.

    Attributes:
        records: records accepted by ``write``/``write_many``.
        bytes_in: their encoded (uncompressed) size.
        bytes_out: compressed bytes of the published objects.
        objects: objects published.
        published_records: records in published objects.
        pending_records: accepted records not yet published (the open object,
            and objects being published).
        failed_objects: objects that could not be published.
        failed_records: the records they held, which are lost.
    """

    records: int
    bytes_in: int
    bytes_out: int
    objects: int
    published_records: int
    pending_records: int
    failed_objects: int
    failed_records: int


class PublishError(StorageError):
    """Objects of a rolling writer could not be written or published; their records are lost.

    ``failures`` describes each one (path, record count, the error); the
    first error is also the ``__cause__``.
    """

    def __init__(self, failures: tuple[PublishInfo, ...]) -> None:
        lost = sum(info.records for info in failures)
        first = failures[0]
        more = f" and {len(failures) - 1} more object(s)" if len(failures) > 1 else ""
        super().__init__(
            f"could not publish {first.path!r}{more}: {lost} record(s) lost ({first.error})",
            path=first.path,
            op="write",
        )
        self.failures = failures

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.failures,))
