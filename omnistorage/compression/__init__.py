"""Compression codecs: gzip, zstd, snappy (framing format) and none.

Codecs do no I/O. A :class:`Codec` (from :func:`get_codec` or
:func:`codec_for_key`) makes single-use :class:`Compressor` and
:class:`Decompressor` objects that turn bytes into bytes incrementally, so
sync and async streams share them; :class:`CompressedWriter` and
:class:`DecompressedReader` wrap any binary file object.

Guarantees shared by every codec:

- ``Compressor.flush()`` ends a complete gzip member / zstd frame / snappy
  chunk: what was flushed survives a crash.
- Decompressors read concatenated members/frames/streams, verify checksums,
  raise :class:`~omnistorage.errors.CorruptDataError` on bad bytes and
  :class:`~omnistorage.errors.TruncatedDataError` from ``finish()`` when the
  input stopped inside a member/frame/chunk (except ``none``, which cannot
  tell).
"""

from omnistorage.compression._base import Buffer, Codec, Compressor, Decompressor
from omnistorage.compression._crc import masked_crc32c
from omnistorage.compression._gzip import GzipCodec
from omnistorage.compression._none import NoneCodec
from omnistorage.compression._registry import (
    codec_for_key,
    codec_names,
    get_codec,
    strip_codec_extension,
)
from omnistorage.compression._snappy import SnappyCodec
from omnistorage.compression._streams import CompressedWriter, DecompressedReader
from omnistorage.compression._zstd import ZstdCodec

__all__ = [
    "Buffer",
    "Codec",
    "CompressedWriter",
    "Compressor",
    "DecompressedReader",
    "Decompressor",
    "GzipCodec",
    "NoneCodec",
    "SnappyCodec",
    "ZstdCodec",
    "codec_for_key",
    "codec_names",
    "get_codec",
    "masked_crc32c",
    "strip_codec_extension",
]
