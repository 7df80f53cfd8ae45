"""sync, copy, move, plan and execute: the core behaviours, on local files and memory."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from omnistorage import CapabilityNotSupported, LocalBackend, MemoryBackend, Store
from omnistorage.ext import FaultInjectionLayer, ReadOnlyLayer
from omnistorage.sync import Filters, Plan, check, copy, execute, move, plan, sync
from tests.sync.support import contents, fill

FILES = {"a.txt": b"alpha", "d/b.bin": b"\x00" * 300, "d/e/c.txt": b"gamma", "z": b""}


def test_sync_copies_a_tree_and_keeps_the_mtimes(src: Store, dst: Store) -> None:
    fill(src, FILES)
    report = sync(src, dst)
    assert report.ok, report.errors
    assert contents(dst) == FILES
    assert sorted(report.copied) == sorted(FILES)
    for path in FILES:
        assert dst.get_file_info(path).modified == src.get_file_info(path).modified


def test_a_second_sync_transfers_nothing_and_reads_no_file(tmp_path: Path, dst: Store) -> None:
    layer = FaultInjectionLayer(LocalBackend(tmp_path / "s"))
    source = Store(layer)
    fill(source, FILES)
    sync(source, dst)
    layer.fail_nth("open_read", 1, times=None, temporary=False)  # any read now fails
    report = sync(source, dst)
    assert report.ok, report.errors
    assert report.counts == {"copied": 0, "updated": 0, "deleted": 0, "moved": 0, "renamed": 0}
    assert report.skipped == {"same size and mtime": len(FILES)}


def test_a_change_at_equal_size_is_transferred(src: Store, dst: Store) -> None:
    fill(src, FILES)
    sync(src, dst)
    src.write("a.txt", b"ALPHA", overwrite=True)  # same size, new mtime
    report = sync(src, dst)
    assert report.updated == ["a.txt"]
    assert dst.read_bytes("a.txt") == b"ALPHA"


def test_sync_deletes_extras_and_copy_keeps_them(src: Store, dst: Store) -> None:
    fill(src, FILES)
    fill(dst, {"extra.txt": b"x", "d/old": b"y"})
    assert copy(src, dst).counts["deleted"] == 0
    assert dst.exists("extra.txt")
    report = sync(src, dst)
    assert sorted(report.deleted) == ["d/old", "extra.txt"]
    assert contents(dst) == FILES


def test_move_empties_the_source_into_the_destination(src: Store, dst: Store) -> None:
    fill(src, FILES)
    report = move(src, dst)
    assert report.ok, report.errors
    assert sorted(report.moved) == sorted(FILES)
    assert contents(dst) == FILES
    assert list(src.list_files(recursive=True)) == []


def test_move_deletes_a_source_the_destination_already_holds(src: Store, dst: Store) -> None:
    fill(src, FILES)
    sync(src, dst)
    report = move(src, dst)
    assert sorted(report.moved) == sorted(FILES)
    assert report.counts["copied"] == 0
    assert contents(dst) == FILES


def test_move_never_deletes_a_source_whose_destination_merely_exists(
    src: Store, dst: Store
) -> None:
    """The Go seed deleted the source when the destination existed; here it is updated."""
    fill(src, {"f": b"new content"})
    fill(dst, {"f": b"old"})
    report = move(src, dst, ignore_existing=True)
    assert src.read_bytes("f") == b"new content"
    assert report.moved == []
    report = move(src, dst)
    assert dst.read_bytes("f") == b"new content"
    assert report.updated == ["f"]
    assert report.moved == ["f"]


def test_dry_run_changes_nothing_and_returns_the_plan(src: Store, dst: Store) -> None:
    fill(src, FILES)
    fill(dst, {"a.txt": b"longer", "gone": b"g"})
    report = sync(src, dst, dry_run=True)
    assert report.dry_run
    assert report.plan is not None
    assert contents(dst) == {"a.txt": b"longer", "gone": b"g"}
    ops = {(a.op, a.path, a.reason) for a in report.plan.actions}
    assert ("update", "a.txt", "size differs") in ops
    assert ("delete", "gone", "missing on source") in ops
    assert ("copy", "d/b.bin", "missing on destination") in ops


def test_a_plan_executes_to_the_same_result_as_sync(src: Store, dst: Store) -> None:
    fill(src, FILES)
    fill(dst, {"gone": b"g"})
    made = plan(src, dst)
    assert isinstance(made, Plan)
    assert made.counts == {"copy": len(FILES), "delete": 1}
    report = execute(made, transfers=2)
    assert report.ok, report.errors
    assert contents(dst) == FILES


def test_execute_refuses_options_a_plan_already_fixed(src: Store, dst: Store) -> None:
    made = plan(src, dst)
    with pytest.raises(TypeError, match="compare"):
        execute(made, compare="size")


def test_reports_and_plans_are_json(src: Store, dst: Store) -> None:
    fill(src, FILES)
    fill(dst, {"gone": b"g"})
    dry = sync(src, dst, dry_run=True, filters=Filters.exclude("z"))
    data = json.loads(dry.to_json())
    assert data["plan"]["counts"] == {"copy": 3, "delete": 1}
    assert data["plan"]["options"]["filters"]["rules"] == ["- z"]
    done = json.loads(sync(src, dst).to_json())
    assert done["ok"]
    assert done["counts"]["copied"] == 4
    assert json.loads(check(src, dst).to_json())["ok"]


def test_record_paths_off_keeps_only_counts(src: Store, dst: Store) -> None:
    fill(src, FILES)
    report = sync(src, dst, record_paths=False)
    assert report.copied == []
    assert report.counts["copied"] == len(FILES)


def test_unknown_options_and_bad_values_are_refused_before_any_io(src: Store, dst: Store) -> None:
    with pytest.raises(TypeError, match="transfer"):
        sync(src, dst, transfer=3)
    with pytest.raises(ValueError, match="compare"):
        sync(src, dst, compare="mtime")
    with pytest.raises(ValueError, match="transfers"):
        sync(src, dst, transfers=0)
    with pytest.raises(ValueError, match="track_renames"):
        sync(src, dst, track_renames=True, delete_mode="before")


def test_overlapping_stores_are_refused(tmp_path: Path) -> None:
    backend = MemoryBackend()
    outer = Store(backend, "a")
    with pytest.raises(ValueError, match="overlap"):
        sync(outer, outer.child("b"))
    with pytest.raises(ValueError, match="overlap"):
        sync(Store(LocalBackend(tmp_path)), Store(LocalBackend(tmp_path / "inner")))


def test_a_destination_that_cannot_delete_is_refused_for_sync(src: Store) -> None:
    read_only = Store(ReadOnlyLayer(MemoryBackend()))
    with pytest.raises(CapabilityNotSupported):
        sync(src, read_only)


def test_content_type_and_user_metadata_are_kept() -> None:
    a, b = Store(MemoryBackend()), Store(MemoryBackend())
    a.write("page.html", b"<p>", content_type="text/html", metadata={"owner": "ops"})
    assert sync(a, b).ok
    info = b.get_file_info("page.html")
    assert info.content_type == "text/html"
    assert info.metadata == {"owner": "ops"}


def test_a_server_side_copy_is_used_on_a_shared_backend() -> None:
    backend = FaultInjectionLayer(MemoryBackend())
    a, b = Store(backend, "a"), Store(backend, "b")
    fill(a, FILES)
    backend.fail_nth("open_read", 1, times=None, temporary=False)  # streaming would fail
    report = sync(a, b)
    assert report.ok, report.errors
    backend.clear()
    assert contents(b) == FILES


def test_files_of_unknown_size_are_always_transferred(tmp_path: Path, dst: Store) -> None:
    from omnistorage.backends.sql import SQLQueryBackend

    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE sales (year INTEGER, amount REAL)")
        conn.execute("INSERT INTO sales VALUES (2024, 1.5)")
    source = Store(SQLQueryBackend(f"sqlite:///{db}", queries={"sales.csv": "SELECT * FROM sales"}))
    assert source.get_file_info("sales.csv").size is None
    first = sync(source, dst)
    assert first.copied == ["sales.csv"], first.errors
    again = sync(source, dst)
    assert again.updated == ["sales.csv"]  # nothing can prove it unchanged
    assert dst.read_bytes("sales.csv") == source.read_bytes("sales.csv")
    source.close()


def test_sizes_only_compare_skips_equal_sizes(src: Store, dst: Store) -> None:
    fill(src, {"f": b"aaaa"})
    fill(dst, {"f": b"bbbb"})
    assert sync(src, dst, compare="size").skipped == {"same size": 1}
    assert dst.read_bytes("f") == b"bbbb"


def test_checksum_compare_finds_a_change_hidden_behind_equal_mtimes(src: Store, dst: Store) -> None:
    fill(src, {"f": b"aaaa"})
    sync(src, dst)
    stamp = os.stat(dst.native_path("f")).st_mtime_ns
    dst.write("f", b"bbbb", overwrite=True)
    os.utime(dst.native_path("f"), ns=(stamp, stamp))  # content changed, mtime restored
    assert sync(src, dst).skipped == {"same size and mtime": 1}  # the documented trust
    report = sync(src, dst, compare="checksum")
    assert report.updated == ["f"]
    assert dst.read_bytes("f") == b"aaaa"


def test_update_keeps_newer_destination_files(src: Store, dst: Store) -> None:
    fill(dst, {"f": b"dst version"})
    fill(src, {"f": b"src"})
    older = os.stat(dst.native_path("f")).st_mtime_ns - 10**9
    os.utime(src.native_path("f"), ns=(older, older))
    assert sync(src, dst, update=True).skipped == {"newer on destination": 1}
    assert dst.read_bytes("f") == b"dst version"


def test_ignore_existing_never_touches_existing_files(src: Store, dst: Store) -> None:
    fill(src, {"f": b"new", "g": b"g"})
    fill(dst, {"f": b"old version"})
    report = sync(src, dst, ignore_existing=True)
    assert report.copied == ["g"]
    assert dst.read_bytes("f") == b"old version"
