"""One test per safety rule: deletes, limits, backups, renames, filters, retries, cancel."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.ext import Fault, FaultInjectionLayer
from omnistorage.sync import Filters, Progress, SyncError, move, sync
from tests.sync.support import RecordingLayer, contents, fill

FILES = {f"f{i}": bytes([i]) * (100 + i) for i in range(6)}


def faulty_dst(tmp_path: Path) -> tuple[FaultInjectionLayer, Store]:
    layer = FaultInjectionLayer(LocalBackend(tmp_path / "faulty"))
    return layer, Store(layer)


# ---------------------------------------------------------------- deletes


def test_a_failed_transfer_means_no_deletes_and_a_rerun_completes(
    src: Store, tmp_path: Path
) -> None:
    layer, dst = faulty_dst(tmp_path)
    fill(src, FILES)
    fill(dst, {"extra": b"x"})
    layer.fail_nth("publish", 3, times=1, temporary=False)
    report = sync(src, dst, transfers=1)
    assert not report.ok
    assert [e.op for e in report.errors] == ["copy"]
    assert report.deleted == []
    assert dst.exists("extra")
    assert report.skipped["not deleted: errors in this run"] == 1
    again = sync(src, dst)
    assert again.ok
    assert again.deleted == ["extra"]
    assert contents(dst) == FILES


def test_a_failed_check_means_no_deletes(tmp_path: Path) -> None:
    source_layer = FaultInjectionLayer(LocalBackend(tmp_path / "s"))
    source = Store(source_layer)
    fill(source, {"a": b"12345"})
    s3_like = Store(MemoryBackend())
    fill(s3_like, {"a": b"54321", "extra": b"x"})
    source_layer.fail_nth("open_read", 1, times=None, temporary=False)
    report = sync(source, s3_like, compare="checksum")
    assert [(e.path, e.op) for e in report.errors] == [("a", "check")]
    assert s3_like.exists("extra")


@pytest.mark.parametrize("mode", ["after", "during", "before"])
def test_delete_modes_order_deletes_and_transfers(mode: str, src: Store, tmp_path: Path) -> None:
    layer = RecordingLayer(LocalBackend(tmp_path / "rec"), publish_delay=0.05)
    dst = Store(layer)
    fill(src, {"a1": b"1", "a2": b"2", "m": b"m", "z1": b"z", "z2": b"z"})
    fill(dst, {"b-extra": b"x", "y-extra": b"y"})
    layer.events.clear()
    report = sync(src, dst, delete_mode=mode, transfers=1)
    assert report.ok, report.errors
    kinds = [kind for kind, _ in layer.events if kind in ("publish", "delete")]
    if mode == "after":
        assert kinds == ["publish"] * 5 + ["delete"] * 2
    elif mode == "before":
        assert kinds == ["delete"] * 2 + ["publish"] * 5
    else:
        assert kinds.index("delete") < len(kinds) - kinds[::-1].index("publish") - 1


def test_during_stops_deleting_after_the_first_error(src: Store, tmp_path: Path) -> None:
    layer, dst = faulty_dst(tmp_path)
    fill(src, {f"a{i:03d}": b"1" for i in range(100)})
    fill(dst, {"zz-extra": b"x"})
    layer.fail_nth("publish", 1, times=1, temporary=False)
    # One transfer thread takes at most four batches of 16 ahead: the march cannot reach
    # the extra (after 100 files) before the first batch, with the failing file, is done.
    report = sync(src, dst, delete_mode="during", transfers=1)
    assert [e.path for e in report.errors] == ["a000"]
    assert dst.exists("zz-extra")
    assert report.skipped["not deleted: errors in this run"] == 1


def test_max_delete_stops_all_deletes_with_an_error(src: Store, dst: Store) -> None:
    fill(src, {"keep": b"k"})
    fill(dst, {"x1": b"1", "x2": b"2", "x3": b"3"})
    report = sync(src, dst, max_delete=2)
    assert report.deleted == []
    errors = [e for e in report.errors if e.op == "delete"]
    assert len(errors) == 1
    assert "max_delete=2" in errors[0].error
    assert errors[0].type == "SyncError"
    assert sync(src, dst, max_delete=3).deleted == ["x1", "x2", "x3"]


def test_max_delete_size_stops_all_deletes_with_an_error(src: Store, dst: Store) -> None:
    fill(dst, {"big": b"x" * 1000, "small": b"y"})
    report = sync(src, dst, max_delete_size=500)
    assert report.deleted == []
    assert not report.ok
    assert "max_delete_size=500" in report.errors[0].error
    with pytest.raises(SyncError) as raised:
        report.raise_for_errors()
    assert raised.value.report is report


def test_max_delete_during_stops_at_the_limit(src: Store, dst: Store) -> None:
    fill(dst, {"x1": b"1", "x2": b"2", "x3": b"3"})
    report = sync(src, dst, max_delete=2, delete_mode="during", checkers=1)
    assert len(report.deleted) == 2
    assert any("max_delete=2" in e.error for e in report.errors)


# ---------------------------------------------------------------- nothing lost


def test_backup_dir_keeps_deleted_and_overwritten_files(src: Store, tmp_path: Path) -> None:
    dst = Store(LocalBackend(tmp_path / "d"))
    backup = Store(LocalBackend(tmp_path / "b"))
    fill(src, {"same": b"s", "changed": b"new version"})
    fill(dst, {"same": b"s", "changed": b"old", "gone": b"bye"})
    os.utime(src.native_path("same"), ns=(10**18, 10**18))
    os.utime(dst.native_path("same"), ns=(10**18, 10**18))
    report = sync(src, dst, backup_dir=backup)
    assert report.ok, report.errors
    assert contents(backup) == {"changed": b"old", "gone": b"bye"}
    assert contents(dst) == {"same": b"s", "changed": b"new version"}


def test_backup_dir_on_the_same_backend_moves_server_side() -> None:
    backend = FaultInjectionLayer(MemoryBackend())
    src = Store(MemoryBackend())
    dst, backup = Store(backend, "dst"), Store(backend, "backup")
    fill(dst, {"gone": b"bye"})
    backend.fail_nth("open_read", 1, times=None, temporary=False)  # no streaming possible
    report = sync(src, dst, backup_dir=backup)
    assert report.ok, report.errors
    backend.clear()
    assert contents(backup) == {"gone": b"bye"}
    assert contents(dst) == {}


def test_backup_dir_overlapping_the_destination_is_refused(src: Store, dst: Store) -> None:
    with pytest.raises(ValueError, match="backup_dir"):
        sync(src, dst, backup_dir=dst.child("backup"))


def test_track_renames_moves_the_file_on_the_destination() -> None:
    source_layer = FaultInjectionLayer(MemoryBackend())
    source, dst = Store(source_layer), Store(MemoryBackend())
    fill(source, {"old/name.bin": b"payload" * 100, "other": b"o"})
    sync(source, dst)
    source.move("old/name.bin", "new/name.bin")
    source_layer.fail_nth("open_read", 1, times=None, temporary=False)  # a copy would fail
    report = sync(source, dst, track_renames=True)
    assert report.ok, report.errors
    assert report.renames == [("old/name.bin", "new/name.bin")]
    assert report.counts["copied"] == report.counts["deleted"] == 0
    source_layer.clear()
    assert contents(dst) == contents(source)


def test_track_renames_hashes_local_files_to_match_them(src: Store, dst: Store) -> None:
    fill(src, {"a/one": b"1" * 50, "b/two": b"2" * 50})
    sync(src, dst)
    src.move("a/one", "c/one")
    report = sync(src, dst, track_renames=True)
    assert report.renames == [("a/one", "c/one")]
    assert contents(dst) == contents(src)


# ---------------------------------------------------------------- filters


def test_filters_leave_excluded_files_alone_on_both_sides(src: Store, dst: Store) -> None:
    fill(src, {"keep.txt": b"k", "skip.log": b"s"})
    fill(dst, {"old.log": b"o", "old.txt": b"t"})
    report = sync(src, dst, filters=Filters.exclude("*.log"))
    assert report.ok
    assert contents(dst) == {"keep.txt": b"k", "old.log": b"o"}


def test_delete_excluded_removes_excluded_destination_files(src: Store, dst: Store) -> None:
    fill(src, {"keep.txt": b"k", "skip.log": b"s"})
    fill(dst, {"old.log": b"o"})
    report = sync(src, dst, filters=Filters.exclude("*.log"), delete_excluded=True)
    assert report.deleted == ["old.log"]
    assert contents(dst) == {"keep.txt": b"k"}


# ---------------------------------------------------------------- errors


def test_temporary_errors_are_retried(src: Store, tmp_path: Path) -> None:
    layer, dst = faulty_dst(tmp_path)
    fill(src, {"a": b"1"})
    rule = layer.fail_nth("open_write", 1, times=2, temporary=True)
    report = sync(src, dst, retry_backoff=0)
    assert report.ok, report.errors
    assert rule.fired == 2
    assert dst.read_bytes("a") == b"1"


def test_permanent_errors_are_not_retried(src: Store, tmp_path: Path) -> None:
    layer, dst = faulty_dst(tmp_path)
    fill(src, {"a": b"1"})
    rule = layer.fail_nth("open_write", 1, times=None, temporary=False)
    report = sync(src, dst, retry_backoff=0)
    assert rule.fired == 1
    assert [(e.path, e.temporary) for e in report.errors] == [("a", False)]


def test_retries_stop_after_the_configured_count(src: Store, tmp_path: Path) -> None:
    layer, dst = faulty_dst(tmp_path)
    fill(src, {"a": b"1"})
    rule = layer.fail_nth("open_write", 1, times=None, temporary=True)
    report = sync(src, dst, retries=2, retry_backoff=0)
    assert rule.fired == 3
    assert report.errors[0].temporary


def test_foreign_keys_are_errors_that_block_deletes(src: Store, tmp_path: Path) -> None:
    root = tmp_path / "foreign"
    dst = Store(LocalBackend(root))
    fill(src, {"a": b"1"})
    fill(dst, {"extra": b"x"})
    (root / "bad\\name").write_bytes(b"written by another tool")
    report = sync(src, dst)
    assert [(e.path, e.op) for e in report.errors] == [("bad\\name", "list")]
    assert "not a valid key" in report.errors[0].error
    assert dst.exists("extra")
    assert dst.read_bytes("a") == b"1"


# ---------------------------------------------------------------- limits


def test_bwlimit_paces_the_bytes(src: Store, dst: Store) -> None:
    fill(src, {"big": os.urandom(300_000)})
    started = time.monotonic()
    assert sync(src, dst, bwlimit=200_000).ok
    assert time.monotonic() - started >= 1.1


def test_tpslimit_paces_the_operations(src: Store, dst: Store) -> None:
    fill(src, {f"f{i}": b"x" for i in range(10)})
    started = time.monotonic()
    assert sync(src, dst, tpslimit=20).ok
    # 20 operations (a read and a write per file) at 20/s after a burst of 5
    assert time.monotonic() - started >= 0.7


@pytest.mark.parametrize(("mode", "done"), [("hard", {2}), ("soft", {3}), ("cautious", {2})])
def test_max_transfer_cuts_off_with_an_error_and_no_deletes(
    mode: str, done: set[int], src: Store, dst: Store
) -> None:
    fill(src, {f"f{i}": bytes([i]) * 100_000 for i in range(5)})
    fill(dst, {"extra": b"x"})
    report = sync(src, dst, max_transfer=250_000, cutoff_mode=mode, transfers=1)
    assert not report.ok
    assert any(e.op == "transfer" for e in report.errors)
    assert len(report.copied) in done
    assert dst.exists("extra")
    assert all(dst.read_bytes(p) == src.read_bytes(p) for p in report.copied)
    assert set(contents(dst)) == {*report.copied, "extra"}  # nothing partial


def test_cancel_mid_transfer_publishes_nothing_partial(src: Store, tmp_path: Path) -> None:
    dst_root = tmp_path / "cancelled"
    dst = Store(LocalBackend(dst_root))
    fill(src, {"big": os.urandom(3 << 20)})
    fill(dst, {"extra": b"x"})
    stop = threading.Event()

    def progress(p: Progress) -> None:
        if p.bytes_done > 0:
            stop.set()

    report = sync(src, dst, cancel=stop, progress=progress, bwlimit=2 << 20)
    assert report.cancelled
    assert not report.ok
    assert contents(dst) == {"extra": b"x"}
    leftovers = [name for _, _, names in os.walk(dst_root) for name in names]
    assert leftovers == ["extra"]


def test_cancel_accepts_a_function(src: Store, dst: Store) -> None:
    fill(src, FILES)
    report = sync(src, dst, cancel=lambda: True)
    assert report.cancelled
    assert report.copied == []


def test_progress_is_never_called_concurrently_and_ends_done(src: Store, dst: Store) -> None:
    fill(src, {f"d{i % 3}/f{i}": os.urandom(20_000) for i in range(40)})
    fill(dst, {"extra": b"x"})
    inside = threading.Lock()
    phases: list[str] = []
    overlaps = 0

    def progress(p: Progress) -> None:
        nonlocal overlaps
        if not inside.acquire(blocking=False):
            overlaps += 1
            return
        try:
            phases.append(p.phase)
            time.sleep(0.002)
        finally:
            inside.release()

    report = sync(src, dst, progress=progress, transfers=4, checkers=4)
    assert report.ok
    assert overlaps == 0
    assert phases[0] == "listing"
    assert phases[-1] == "done"
    assert "deleting" in phases


def test_a_failing_progress_callback_is_an_error_of_the_run(src: Store, dst: Store) -> None:
    fill(src, {"a": b"1"})
    fill(dst, {"extra": b"x"})

    def progress(p: Progress) -> None:
        raise RuntimeError("broken callback")

    report = sync(src, dst, progress=progress)
    assert [e.op for e in report.errors] == ["progress"]
    assert dst.exists("extra")


# ---------------------------------------------------------------- move


def test_move_keeps_a_source_that_changed_while_being_copied(tmp_path: Path, dst: Store) -> None:
    layer = RecordingLayer(LocalBackend(tmp_path / "m"))
    source = Store(layer)
    fill(source, {"f": b"original"})
    layer.on_read["f"] = lambda: (tmp_path / "m" / "f").write_bytes(b"grown while read!")
    report = move(source, dst)
    assert not report.ok
    assert report.moved == []
    assert source.read_bytes("f") == b"grown while read!"
    assert not dst.exists("f")


def test_a_stream_cut_mid_transfer_publishes_nothing_and_blocks_deletes(
    tmp_path: Path, dst: Store
) -> None:
    layer = FaultInjectionLayer(LocalBackend(tmp_path / "cut"))
    source = Store(layer)
    fill(source, {"big": os.urandom(3 << 20), "small": b"s"})
    fill(dst, {"extra": b"x"})
    # The connection drops after 1 MiB of "big" (the small file may be read first).
    layer.add(Fault("read", "cut", nth=1, after_bytes=1 << 20, key=lambda key: key == "big"))
    report = sync(source, dst, retries=0)
    assert [(e.path, e.op) for e in report.errors] == [("big", "copy")]
    assert sorted(contents(dst)) == ["extra", "small"]  # nothing partial, nothing deleted
    rerun = sync(source, dst)
    assert rerun.ok
    assert rerun.copied == ["big"]
    assert rerun.deleted == ["extra"]


def test_progress_reports_totals_and_bytes(src: Store, dst: Store) -> None:
    fill(src, {f"f{i}": os.urandom(50_000) for i in range(8)})
    seen: list[Progress] = []
    assert sync(src, dst, progress=seen.append).ok
    final = seen[-1]
    assert final.phase == "done"
    assert final.files_total == 8
    assert final.bytes_total == final.bytes_done == 400_000
    assert final.eta == 0.0


def test_progress_says_transferring_while_bytes_move(src: Store, dst: Store) -> None:
    """A streaming sync transfers while it still walks the listings: every report with
    bytes moving says ``transferring`` (or later), with totals covering what was found."""
    fill(src, {f"f{i:03}": os.urandom(20_000) for i in range(60)})
    seen: list[Progress] = []
    assert sync(src, dst, progress=seen.append, bwlimit=4 << 20).ok
    moving = [p for p in seen if p.bytes_done and p.phase != "done"]
    assert moving, "no report while bytes were moving"
    for p in moving:
        assert p.phase in ("transferring", "deleting")
        assert p.files_total is not None
        assert p.files_done <= p.files_total
        assert p.bytes_total is not None
        assert p.bytes_done <= p.bytes_total
    assert seen[-1].files_total == 60


def test_a_source_file_a_filter_hides_never_deletes_its_destination_copy(
    src: Store, dst: Store
) -> None:
    fill(src, {"grown.bin": b"x" * 50, "small": b"s"})
    fill(dst, {"grown.bin": b"x" * 5, "gone": b"g"})
    report = sync(src, dst, filters=Filters(max_size=10))
    assert report.ok, report.errors
    assert report.deleted == ["gone"]  # missing on the source: deleted
    assert dst.read_bytes("grown.bin") == b"x" * 5  # on the source, hidden: left alone


def test_a_filtered_destination_file_an_included_source_replaces_is_backed_up(
    src: Store, dst: Store, tmp_path: Path
) -> None:
    backup = Store(LocalBackend(tmp_path / "backup"))
    fill(src, {"f": b"included, long enough"})
    fill(dst, {"f": b"tiny"})
    report = sync(src, dst, filters=Filters(min_size=10), backup_dir=backup)
    assert report.ok, report.errors
    assert dst.read_bytes("f") == b"included, long enough"
    assert backup.read_bytes("f") == b"tiny"
