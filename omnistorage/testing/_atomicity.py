"""Atomicity tests: a write publishes all or nothing, racing writers leave one winner or
one whole version.

Mixed into :class:`omnistorage.testing.StoreConformance`; they use its ``store``
fixture and its class attributes (declared here for the type checker).
"""

from __future__ import annotations

import gc
import threading
import warnings
from typing import ClassVar

import pytest

from omnistorage.capabilities import Capability
from omnistorage.errors import StreamClosed, WriteConflict
from omnistorage.store import Store
from omnistorage.testing._marks import requires
from omnistorage.testing.race import race, race_create_only


def _overwrite_until_it_lands(
    store: Store, key: str, data: bytes, conflicts: list[WriteConflict]
) -> None:
    """Overwrite, retrying after a ``WriteConflict``: each loss means another writer
    published meanwhile, and each racing writer publishes once, so it lands in time."""
    for _attempt in range(64):
        try:
            store.write(key, data, overwrite=True)
        except WriteConflict as exc:
            conflicts.append(exc)
        else:
            return
    raise AssertionError(f"an overwrite of {key!r} never landed after {len(conflicts)} conflicts")


def _check_conflicts_allowed(store: Store, conflicts: list[WriteConflict], backend: str) -> None:
    """A racing overwrite may lose only with a temporary WriteConflict, and only where the
    backend declares it may (``Features.overwrite_may_conflict``)."""
    if not conflicts:
        return
    assert store.features.overwrite_may_conflict, (
        f"{backend} does not declare overwrite_may_conflict, yet a racing overwrite "
        f"failed with {conflicts[0]!r}"
    )
    for conflict in conflicts:
        assert conflict.temporary, f"{conflict!r} is not temporary: a retry must be safe"
        assert conflict.op == "write", conflict.op


class AtomicityTests:
    """Publish on close only, abort and drop publish nothing, races have one outcome."""

    backend_name: ClassVar[str]
    large_size: ClassVar[int]
    race_size: ClassVar[int]
    racing_writers: ClassVar[int]

    @requires(Capability.ATOMIC_WRITE)
    def test_open_atomic_publishes_on_clean_exit(self, store: Store) -> None:
        with store.open_atomic("atomic.txt") as writer:
            writer.write(b"part one, ")
            writer.write(b"part two")
        assert store.read_bytes("atomic.txt") == b"part one, part two"

    @requires(Capability.ATOMIC_WRITE)
    def test_open_atomic_publishes_nothing_on_exception(self, store: Store) -> None:
        with pytest.raises(RuntimeError), store.open_atomic("boom.txt") as writer:
            writer.write(b"partial")
            raise RuntimeError("fail inside the block")
        assert not store.exists("boom.txt")
        assert list(store.list_files(recursive=True)) == []

    @requires(Capability.ATOMIC_WRITE)
    def test_failed_overwrite_keeps_the_old_object(self, store: Store) -> None:
        store.write("keep.txt", b"old")
        with pytest.raises(RuntimeError), store.open_atomic("keep.txt", overwrite=True) as w:
            w.write(b"new new new")
            raise RuntimeError("fail")
        assert store.read_bytes("keep.txt") == b"old"

    @requires(Capability.ATOMIC_WRITE)
    def test_nothing_is_visible_before_close(self, store: Store) -> None:
        store.write("vis.txt", b"old")
        writer = store.open_atomic("vis.txt", overwrite=True)
        fresh = store.open_atomic("fresh.txt")
        writer.write(b"new content")
        fresh.write(b"data")
        assert store.read_bytes("vis.txt") == b"old"
        assert not store.exists("fresh.txt")
        assert sorted(i.path for i in store.list_files(recursive=True)) == ["vis.txt"]
        writer.close()
        fresh.close()
        assert store.read_bytes("vis.txt") == b"new content"
        assert store.read_bytes("fresh.txt") == b"data"

    @requires(Capability.ATOMIC_WRITE)
    def test_abort_publishes_nothing(self, store: Store) -> None:
        writer = store.open_atomic("aborted.txt")
        writer.write(b"data")
        writer.abort()
        writer.abort()
        assert not store.exists("aborted.txt")
        with pytest.raises(StreamClosed):
            writer.write(b"more")

    @requires(Capability.ATOMIC_WRITE)
    def test_dropped_writer_publishes_nothing(self, store: Store) -> None:
        writer = store.open_atomic("dropped.txt")
        writer.write(b"data")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            del writer
            gc.collect()
        assert not store.exists("dropped.txt")

    @requires(Capability.ATOMIC_WRITE)
    def test_write_after_close_raises_stream_closed(self, store: Store) -> None:
        with store.open_atomic("closed.txt") as writer:
            writer.write(b"x")
        with pytest.raises(StreamClosed):
            writer.write(b"y")

    @requires(Capability.CONDITIONAL_WRITE)
    def test_racing_create_only_writers_have_one_winner(self, store: Store) -> None:
        def payload(i: int) -> bytes:
            return f"writer {i}".encode()

        race_create_only(store, "race.txt", payload, writers=8).assert_one_winner(
            store, "race.txt", payload
        )

    @requires(Capability.ATOMIC_WRITE)
    def test_racing_overwrites_leave_one_whole_version(self, store: Store) -> None:
        size = self.race_size
        payloads = [bytes([65 + i]) * size for i in range(self.racing_writers)]
        store.write("raced.bin", b"old", overwrite=True)
        conflicts: list[WriteConflict] = []

        def overwrite(i: int, barrier: threading.Barrier) -> None:
            barrier.wait()
            _overwrite_until_it_lands(store, "raced.bin", payloads[i], conflicts)

        result = race(overwrite, threads=self.racing_writers)
        assert not result.errors, result.errors  # every overwrite landed, retries included
        assert store.read_bytes("raced.bin") in payloads  # one whole version
        _check_conflicts_allowed(store, conflicts, self.backend_name)

    @requires(Capability.ATOMIC_WRITE)
    def test_an_overwrite_raced_by_another_publish_lands_or_conflicts_then_lands(
        self, store: Store
    ) -> None:
        # Both large: staged in parts or blocks where the backend stages them, so the
        # fast writer's commit can discard what the slow one staged (Azure).
        slow = bytes(range(256)) * (self.large_size // 256)
        fast = bytes(reversed(range(256))) * (self.large_size // 256)
        store.write("raced.bin", b"old", overwrite=True)
        writer = store.open_atomic("raced.bin", overwrite=True)
        writer.write(slow)
        store.write("raced.bin", fast, overwrite=True)
        assert store.read_bytes("raced.bin") == fast  # nothing of the slow writer yet
        conflicts: list[WriteConflict] = []
        try:
            writer.close()
        except WriteConflict as exc:  # anything else fails the test
            conflicts.append(exc)
            assert store.read_bytes("raced.bin") == fast  # the loser published nothing
            store.write("raced.bin", slow, overwrite=True)  # and its retry lands
        _check_conflicts_allowed(store, conflicts, self.backend_name)
        assert store.read_bytes("raced.bin") == slow

    def test_concurrent_writes_to_distinct_keys(self, store: Store) -> None:
        def put(i: int) -> None:
            store.write(f"par/{i}.txt", str(i).encode() * 100)

        workers = [threading.Thread(target=put, args=(i,)) for i in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        for i in range(8):
            assert store.read_bytes(f"par/{i}.txt") == str(i).encode() * 100
