"""CompressedWriter and DecompressedReader over plain binary file objects."""

from __future__ import annotations

import gc
import io
from typing import Any

import pytest

from omnistorage.compression import Codec, CompressedWriter, DecompressedReader, get_codec
from omnistorage.errors import StreamClosed, TruncatedDataError

LINES = [b"record number %d \xe2\x80\xa8 with text\n" % i for i in range(3000)]
DATA = b"".join(LINES)


class Sink(io.BytesIO):
    """A BytesIO that remembers being closed or aborted, and keeps its value."""

    def __init__(self) -> None:
        super().__init__()
        self.closed_with: bytes | None = None
        self.aborted = False

    def close(self) -> None:
        if not self.closed:
            self.closed_with = self.getvalue()
        super().close()

    def abort(self) -> None:
        self.aborted = True


class CountingSource(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.largest_read = 0

    def read(self, size: int | None = -1) -> bytes:
        self.largest_read = max(self.largest_read, -1 if size is None else size)
        return super().read(size)


def written(codec: Codec, data: bytes = DATA) -> bytes:
    sink = Sink()
    with CompressedWriter(sink, codec) as writer:
        writer.write(data[:100])
        writer.flush()
        writer.write(memoryview(data)[100:])
    assert sink.closed_with is not None
    return sink.closed_with


def test_writer_output_decodes_to_the_input(codec: Codec) -> None:
    reader = DecompressedReader(io.BytesIO(written(codec)), codec)
    assert reader.read() == DATA


def test_writer_close_finishes_and_closes_the_underlying(codec: Codec) -> None:
    sink = Sink()
    writer = CompressedWriter(sink, codec)
    assert writer.write(b"abc") == 3
    writer.close()
    assert sink.closed
    writer.close()  # idempotent
    with pytest.raises(StreamClosed):
        writer.write(b"late")


def test_writer_can_leave_the_underlying_open(codec: Codec) -> None:
    sink = Sink()
    writer = CompressedWriter(sink, codec, close_underlying=False)
    writer.write(b"abc")
    writer.close()
    assert not sink.closed
    assert DecompressedReader(io.BytesIO(sink.getvalue()), codec).read() == b"abc"


def test_writer_flush_makes_everything_so_far_decodable() -> None:
    codec = get_codec("zstd")
    sink = Sink()
    writer = CompressedWriter(sink, codec)
    writer.write(DATA[:5000])
    writer.flush()
    snapshot = sink.getvalue()
    assert DecompressedReader(io.BytesIO(snapshot), codec).read() == DATA[:5000]
    writer.abort()


def test_exception_in_the_block_aborts_instead_of_publishing() -> None:
    sink = Sink()
    with pytest.raises(RuntimeError), CompressedWriter(sink, get_codec("gzip")) as writer:
        writer.write(b"partial")
        raise RuntimeError("boom")
    assert sink.aborted
    assert sink.closed_with is None


def test_abort_closes_an_underlying_object_without_abort() -> None:
    plain = io.BytesIO()
    writer = CompressedWriter(plain, get_codec("gzip"))
    writer.abort()
    assert plain.closed


def test_garbage_collection_never_finishes_or_closes() -> None:
    sink = Sink()
    writer = CompressedWriter(sink, get_codec("zstd"))
    writer.write(b"unfinished")
    del writer
    gc.collect()
    assert not sink.closed
    assert sink.closed_with is None


def test_reader_read_n_readinto_and_readall_agree(codec: Codec) -> None:
    stream = written(codec)
    reader = DecompressedReader(io.BytesIO(stream), codec)
    got = bytearray()
    got += reader.read(10)
    buffer = bytearray(777)
    n = reader.readinto(buffer)
    got += buffer[:n]
    got += reader.read1(5)
    got += reader.read()
    assert bytes(got) == DATA
    assert reader.read(10) == b""
    assert reader.read() == b""


def test_reader_readline_and_iteration(codec: Codec) -> None:
    reader = DecompressedReader(io.BytesIO(written(codec)), codec)
    assert reader.readline() == LINES[0]
    assert list(reader) == LINES[1:]


def test_reader_works_under_buffered_and_text_wrappers(codec: Codec) -> None:
    stream = written(codec)
    buffered = io.BufferedReader(DecompressedReader(io.BytesIO(stream), codec))
    assert buffered.readlines() == LINES
    text = io.TextIOWrapper(
        DecompressedReader(io.BytesIO(stream), codec), encoding="utf-8", newline=""
    )
    assert text.read() == DATA.decode()


def test_reader_reads_the_source_in_bounded_chunks() -> None:
    codec = get_codec("zstd")
    source = CountingSource(written(codec, DATA * 10))
    reader = DecompressedReader(source, codec, read_size=4096)
    assert reader.read(100) == (DATA * 10)[:100]
    assert source.tell() <= 4096
    reader.read()
    assert source.largest_read == 4096


def test_reader_raises_on_a_truncated_stream() -> None:
    codec = get_codec("gzip")
    stream = written(codec)
    reader = DecompressedReader(io.BytesIO(stream[:-4]), codec)
    with pytest.raises(TruncatedDataError):
        reader.read()


def test_reader_close_closes_the_underlying_unless_told_not_to() -> None:
    codec = get_codec("none")
    source = io.BytesIO(b"x")
    DecompressedReader(source, codec).close()
    assert source.closed
    kept = io.BytesIO(b"x")
    reader = DecompressedReader(kept, codec, close_underlying=False)
    reader.close()
    assert not kept.closed
    with pytest.raises(ValueError, match="closed"):
        reader.read()


class FailingSink(Sink):
    def __init__(self) -> None:
        super().__init__()
        self.fail = False

    def write(self, data: Any) -> int:
        if self.fail:
            raise ConnectionError("network down")
        return super().write(data)


def test_a_failed_write_is_never_published() -> None:
    sink = FailingSink()
    writer = CompressedWriter(sink, get_codec("none"))
    writer.write(b"first")
    sink.fail = True
    with pytest.raises(ConnectionError):
        writer.write(b"lost")
    sink.fail = False
    with pytest.raises(StreamClosed):
        writer.write(b"more")
    with pytest.raises(StreamClosed, match="not published"):
        writer.close()
    assert sink.aborted
    assert sink.closed_with is None


def test_reader_stays_failed_after_an_error() -> None:
    codec = get_codec("zstd")
    stream = written(codec)
    reader = DecompressedReader(io.BytesIO(stream[:-2]), codec)
    with pytest.raises(TruncatedDataError):
        reader.read()
    with pytest.raises(TruncatedDataError):
        reader.read(1)


def test_a_failed_final_write_aborts_instead_of_publishing() -> None:
    sink = FailingSink()
    writer = CompressedWriter(sink, get_codec("zstd"))
    writer.write(b"data")
    sink.fail = True
    with pytest.raises(ConnectionError):
        writer.close()
    assert sink.aborted
    assert sink.closed_with is None


def test_read_n_returns_n_bytes_across_chunks_until_the_end() -> None:
    codec = get_codec("gzip")
    reader = DecompressedReader(io.BytesIO(written(codec)), codec, read_size=64)
    assert reader.read(50_000) == DATA[:50_000]
    assert reader.read(len(DATA)) == DATA[50_000:]
