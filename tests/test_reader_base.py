"""The reader classes the layers and drivers share (omnistorage._reader_base): the surface
every reader has (read, readinto, readline, with, close once), what a wrapper passes on,
and a ranged stream over a pin that reads exactly its range."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from omnistorage._reader_base import RangeReader, ReaderBase, WrappedReader
from omnistorage.driver import PinnedReader


class _Pin(PinnedReader):
    def __init__(self, data: bytes) -> None:
        self.data, self.size, self.version = data, len(data), "v1"
        self.calls: list[tuple[int, int]] = []
        self.closed = 0

    def read_range(self, offset: int, length: int) -> bytes:
        self.calls.append((offset, length))
        return self.data[offset : offset + length]

    def close(self) -> None:
        self.closed += 1


class _Counted(io.BytesIO):
    closes = 0

    def close(self) -> None:
        type(self).closes += 1
        super().close()


@given(
    data=st.binary(max_size=300),
    offset=st.integers(0, 320),
    length=st.one_of(st.none(), st.integers(0, 320)),
    step=st.integers(1, 64),
    reads=st.lists(st.integers(-1, 70), max_size=12),
)
def test_a_range_reader_reads_exactly_its_range_in_steps(
    data: bytes, offset: int, length: int | None, step: int, reads: list[int]
) -> None:
    pin = _Pin(data)
    end = len(data) if length is None else min(len(data), offset + length)
    reader = RangeReader(pin, offset, end, step=step, owns_pin=True)
    got = b"".join(reader.read(n) for n in reads) + reader.read()
    assert got == data[offset:end]
    assert all(n <= max([step, *reads]) for _, n in pin.calls)
    assert all(start >= offset and start + n <= max(end, offset) for start, n in pin.calls)
    reader.close()
    reader.close()
    assert pin.closed == 1


def test_a_range_reader_that_does_not_own_its_pin_leaves_it_open() -> None:
    pin = _Pin(b"abc")
    with RangeReader(pin, 0, 3, step=2, owns_pin=False) as reader:
        assert reader.read() == b"abc"
    assert reader.closed
    assert pin.closed == 0


def test_a_wrapped_reader_forwards_reads_passes_info_on_and_closes_once() -> None:
    inner = _Counted(b"line one\nline two\nlast")
    inner.info = "the info"  # type: ignore[attr-defined]
    _Counted.closes = 0
    with WrappedReader(inner) as reader:  # type: ignore[arg-type]
        assert reader.info == "the info"
        assert reader.readable()
        assert reader.readline() == b"line one\n"
        assert reader.readline(4) == b"line"
        buffer = bytearray(6)
        assert reader.readinto(buffer) == 6
        assert bytes(buffer) == b" two\nl"
        assert reader.read(None) == b"ast"
        assert reader.readline() == b""
    reader.close()
    assert reader.closed
    assert _Counted.closes == 1


def test_readinto_takes_any_writable_buffer() -> None:
    class Fixed(ReaderBase):
        def read(self, size: int | None = -1) -> bytes:
            return b"\x01\x02\x03"[: size if size is not None and size >= 0 else 3]

    import array

    target = array.array("B", [0] * 5)
    assert Fixed().readinto(target) == 3
    assert list(target) == [1, 2, 3, 0, 0]
    view = memoryview(bytearray(2))
    assert Fixed().readinto(view) == 2
    assert bytes(view) == b"\x01\x02"
