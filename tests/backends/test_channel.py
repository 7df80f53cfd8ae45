"""The channel backend: pipes with back-pressure, and the conformance tests that apply."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from typing import ClassVar

import pytest

from omnistorage import ChannelBackend, NotFound, StorageError, Store, open_store
from omnistorage.backends.channel import StreamAborted
from omnistorage.testing import SERVER_WRAPPER_VARIANTS, StoreConformance

ONE_SHOT = "a channel is a one-shot stream: reading takes it, so it cannot be read twice"
IN_PROCESS = (
    "a channel is an in-process pipe: an abandoned writer's stream is the reader's to take "
    "(it ends in StreamAborted), there is no storage where a crash could leave anything"
)


class TestChannelConformance(StoreConformance):
    backend_name = "channel"
    variants = ("plain", "child", *SERVER_WRAPPER_VARIANTS)
    not_applicable: ClassVar[dict[str, str]] = {
        "test_read_range": ONE_SHOT,
        "test_read_seekable": ONE_SHOT,
        "test_read_streams_in_chunks": ONE_SHOT,
        "test_write_is_create_only_by_default": ONE_SHOT,
        "test_overwrite_true_replaces": ONE_SHOT,
        "test_copy_is_create_only_by_default": ONE_SHOT,
        "test_move_is_create_only_by_default": ONE_SHOT,
        "test_copy": ONE_SHOT,
        "test_copy_onto_itself": ONE_SHOT,
        "test_special_characters_in_keys_round_trip": ONE_SHOT,
        "test_racing_create_only_writers_have_one_winner": ONE_SHOT,
        "test_fallbacks_match_the_fast_paths": ONE_SHOT,
        "test_empty_file_round_trips": ONE_SHOT,
        "test_concurrent_writes_to_distinct_keys": ONE_SHOT,
        "test_nested_keys_create_their_folders": ONE_SHOT,
        "test_child_store_is_scoped": ONE_SHOT,
        "test_read_seekable_of_a_deleted_object_fails_typed_or_stays_old": ONE_SHOT,
        "test_cleanup_removes_what_an_abandoned_writer_left": IN_PROCESS,
        "test_cleanup_keeps_young_leftovers_and_dry_run_removes_nothing": IN_PROCESS,
        "test_delete_folder_removes_crash_leftovers": IN_PROCESS,
    }

    @pytest.fixture
    def empty_store(self) -> Store:
        return Store(ChannelBackend(buffer_size=16 << 20, timeout=10))


def _pump(store: Store, key: str, blocks: int, block: bytes) -> str:
    digest = hashlib.sha256()
    with store.open_writer(key) as writer:
        for i in range(blocks):
            piece = i.to_bytes(4, "little") + block[4:]
            writer.write(piece)
            digest.update(piece)
    return digest.hexdigest()


def test_a_reader_consumes_while_the_writer_streams_with_bounded_buffer() -> None:
    store = Store(ChannelBackend(buffer_size=256 * 1024, timeout=20, wait_for_writer=5))
    block = b"x" * 65536
    result: dict[str, str] = {}
    reader = threading.Thread(
        target=lambda: result.update(read=_drain(store, "logs/stream")), daemon=True
    )
    reader.start()
    sent = _pump(store, "logs/stream", 800, block)  # 50 MiB through a 256 KiB buffer
    reader.join(timeout=30)
    assert result["read"] == sent


def _drain(store: Store, key: str) -> str:
    digest = hashlib.sha256()
    with store.read(key) as stream:
        while chunk := stream.read(100_000):
            digest.update(chunk)
    return digest.hexdigest()


def test_writer_blocks_while_the_buffer_is_full() -> None:
    store = Store(ChannelBackend(buffer_size=10, timeout=0.3))
    writer = store.open_writer("k")
    writer.write(b"0123456789")
    start = time.monotonic()
    with pytest.raises(StorageError) as info:
        writer.write(b"more")
    assert time.monotonic() - start >= 0.25
    assert isinstance(info.value.__cause__, TimeoutError)
    assert info.value.temporary


def test_an_aborted_writer_fails_the_reader() -> None:
    store = Store(ChannelBackend(wait_for_writer=60))
    got: list[BaseException] = []
    reading = threading.Event()

    def consume() -> None:
        try:
            with store.read("k") as stream:
                assert stream.read(4) == b"half"
                reading.set()  # the reader is attached and mid-stream
                stream.read()
        except StorageError as exc:
            got.append(exc)

    reader = threading.Thread(target=consume)
    reader.start()
    with pytest.raises(RuntimeError), store.open_writer("k") as writer:
        writer.write(b"half")
        assert reading.wait(60), "the reader never got the first bytes"
        raise RuntimeError("producer crashed")
    reader.join(timeout=60)
    assert len(got) == 1
    assert isinstance(got[0].__cause__, StreamAborted)


def test_a_reader_that_goes_away_breaks_the_writer() -> None:
    store = Store(ChannelBackend(buffer_size=4))
    writer = store.open_writer("k")
    writer.write(b"abcd")
    stream = store.read("k")
    assert stream.read(2) == b"ab"
    stream.close()
    with pytest.raises(StorageError) as info:
        writer.write(b"efgh")
    assert isinstance(info.value.__cause__, BrokenPipeError)


def test_reading_takes_the_stream() -> None:
    store = Store(ChannelBackend())
    store.write("k", b"once")
    assert store.exists("k")
    assert store.read_bytes("k") == b"once"
    assert not store.exists("k")
    with pytest.raises(NotFound):
        store.read_bytes("k")


def test_one_writer_per_key_even_under_a_race() -> None:
    store = Store(ChannelBackend())
    barrier = threading.Barrier(16)
    wins: list[object] = []

    def attempt() -> None:
        barrier.wait()
        with contextlib.suppress(StorageError):
            wins.append(store.open_writer("k"))

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1


def test_open_atomic_is_refused_because_channels_are_not_atomic() -> None:
    store = open_store("channel://")
    with pytest.raises(StorageError, match="atomic_write"):
        store.open_atomic("k")
