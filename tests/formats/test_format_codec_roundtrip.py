"""Every format over every codec: encode → compress → split anyhow → decode."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnistorage.compression import get_codec
from omnistorage.formats import get_format

CODECS = ["gzip", "zstd", "snappy", "none"]

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=10)
RECORDS: dict[str, st.SearchStrategy[Any]] = {
    "ndjson": st.dictionaries(text, st.none() | st.integers(-(2**40), 2**40) | text, max_size=3),
    "csv": st.fixed_dictionaries({"k": text, "v": text}),
    "tfrecord": st.binary(max_size=200),
    "length-prefixed": st.binary(max_size=200),
}


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    format_name=st.sampled_from(sorted(RECORDS)),
    codec_name=st.sampled_from(CODECS),
    data=st.data(),
    batch_cuts=st.lists(st.integers(0, 30), max_size=4),
    flush_every=st.integers(1, 5),
    byte_cuts=st.lists(st.integers(0, 10**6), max_size=8),
    plain_cuts=st.lists(st.integers(0, 10**6), max_size=8),
)
def test_records_survive_any_format_codec_and_split(
    format_name: str,
    codec_name: str,
    data: st.DataObject,
    batch_cuts: list[int],
    flush_every: int,
    byte_cuts: list[int],
    plain_cuts: list[int],
) -> None:
    records = data.draw(st.lists(RECORDS[format_name], max_size=30))
    fmt = get_format(format_name)
    codec = get_codec(codec_name)

    encoder = fmt.encoder()
    compressor = codec.compressor()
    stream: list[bytes] = []
    points = sorted({c % (len(records) + 1) for c in batch_cuts} | {0, len(records)})
    for index, (a, b) in enumerate(itertools.pairwise(points)):
        batch = records[a:b]
        encoded = encoder.encode(batch[0]) if len(batch) == 1 else encoder.encode_many(batch)
        stream.append(compressor.compress(encoded))
        if index % flush_every == 0:
            stream.append(compressor.flush())
    stream.append(compressor.compress(encoder.finish()))
    stream.append(compressor.finish())
    compressed = b"".join(stream)

    decompressor = codec.decompressor()
    plain = b"".join(decompressor.decompress(piece) for piece in split(compressed, byte_cuts))
    plain += decompressor.finish()

    decoder = fmt.decoder()
    got: list[Any] = []
    for piece in split(plain, plain_cuts):
        got += decoder.feed(piece)
    got += decoder.finish()
    assert got == records
