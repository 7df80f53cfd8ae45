"""Record formats: NDJSON, length-prefixed (TFRecord-compatible) and CSV.

Formats do no I/O. A :class:`Format` (from :func:`get_format` or
:func:`format_for_key`) makes an :class:`Encoder` (records → bytes) and a
:class:`Decoder` (bytes fed in any split → records) for one object each.

Guarantees shared by every format:

- A decoder returns each record exactly once, whatever the ``feed`` splits.
- ``Decoder.finish()`` raises :class:`~omnistorage.errors.TruncatedRecordError`
  when the object stops inside a record; bad bytes raise
  :class:`~omnistorage.errors.CorruptRecordError` (with offset/line).
- ``max_record_size`` (16 MiB by default) is enforced on write and read,
  raising :class:`~omnistorage.errors.RecordTooLargeError`; a decoder never
  buffers more than that for one record.
"""

from omnistorage.formats._base import (
    DEFAULT_MAX_RECORD_SIZE,
    Decoder,
    Encoder,
    Format,
    SkipCallback,
)
from omnistorage.formats._csv import CSV, CSVDecoder, CSVEncoder
from omnistorage.formats._length_prefixed import (
    Framing,
    LengthPrefixed,
    LengthPrefixedDecoder,
    LengthPrefixedEncoder,
    TFRecord,
)
from omnistorage.formats._ndjson import NDJSON, NDJSONDecoder, NDJSONEncoder
from omnistorage.formats._registry import format_for_key, format_names, get_format

__all__ = [
    "CSV",
    "DEFAULT_MAX_RECORD_SIZE",
    "NDJSON",
    "CSVDecoder",
    "CSVEncoder",
    "Decoder",
    "Encoder",
    "Format",
    "Framing",
    "LengthPrefixed",
    "LengthPrefixedDecoder",
    "LengthPrefixedEncoder",
    "NDJSONDecoder",
    "NDJSONEncoder",
    "SkipCallback",
    "TFRecord",
    "format_for_key",
    "format_names",
    "get_format",
]
