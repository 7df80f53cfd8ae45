"""The record writer's defaults and the choices made from a codec: batch sizes,
whether compression runs on a worker thread, the compressor and its gathering."""

from __future__ import annotations

import dataclasses
import os

import orjson

from omnistorage.compression import Codec, Compressor, GzipCodec, ZstdCodec
from omnistorage.errors import ConfigurationError, DataError

__all__ = [
    "BATCH_RECORDS",
    "DEFAULT_BATCH_BYTES",
    "DEFAULT_BATCH_RECORDS",
    "DEFAULT_QUEUE_DEPTH",
    "DEFAULT_WRITE_SIZE",
    "ENCODE_ERRORS",
    "FIRST_BATCH",
    "HANDOFF_BYTES",
    "MT_JOB_SIZE",
    "NEWLINE",
    "check_positive",
    "default_parallel",
    "gather_size",
    "make_compressor",
    "usable_cpus",
]

DEFAULT_BATCH_BYTES = 64 * 1024
DEFAULT_BATCH_RECORDS = 4096
DEFAULT_WRITE_SIZE = 1 << 20
DEFAULT_QUEUE_DEPTH = 4
FIRST_BATCH = 1  # write_many's first chunk is one record: then the record size is known
NEWLINE = orjson.OPT_APPEND_NEWLINE

#: What a record that cannot be encoded raises (``DataError`` covers
#: ``RecordTooLargeError`` and orjson's errors as the formats wrap them).
ENCODE_ERRORS = (DataError, TypeError, ValueError)


#: Records per batch: per ``encode_many`` call of :meth:`RecordWriter.write_many`,
#: and lines :meth:`RecordWriter.write` gathers (in a list, joined once) before
#: they are compressed. Kept small so the gathered outputs stay in the CPU
#: caches: why, in ``docs/records.md`` ("Batches").
BATCH_RECORDS = 128


#: Encoded bytes gathered per hand-off to the worker thread in parallel mode: each
#: hand-off costs GIL switches (the worker takes the GIL back after every compress
#: call while the caller encodes); at 64 KiB they cost about a sixth of the work.
HANDOFF_BYTES = 1 << 20

#: Input bytes per libzstd job when zstd compresses on worker threads.
MT_JOB_SIZE = 1 << 20


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def default_parallel(codec: Codec) -> bool:
    """Whether a writer compresses on a worker thread unless told: zstd on a single
    libzstd thread (``threads=0``), where the process may use two or more CPUs.

    zstd costs most of a writer's time and releases the GIL, so the caller's
    thread encoding while a worker compresses beats one thread doing both;
    the other codecs cost less than the encoding (see :class:`RecordWriter`).
    """
    return isinstance(codec, ZstdCodec) and codec.threads == 0 and usable_cpus() >= 2


def make_compressor(codec: Codec) -> tuple[Compressor, bool]:
    """A compressor for ``codec``, and whether it compresses on libzstd's worker threads.

    zstd is multi-threaded when the codec sets ``threads`` (``n > 0`` or
    ``-1``), in jobs of :data:`MT_JOB_SIZE` unless the codec sets
    ``job_size``: memory stays bounded and the output is a standard stream,
    one frame per ``flush``, its blocks split otherwise than a single
    thread's.
    """
    if isinstance(codec, ZstdCodec) and codec.threads:
        threaded = dataclasses.replace(codec, job_size=codec.job_size or MT_JOB_SIZE)
        return threaded.compressor(), True
    return codec.compressor(), False


#: Bytes gathered before one compress call of ISA-L's deflate, whose calls
#: have a fixed cost worth spreading (zstd's, zlib's and snappy's calls cost
#: little, and snappy's compressor gathers 64 KiB chunks itself).
ISAL_GATHER = 64 * 1024


def gather_size(codec: Codec) -> int:
    """Bytes worth gathering before one compress call of ``codec``'s compressor."""
    if isinstance(codec, GzipCodec) and codec.level and codec.implementation != "zlib":
        return ISAL_GATHER
    return 0


def check_positive(name: str, value: object) -> int:
    """``value`` if it is a positive int, else :class:`ConfigurationError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a positive int, got {value!r}")
    return value
