"""Each write policy's guarantee under injected faults, reads with failover, reports."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from omnistorage import AlreadyExists, LocalBackend, MemoryBackend, NotFound, Store
from omnistorage.ext import FaultInjectionLayer
from omnistorage.multi import (
    ALL,
    BEST_EFFORT,
    MirrorBackend,
    MirrorReport,
    MirrorWriteError,
    PartialPublish,
    quorum,
)
from omnistorage.records import RollingRecordWriter, open_reader

PAYLOAD = b"0123456789" * 100_000  # 1 MB, written in 64 KiB chunks below


def _chunks(data: bytes, size: int = 64 << 10) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


Setup = Callable[[FaultInjectionLayer], object]


def open_fails(layer: FaultInjectionLayer) -> object:
    return layer.fail_nth("open_write", 1, times=None)


def publish_fails(layer: FaultInjectionLayer) -> object:
    return layer.fail_nth("publish", 1, times=None)


def reads_fail(layer: FaultInjectionLayer) -> None:
    for op in ("open_read", "exists", "stat", "pinned"):
        layer.fail_nth(op, 1, times=None)


def cut_after(nbytes: int) -> Setup:
    return lambda layer: layer.cut_stream("write", nbytes, times=1000)


def slow(seconds: float) -> Setup:
    return lambda layer: layer.add_latency("write", seconds)


def _dest(setup: Setup | None = None) -> tuple[Store, MemoryBackend]:
    memory = MemoryBackend()
    if setup is None:
        return Store(memory), memory
    layer = FaultInjectionLayer(memory)
    setup(layer)
    return Store(layer), memory


def _mirror(stores: list[Store], **options: object) -> tuple[Store, list[MirrorReport]]:
    reports: list[MirrorReport] = []
    backend = MirrorBackend(stores, on_report=reports.append, **options)  # type: ignore[arg-type]
    return Store(backend), reports


def _holds(memory: MemoryBackend, key: str) -> bytes | None:
    store = Store(memory)
    return store.read_bytes(key) if store.is_file(key) else None


# ------------------------------------------------------------------ policy "all"


@pytest.mark.parametrize(
    "faults",
    [open_fails, cut_after(300_000), cut_after(999_999)],
    ids=["at-open", "mid-stream", "at-staging-end"],
)
def test_all_publishes_nothing_anywhere_when_staging_fails(faults: Setup) -> None:
    (a, mem_a), (b, mem_b) = _dest(), _dest(faults)
    mirror, reports = _mirror([a, b], policy=ALL)
    with pytest.raises(MirrorWriteError) as info:
        mirror.write("k.bin", iter(_chunks(PAYLOAD)))
    assert _holds(mem_a, "k.bin") is None
    assert _holds(mem_b, "k.bin") is None
    report = info.value.report
    assert report is not None
    assert [d.state for d in report.destinations] == ["aborted", "failed"]
    assert "injected" in (report.destinations[1].error or "")
    assert reports == [report]


def test_all_rolls_back_create_only_copies_when_a_late_publish_fails() -> None:
    (a, mem_a), (b, mem_b), (c, mem_c) = _dest(), _dest(), _dest(publish_fails)
    mirror, _ = _mirror([a, b, c], policy=ALL)
    with pytest.raises(MirrorWriteError) as info:
        mirror.write("k.bin", PAYLOAD)
    assert not isinstance(info.value, PartialPublish)
    assert [_holds(m, "k.bin") for m in (mem_a, mem_b, mem_c)] == [None, None, None]
    report = info.value.report
    assert report is not None
    assert [d.state for d in report.destinations] == ["rolled_back", "rolled_back", "failed"]


def test_all_overwrite_that_fails_late_raises_partial_publish_naming_versions() -> None:
    (a, mem_a), (_b, mem_b) = _dest(), _dest()
    Store(mem_a).write("k.bin", b"old")
    Store(mem_b).write("k.bin", b"old")
    faulty = FaultInjectionLayer(mem_b)
    mirror, _ = _mirror([a, Store(faulty)], policy=ALL)
    publish_fails(faulty)
    with pytest.raises(PartialPublish) as info:
        mirror.write("k.bin", PAYLOAD, overwrite=True)
    assert (info.value.new, info.value.old) == ((0,), (1,))
    assert _holds(mem_a, "k.bin") == PAYLOAD
    assert _holds(mem_b, "k.bin") == b"old"
    assert info.value.path == "k.bin"


def test_all_create_only_loser_on_the_primary_publishes_nowhere() -> None:
    (a, mem_a), (b, mem_b) = _dest(), _dest()
    Store(mem_a).write("k.bin", b"theirs")
    mirror, _ = _mirror([a, b], policy=ALL)
    with pytest.raises(AlreadyExists) as info:
        mirror.write("k.bin", PAYLOAD)
    assert info.value.path == "k.bin"
    assert _holds(mem_a, "k.bin") == b"theirs"
    assert _holds(mem_b, "k.bin") is None


def test_racing_create_only_writers_through_a_mirror_have_one_winner() -> None:
    (a, mem_a), (b, mem_b) = _dest(), _dest()
    mirror, _ = _mirror([a, b], policy=ALL)
    winners: list[int] = []
    barrier = threading.Barrier(8)

    def write(i: int) -> None:
        barrier.wait()
        try:
            mirror.write("race.bin", bytes([i]) * 200_000)
        except AlreadyExists:
            return
        winners.append(i)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    expected = bytes([winners[0]]) * 200_000
    assert _holds(mem_a, "race.bin") == expected == _holds(mem_b, "race.bin")


# ------------------------------------------------------------------ quorum and best effort


def test_quorum_succeeds_with_k_published_and_reports_the_rest() -> None:
    (a, mem_a), (b, mem_b), (c, mem_c) = (
        _dest(),
        _dest(cut_after(100_000)),
        _dest(),
    )
    mirror, reports = _mirror([a, b, c], policy=quorum(2))
    mirror.write("k.bin", iter(_chunks(PAYLOAD)))
    assert _holds(mem_a, "k.bin") == PAYLOAD == _holds(mem_c, "k.bin")
    assert _holds(mem_b, "k.bin") is None
    assert [d.state for d in reports[-1].destinations] == ["published", "failed", "published"]
    assert reports[-1].published == (0, 2)


def test_quorum_not_reached_rolls_create_only_copies_back() -> None:
    (a, mem_a), (b, _), (c, _) = (
        _dest(),
        _dest(publish_fails),
        _dest(publish_fails),
    )
    mirror, _ = _mirror([a, b, c], policy=quorum(2))
    with pytest.raises(MirrorWriteError):
        mirror.write("k.bin", PAYLOAD)
    assert _holds(mem_a, "k.bin") is None


def test_best_effort_publishes_an_overwrite_wherever_possible() -> None:
    (a, mem_a), (b, mem_b) = _dest(open_fails), _dest()
    mirror, reports = _mirror([a, b], policy=BEST_EFFORT)
    mirror.write("k.bin", PAYLOAD, overwrite=True)
    assert _holds(mem_a, "k.bin") is None
    assert _holds(mem_b, "k.bin") == PAYLOAD
    assert [d.state for d in reports[-1].destinations] == ["failed", "published"]


def test_best_effort_with_every_destination_failing_raises() -> None:
    (a, _), (b, _) = _dest(open_fails), _dest(open_fails)
    mirror, _ = _mirror([a, b], policy=BEST_EFFORT)
    with pytest.raises(MirrorWriteError):
        mirror.write("k.bin", PAYLOAD)


# ------------------------------------------------------------------ slow destinations


def test_a_slow_destination_applies_back_pressure_under_all() -> None:
    (a, mem_a), (b, mem_b) = _dest(), _dest(slow(0.02))
    mirror, _ = _mirror([a, b], policy=ALL, queue_chunks=2)
    started = time.perf_counter()
    mirror.write("k.bin", iter(_chunks(PAYLOAD)))
    elapsed = time.perf_counter() - started
    assert elapsed >= 0.02 * (len(_chunks(PAYLOAD)) - 3)
    assert _holds(mem_a, "k.bin") == PAYLOAD == _holds(mem_b, "k.bin")


def test_a_lagging_destination_is_dropped_under_best_effort() -> None:
    (a, mem_a), (b, mem_b) = _dest(), _dest(slow(1.0))
    mirror, reports = _mirror([a, b], policy=BEST_EFFORT, queue_chunks=1, max_lag=0.2)
    started = time.perf_counter()
    mirror.write("k.bin", iter(_chunks(PAYLOAD)))
    # Waiting for the lagging destination would take 1 s a chunk (16 s); the bound is
    # half that, so only a write that kept waiting for it can reach it.
    assert time.perf_counter() - started < len(_chunks(PAYLOAD)) * 1.0 / 2
    assert _holds(mem_a, "k.bin") == PAYLOAD
    assert _holds(mem_b, "k.bin") is None
    assert reports[-1].destinations[1].state == "dropped"


# ------------------------------------------------------------------ reads, listings, deletes


def test_reads_fail_over_on_temporary_errors() -> None:
    layer = FaultInjectionLayer(MemoryBackend())
    a, b = Store(layer), Store(MemoryBackend())
    mirror, _ = _mirror([a, b])
    mirror.write("k.bin", b"data")
    reads_fail(layer)
    assert mirror.read_bytes("k.bin") == b"data"
    assert mirror.read_range("k.bin", 1, 2) == b"at"
    assert mirror.exists("k.bin")


def test_not_found_fails_over_only_when_asked() -> None:
    (a, _), (b, mem_b) = _dest(), _dest()
    Store(mem_b).write("only-b.bin", b"b")
    strict, _ = _mirror([a, b])
    with pytest.raises(NotFound):
        strict.read_bytes("only-b.bin")
    lenient, _ = _mirror([a, b], failover_on_not_found=True)
    assert lenient.read_bytes("only-b.bin") == b"b"


def test_fastest_read_returns_the_first_answer() -> None:
    (a, _), (b, _) = _dest(reads_fail), _dest()
    mirror, _ = _mirror([a, b], read_policy="fastest")
    mirror.write("k.bin", b"data")
    assert mirror.read_bytes("k.bin") == b"data"
    with mirror.read_seekable("k.bin") as reader:
        reader.seek(2)
        assert reader.read() == b"ta"


def test_listing_is_a_union_and_primary_only_on_request() -> None:
    (a, mem_a), (b, mem_b) = _dest(), _dest()
    Store(mem_a).write("x/a.txt", b"a")
    Store(mem_b).write("x/b.txt", b"b")
    union, _ = _mirror([a, b])
    assert sorted(i.path for i in union.list_files("x")) == ["x/a.txt", "x/b.txt"]
    primary, _ = _mirror([a, b], list_policy="primary")
    assert [i.path for i in primary.list_files("x")] == ["x/a.txt"]


def test_deletes_go_to_every_destination() -> None:
    (a, mem_a), (b, mem_b) = _dest(), _dest()
    mirror, _ = _mirror([a, b])
    mirror.write("k.bin", b"x")
    mirror.delete("k.bin")
    assert _holds(mem_a, "k.bin") is None
    assert _holds(mem_b, "k.bin") is None


def test_reports_are_json_ready_and_name_every_destination() -> None:
    (a, _), (b, _) = _dest(), _dest()
    mirror, reports = _mirror([a, b])
    mirror.write("k.bin", PAYLOAD)
    data = reports[-1].to_dict()
    assert data["policy"] == "all"
    assert [d["state"] for d in data["destinations"]] == ["published", "published"]  # type: ignore[index]
    assert all(d["bytes"] == len(PAYLOAD) for d in data["destinations"])  # type: ignore[index]


def test_memory_stays_bounded_by_the_lanes(tmp_path: Path) -> None:
    """Every chunk is queued once per lane; a 64 MiB stream never sits in memory whole."""
    import tracemalloc

    a, b = Store(LocalBackend(tmp_path / "a")), Store(LocalBackend(tmp_path / "b"))
    mirror, _ = _mirror([a, b], queue_chunks=4)
    chunk = b"x" * (1 << 20)
    tracemalloc.start()
    with mirror.open_writer("big.bin") as writer:
        for _ in range(64):
            writer.write(chunk)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 24 << 20
    assert a.get_file_info("big.bin").size == b.get_file_info("big.bin").size == 64 << 20


def test_rolling_writer_fans_records_out_and_a_failing_destination_is_reported(
    tmp_path: Path,
) -> None:
    local = Store(LocalBackend(tmp_path / "local"))
    other_mem = MemoryBackend()
    layer = FaultInjectionLayer(other_mem)
    mirror, reports = _mirror([local, Store(layer)], policy=quorum(1))
    with RollingRecordWriter(
        mirror, "{prefix}/{stream}-{seq:06d}.ndjson", prefix="logs", stream="app", max_records=100
    ) as log:
        for i in range(250):
            if i == 120:
                open_fails(layer)
            log.write({"i": i})
    published = [r for r in reports if r.destinations[0].state == "published"]
    assert len(published) == 3
    in_both = [r.key for r in reports if r.ok]
    only_local = [r.key for r in reports if not r.ok]
    assert in_both
    assert only_local
    for key in in_both:
        assert Store(other_mem).read_bytes(key) == local.read_bytes(key)
    for key in only_local:
        assert not Store(other_mem).is_file(key)
    records = []
    for report in reports:
        with open_reader(local, report.key) as reader:
            records.extend(r["i"] for r in reader)
    assert records == list(range(250))
