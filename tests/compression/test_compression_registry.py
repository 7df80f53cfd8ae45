"""Codecs by name and by key extension."""

from __future__ import annotations

import sys

import pytest

import omnistorage.compression as compression
from omnistorage.compression import (
    GzipCodec,
    NoneCodec,
    SnappyCodec,
    ZstdCodec,
    codec_for_key,
    codec_names,
    get_codec,
    strip_codec_extension,
)
from omnistorage.errors import ConfigurationError, DependencyMissing


def test_all_lists_every_public_name() -> None:
    public = {name for name in dir(compression) if not name.startswith("_")}
    assert public == set(compression.__all__)


@pytest.mark.parametrize(
    ("name", "cls"),
    [("gzip", GzipCodec), ("zstd", ZstdCodec), ("snappy", SnappyCodec), ("none", NoneCodec)],
)
def test_get_codec_by_name(name: str, cls: type) -> None:
    codec = get_codec(name)
    assert isinstance(codec, cls)
    assert codec.name == name
    assert name in codec_names()


def test_unknown_codec_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="gzip, none, snappy, zstd"):
        get_codec("lz4")


def test_options_are_passed_and_checked() -> None:
    assert get_codec("zstd", level=7, threads=2) == ZstdCodec(level=7, threads=2)
    assert get_codec("gzip", level=1).level == 1  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="'levle'"):
        get_codec("gzip", levle=1)
    with pytest.raises(ConfigurationError, match="unknown option"):
        get_codec("snappy", level=1)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("gzip", {"level": 10}),
        ("gzip", {"level": -1}),
        ("gzip", {"level": "6"}),
        ("gzip", {"implementation": "pigz"}),
        ("zstd", {"level": 23}),
        ("zstd", {"threads": -2}),
        ("zstd", {"level": True}),
    ],
)
def test_bad_option_values_are_configuration_errors(name: str, options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        get_codec(name, **options)


@pytest.mark.parametrize(
    ("key", "name", "stem"),
    [
        ("logs/a.ndjson.gz", "gzip", "logs/a.ndjson"),
        ("logs/a.ndjson.ZST", "zstd", "logs/a.ndjson"),
        ("a.csv.sz", "snappy", "a.csv"),
        ("a.tfrecord.snappy", "snappy", "a.tfrecord"),
        ("a.ndjson", "none", "a.ndjson"),
        ("gz", "none", "gz"),
        ("archive.tar", "none", "archive.tar"),
    ],
)
def test_codec_for_key_infers_from_the_extension(key: str, name: str, stem: str) -> None:
    assert codec_for_key(key).name == name
    assert strip_codec_extension(key) == stem


def test_codec_for_key_passes_options() -> None:
    assert codec_for_key("a.zst", level=9) == ZstdCodec(level=9)


def test_explicit_isal_without_the_package_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "isal", None)
    monkeypatch.setitem(sys.modules, "isal.isal_zlib", None)
    with pytest.raises(DependencyMissing, match=r"pip install 'omnistorage\[isal\]'"):
        GzipCodec(implementation="isal").compressor()
    # "auto" falls back to zlib silently and still works.
    compressor = GzipCodec().compressor()
    stream = compressor.compress(b"abc") + compressor.finish()
    decompressor = GzipCodec().decompressor()
    assert decompressor.decompress(stream) + decompressor.finish() == b"abc"
