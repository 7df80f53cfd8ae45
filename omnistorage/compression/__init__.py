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
- **Bounded memory.** ``Decompressor.decompress(data, max_length)`` returns
  at most ``max_length`` bytes and keeps the rest (``needs_input`` is then
  False); :class:`DecompressedReader` holds at most 4 MiB of decoded output,
  so reading one byte of a bomb (a 64 KiB zstd file of run-length blocks
  that expands to 2 GiB, a 2 MiB gzip file of 2 GiB of zeros) grows RSS by
  about 13 MiB. zstd is the exception a decoder cannot avoid: it must keep a
  frame's whole window, so memory also grows up to ``max_window_size``.
- **Limits.** ``ZstdCodec(max_window_size=2**27)`` (the ``zstd`` CLI's
  default) refuses frames with larger windows (``zstd --long=30``) with
  :class:`~omnistorage.errors.LimitExceeded` naming the option; pass
  ``max_window_size=2**25`` to keep all decoding within about 64 MiB.
- **Strict framing.** Trailing bytes that are not a gzip member are
  ``CorruptDataError`` (``gzip -d`` ignores trailing zeros; we do not).
  Reserved skippable snappy chunks (0x80-0xfd) are ``CorruptDataError``
  unless ``SnappyCodec(allow_skippable=True)``.

**Seals.** A stream written with ``flush()`` and cut exactly at a
member/frame/chunk boundary is a valid shorter stream: no codec can tell.
A *seal* (:class:`Seal`, :func:`seal_bytes`) appended after the
compressor's ``finish()`` marks the end: a zstd skippable frame, an empty
gzip member with an FEXTRA subfield, a snappy skippable chunk, all ignored
by ``zstd -d``, ``gzip -d``, ``pigz -d`` and python-snappy. It carries the
writer's record count and the uncompressed size since the previous seal,
which decompressors verify (``CorruptDataError`` on a mismatch) and expose
as ``Decompressor.seal`` / :attr:`DecompressedReader.seal`. A reader that
knows the object was sealed passes ``require_seal=True`` (to
``codec.decompressor()`` or :class:`DecompressedReader`): then a stream
that does not end right after a valid seal raises
:class:`~omnistorage.errors.TruncatedDataError`, so a cut at any byte is
detected. ``none`` cannot be sealed (:func:`can_seal` is False): any marker
in uncompressed bytes would be data.
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
from omnistorage.compression._seal import Seal, can_seal, seal_bytes
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
    "Seal",
    "SnappyCodec",
    "ZstdCodec",
    "can_seal",
    "codec_for_key",
    "codec_names",
    "get_codec",
    "masked_crc32c",
    "seal_bytes",
    "strip_codec_extension",
]
