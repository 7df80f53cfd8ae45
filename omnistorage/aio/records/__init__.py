"""Async record pipelines over an :class:`~omnistorage.aio.AsyncStore`.

The async twins of :mod:`omnistorage.records`, built on the same code: formats,
codecs, seals, option routing, rotation and naming exist once and are shared (the
async writer drives the sync :class:`~omnistorage.records.RecordWriter` as an I/O-free
core; the reader shares its decoding core; the rolling writer shares its decisions).

- :func:`open_writer` / :class:`AsyncRecordWriter`: ``async with open_writer(store,
  key) as out: await out.write(record)``; published on a clean exit, nothing on an
  exception or a cancellation.
- :func:`open_reader` / :class:`AsyncRecordReader`: ``async for record in reader``.
- :class:`AsyncRollingRecordWriter`: one stream as many objects, its age timer on the
  event loop.
"""

from omnistorage.aio.records._open import open_reader, open_writer
from omnistorage.aio.records._reader import AsyncRecordReader
from omnistorage.aio.records._rolling import AsyncRollingRecordWriter
from omnistorage.aio.records._writer import AsyncRecordWriter
from omnistorage.records._publish import PublishError, PublishInfo, RollingStats

__all__ = [
    "AsyncRecordReader",
    "AsyncRecordWriter",
    "AsyncRollingRecordWriter",
    "PublishError",
    "PublishInfo",
    "RollingStats",
    "open_reader",
    "open_writer",
]
