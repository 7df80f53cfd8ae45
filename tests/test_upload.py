"""The shared multipart machinery (omnistorage._upload): parts cut exactly as the driver's
sizes say and handed on only when more data follows; at most ``limit`` parts in flight;
the first failure raised; nothing uploaded after ``stop``. Fakes stand in for the
service (fault injection); the S3 and Azure writers built on it run against the servers
in tests/backends."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnistorage._upload import PartPool, PartStream


def cut(chunks: list[bytes], size_of: object) -> tuple[list[bytes], bytes]:
    parts: list[bytes] = []

    def send(number: int, body: bytes | bytearray) -> None:
        assert number == len(parts) + 1
        parts.append(bytes(body))

    stream = PartStream(size_of, send)  # type: ignore[arg-type]
    for chunk in chunks:
        stream.feed(memoryview(chunk))
    assert stream.sent == len(parts)
    return parts, bytes(stream.take())


@settings(max_examples=300, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=40), max_size=30),
    base=st.integers(1, 17),
    grow_every=st.integers(1, 4),
)
def test_parts_are_cut_at_the_sizes_given_and_the_last_stays_buffered(
    chunks: list[bytes], base: int, grow_every: int
) -> None:
    def size_of(n: int) -> int:
        return base << ((n - 1) // grow_every)

    parts, rest = cut(chunks, size_of)
    data = b"".join(chunks)
    assert b"".join(parts) + rest == data
    for n, part in enumerate(parts, 1):
        assert len(part) == size_of(n)
    # A full part is handed on only when more data follows it: the rest is never empty
    # unless nothing was written, and never more than the next part's size.
    assert bool(rest) == bool(data)
    assert len(rest) <= size_of(len(parts) + 1)


def test_flush_part_hands_on_the_rest_and_an_empty_part_only_when_asked() -> None:
    sent: list[tuple[int, bytes]] = []
    stream = PartStream(lambda n: 4, lambda n, body: sent.append((n, bytes(body))))
    stream.flush_part()
    assert sent == []
    stream.flush_part(empty_too=True)
    assert sent == [(1, b"")]
    stream.feed(memoryview(b"abcdefg"))
    stream.flush_part()
    assert sent == [(1, b""), (2, b"abcd"), (3, b"efg")]


def test_the_pool_keeps_at_most_limit_parts_in_flight_and_results_in_order() -> None:
    lock = threading.Lock()
    running = peak = 0

    def upload(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.005 * (n % 3))
        with lock:
            running -= 1
        return n * 10

    pool: PartPool[int] = PartPool(3, "test-upload")
    for n in range(1, 21):
        pool.submit(n, lambda n=n: upload(n))  # type: ignore[misc]
        assert pool.in_flight <= 3
    pool.drain()
    pool.stop()
    assert peak <= 3
    assert pool.ordered() == [n * 10 for n in range(1, 21)]


def test_the_first_failure_is_raised_by_the_next_submit_or_drain() -> None:
    pool: PartPool[int] = PartPool(2, "test-upload")
    started = threading.Event()

    def fail() -> int:
        started.set()
        raise OSError("part 1 lost")

    pool.submit(1, fail)
    started.wait(5)
    with pytest.raises(OSError, match="part 1 lost"):
        for n in range(2, 50):
            pool.submit(n, lambda: 0)
            time.sleep(0.001)
        pool.drain()
    pool.stop()


def test_stop_waits_for_the_parts_running_so_nothing_uploads_after_it() -> None:
    gate = threading.Event()
    finished: list[int] = []

    def upload(n: int) -> int:
        gate.wait(5)
        finished.append(n)
        return n

    pool: PartPool[int] = PartPool(2, "test-upload")
    pool.submit(1, lambda: upload(1))
    pool.submit(2, lambda: upload(2))
    stopper = threading.Thread(target=pool.stop)
    stopper.start()
    stopper.join(0.2)
    assert stopper.is_alive()  # both parts still running: stop waits
    gate.set()
    stopper.join(5)
    assert not stopper.is_alive()
    assert sorted(finished) == [1, 2]
    pool.stop()  # idempotent


def test_a_pool_needs_a_positive_limit() -> None:
    with pytest.raises(ValueError, match="limit"):
        PartPool(0, "x")
