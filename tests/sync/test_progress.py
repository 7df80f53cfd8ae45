"""Progress totals are never exceeded: a failed attempt's bytes are taken back out (a
retried or re-read file counts once) and work found beyond the plan grows the total."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from omnistorage import MemoryBackend, Store
from omnistorage.ext import FaultInjectionLayer
from omnistorage.ext._layer import Layer
from omnistorage.models import ObjectInfo
from omnistorage.sync import Progress, _progress, sync
from omnistorage.sync._progress import ProgressTracker


@pytest.fixture(autouse=True)
def _every_count_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """Report every count (not five times a second) so each intermediate state is seen."""
    monkeypatch.setattr(_progress, "_INTERVAL", 0.0)


def watch(seen: list[Progress]) -> object:
    return seen.append  # checked after the run (the engine records a callback's errors)


def never_exceeded(seen: list[Progress]) -> None:
    assert seen
    for progress in seen:
        if progress.bytes_total is not None:
            assert 0 <= progress.bytes_done <= progress.bytes_total, progress


def files(sizes: list[int]) -> dict[str, bytes]:
    return {f"d/f{i:03d}": os.urandom(size) for i, size in enumerate(sizes)}


@example(sizes=[2_000_000, 10], cuts=[(0, 1_500_000, 2)], retries=3)  # retried, then copied
@example(sizes=[2_500_000], cuts=[(0, 1_100_000, 4)], retries=1)  # fails for good
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    # Up to 3 MiB: the engine reads 1 MiB chunks, so a cut past the first chunk comes
    # after bytes were already counted.
    sizes=st.lists(st.integers(min_value=1, max_value=3 << 20), min_size=1, max_size=5),
    cuts=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3 << 20), st.integers(1, 4))),
    retries=st.integers(0, 3),
)
def test_cut_streams_and_retries_never_exceed_the_total(
    sizes: list[int], cuts: list[tuple[int, int, int]], retries: int
) -> None:
    data = files(sizes)
    inner = MemoryBackend()
    source = Store(inner)
    for path, content in data.items():
        source.write(path, content)
    faulty = FaultInjectionLayer(inner)
    for index, after, times in cuts:
        target = sorted(data)[index % len(data)]
        rule = faulty.cut_stream("read", after, times=times)
        rule.key = lambda key, target=target: key == target
    seen: list[Progress] = []
    report = sync(
        Store(faulty),
        Store(MemoryBackend()),
        retries=retries,
        retry_backoff=0,
        progress=watch(seen),
    )
    never_exceeded(seen)
    last = seen[-1]
    copied = set(report.copied)
    assert last.bytes_total == sum(sizes)
    # What was done is exactly the files that made it, each once, however often retried.
    assert last.bytes_done == sum(len(data[p]) for p in copied) == report.bytes_transferred
    assert (last.bytes_done == last.bytes_total) is (len(copied) == len(data))


class _ListsSmaller(Layer):
    """Fault: listings report each file ``by`` bytes smaller than it is (it grew since)."""

    def __init__(self, inner: MemoryBackend, by: int) -> None:
        super().__init__(inner)
        self.by = by

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        for info in self.inner.list(prefix, recursive=recursive):
            yield replace(info, size=max(0, (info.size or 0) - self.by))


def test_a_file_larger_than_listed_grows_the_total() -> None:
    inner = MemoryBackend()
    Store(inner).write("grown.bin", os.urandom(50_000))
    seen: list[Progress] = []
    report = sync(Store(_ListsSmaller(inner, 10_000)), Store(MemoryBackend()), progress=watch(seen))
    assert report.ok  # the stat before the copy gave the size it has now
    never_exceeded(seen)
    assert any(p.bytes_total == 40_000 for p in seen)  # the plan
    assert (seen[-1].bytes_done, seen[-1].bytes_total) == (50_000, 50_000)


def test_backup_copies_the_plan_did_not_count_grow_the_total() -> None:
    src, dst, backup = Store(MemoryBackend()), Store(MemoryBackend()), Store(MemoryBackend())
    src.write("a", b"new" * 1000)
    dst.write("a", b"old" * 2000)
    seen: list[Progress] = []
    report = sync(src, dst, backup_dir=backup, progress=watch(seen))
    assert report.ok
    never_exceeded(seen)
    assert backup.read_bytes("a") == b"old" * 2000
    assert (seen[-1].bytes_done, seen[-1].bytes_total) == (9000, 9000)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 5000),  # planned bytes of an attempt
            st.lists(st.integers(1, 4000), max_size=5),  # chunks it moved
            st.booleans(),  # it failed
        ),
        max_size=12,
    )
)
def test_a_meter_model(attempts: list[tuple[int, list[int], bool]]) -> None:
    tracker = ProgressTracker(None, lambda exc: None)
    tracker.set_totals(None, sum(planned for planned, _, _ in attempts))
    done = extra = 0
    for planned, chunks, failed in attempts:
        meter = tracker.meter(planned)
        for chunk in chunks:
            meter.add(chunk)
            assert tracker.bytes_done <= (tracker.bytes_total or 0)
        if failed:
            meter.retract()
        else:
            done += sum(chunks)
            extra += max(0, sum(chunks) - planned)
    snapshot = tracker.snapshot()
    assert snapshot.bytes_done == done
    assert snapshot.bytes_total == sum(p for p, _, _ in attempts) + extra
