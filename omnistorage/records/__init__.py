"""Record pipelines over a Store: records → format → codec → object, and back.

- :func:`open_writer` / :class:`RecordWriter`: write the records of one
  object, batched, published on ``close()`` (atomically where the backend
  has ``ATOMIC_WRITE``), nothing published on an exception.
- :func:`open_reader` / :class:`RecordReader`: iterate the records of one
  object with bounded memory; damaged input raises typed errors, or is
  skipped in recover mode.
- :class:`RollingRecordWriter`: one stream as many objects, rotated by
  encoded size, record count or age (on a timer), named from a template,
  published create-only.

Format and codec are inferred from the key (``events.ndjson.zst``,
``rows.csv.gz``, ``blobs.tfrecord``, ``x.lp``) unless given, and each
keyword option goes to the layer that accepts it (``level`` to the codec,
``max_record_size`` to the format …); an option no layer accepts is a
:class:`~omnistorage.errors.ConfigurationError`.
"""

from omnistorage.records._open import open_reader, open_writer
from omnistorage.records._publish import PublishError, PublishInfo, RollingStats
from omnistorage.records._reader import RecordReader
from omnistorage.records._rolling import RollingRecordWriter
from omnistorage.records._writer import RecordWriter

__all__ = [
    "PublishError",
    "PublishInfo",
    "RecordReader",
    "RecordWriter",
    "RollingRecordWriter",
    "RollingStats",
    "open_reader",
    "open_writer",
]
