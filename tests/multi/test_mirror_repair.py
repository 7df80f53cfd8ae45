"""MirrorBackend.repair: replicas that missed writes are brought in line by the sync engine."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnistorage import ConfigurationError, LocalBackend, MemoryBackend, Store
from omnistorage.ext import FaultInjectionLayer
from omnistorage.ext._faults import Fault
from omnistorage.multi import BEST_EFFORT, MirrorBackend
from omnistorage.sync import check
from tests.support.remote import s3_store, wipe


def _tree(store: Store) -> dict[str, bytes]:
    return {i.path: store.read_bytes(i.path) for i in store.list_files(recursive=True)}


def _lagging_mirror(
    a: Store, b_backend: MemoryBackend | LocalBackend
) -> tuple[MirrorBackend, FaultInjectionLayer, Store]:
    """A best-effort mirror whose second destination refuses every write until cleared."""
    faults = FaultInjectionLayer(b_backend)
    b = Store(faults)
    return MirrorBackend([a, b], policy=BEST_EFFORT), faults, b


def _refuse_writes(faults: FaultInjectionLayer) -> None:
    faults.add(Fault(op="open_write", times=None))


def test_a_replica_that_missed_writes_gets_them_back() -> None:
    a = Store(MemoryBackend())
    mirror, faults, b = _lagging_mirror(a, MemoryBackend())
    both = Store(mirror)
    both.write("early.txt", b"both have it")
    _refuse_writes(faults)
    for i in range(20):
        both.write(f"logs/{i:02d}.ndjson", f'{{"i": {i}}}\n'.encode())
    faults.clear()
    assert set(_tree(b)) == {"early.txt"}

    report = mirror.repair()

    assert report.ok
    assert report.copied == 20
    assert _tree(a) == _tree(b)
    assert check(a, b).ok


@pytest.mark.parametrize("newer", [0, 1])
def test_the_union_keeps_the_newer_version_of_a_file(newer: int) -> None:
    stores = [Store(MemoryBackend()), Store(MemoryBackend())]
    mirror = MirrorBackend(stores, policy=BEST_EFFORT)
    Store(mirror).write("config.json", b'{"v": 1}')
    time.sleep(0.01)  # the newer copy's mtime is clearly later
    stores[newer].write("config.json", b'{"v": 2, "x": 1}', overwrite=True)

    report = mirror.repair()

    assert report.ok
    assert [s.read_bytes("config.json") for s in stores] == [b'{"v": 2, "x": 1}'] * 2


def test_the_union_never_deletes_so_a_deletion_needs_a_reference() -> None:
    a = Store(MemoryBackend())
    mirror, faults, b = _lagging_mirror(a, MemoryBackend())
    both = Store(mirror)
    both.write("keep.txt", b"k")
    both.write("gone.txt", b"g")
    faults.add(Fault(op="delete", times=None))
    both.delete("gone.txt")  # best effort: one destination deleted it, which suffices
    faults.clear()
    assert not a.exists("gone.txt")
    assert b.exists("gone.txt")

    mirror.repair()
    assert a.exists("gone.txt")  # the union brought it back from the lagging replica

    a.delete("gone.txt")
    report = mirror.repair(reference=0, delete=True)
    assert report.ok
    assert _tree(a) == _tree(b) == {"keep.txt": b"k"}


def test_a_reference_overrides_other_versions() -> None:
    stores = [Store(MemoryBackend()), Store(MemoryBackend()), Store(MemoryBackend())]
    mirror = MirrorBackend(stores)
    stores[1].write("a.txt", b"stale but newer")
    stores[0].write("a.txt", b"truth")
    stores[2].write("b.txt", b"extra")

    report = mirror.repair(reference=0)

    assert [(src, dst) for src, dst, _ in report.runs] == [(0, 1), (0, 2)]
    assert all(s.read_bytes("a.txt") == b"truth" for s in stores)
    assert stores[2].read_bytes("b.txt") == b"extra"  # copy, not sync: nothing deleted


def test_dry_run_changes_nothing_and_reports_the_plan() -> None:
    a = Store(MemoryBackend())
    mirror, faults, b = _lagging_mirror(a, MemoryBackend())
    _refuse_writes(faults)
    Store(mirror).write("x.txt", b"x")
    faults.clear()

    report = mirror.repair(dry_run=True)

    assert not b.exists("x.txt")
    plans = [r.plan for src, dst, r in report.runs if (src, dst) == (0, 1)]
    assert plans
    assert plans[0] is not None
    assert "x.txt" in str(plans[0].to_dict())
    assert report.to_dict()["ok"] is True


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"reference": 2}, "reference"),
        ({"reference": -1}, "reference"),
        ({"delete": True}, "reference"),
        ({"update": True}, "update"),
    ],
)
def test_bad_repair_options_are_refused(kwargs: dict[str, object], word: str) -> None:
    mirror = MirrorBackend([Store(MemoryBackend()), Store(MemoryBackend())])
    with pytest.raises(ConfigurationError, match=word):
        mirror.repair(**kwargs)  # type: ignore[arg-type]


@pytest.fixture
def lagging_s3() -> Iterator[tuple[Store, FaultInjectionLayer]]:
    s3 = s3_store()
    faults = FaultInjectionLayer(s3.unwrap())
    yield Store(faults, s3.root), faults
    wipe(s3)


@pytest.mark.server
def test_a_local_and_s3_mirror_repairs_s3_after_it_was_down(
    tmp_path: Path, lagging_s3: tuple[Store, FaultInjectionLayer]
) -> None:
    from omnistorage.records import RollingRecordWriter

    local = Store(LocalBackend(tmp_path))
    s3, faults = lagging_s3
    mirror = MirrorBackend([local, s3], policy=BEST_EFFORT)
    both = Store(mirror)
    with RollingRecordWriter(
        both,
        "{prefix}/{stream}-{seq:06d}.ndjson.zst",
        prefix="logs",
        stream="web",
        max_records=100,
    ) as log:
        for i in range(200):
            log.write({"i": i})
        log.rotate()
        _refuse_writes(faults)  # S3 goes down for the next objects
        for i in range(200, 500):
            log.write({"i": i})
    faults.clear()
    assert len(list(local.list_files(recursive=True))) == 5
    assert len(list(s3.list_files(recursive=True))) == 2

    report = mirror.repair()

    assert report.ok, report.to_dict()
    assert report.copied == 3
    assert check(local, s3).ok
    assert _tree(local) == _tree(s3)
