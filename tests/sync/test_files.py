"""copy_file and move_file: one file under a new name, with the tree operations' rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnistorage import InvalidPath, LocalBackend, MemoryBackend, Store
from omnistorage.ext import FaultInjectionLayer
from omnistorage.sync import copy_file, move_file
from tests.sync.support import fill


def test_copy_file_writes_the_new_name_and_keeps_the_mtime(src: Store, dst: Store) -> None:
    fill(src, {"a.txt": b"alpha"})
    report = copy_file(src, "a.txt", dst, "renamed/b.txt")
    assert report.ok
    assert report.copied == ["renamed/b.txt"]
    assert dst.read_bytes("renamed/b.txt") == b"alpha"
    assert dst.get_file_info("renamed/b.txt").modified == src.get_file_info("a.txt").modified


def test_copy_file_leaves_an_identical_destination_alone(src: Store, dst: Store) -> None:
    fill(src, {"a": b"x"})
    copy_file(src, "a", dst, "b")
    assert copy_file(src, "a", dst, "b").skipped == {"same size and mtime": 1}


def test_copy_file_without_overwrite_refuses_an_existing_file(src: Store, dst: Store) -> None:
    fill(src, {"a": b"new"})
    fill(dst, {"b": b"old"})
    report = copy_file(src, "a", dst, "b", overwrite=False)
    assert [e.type for e in report.errors] == ["AlreadyExists"]
    assert dst.read_bytes("b") == b"old"


def test_copy_file_of_a_missing_source_is_a_not_found_error(src: Store, dst: Store) -> None:
    report = copy_file(src, "nope", dst, "b")
    assert [e.type for e in report.errors] == ["NotFound"]


def test_copy_file_dry_run_plans_one_action(src: Store, dst: Store) -> None:
    fill(src, {"a": b"x"})
    report = copy_file(src, "a", dst, "b", dry_run=True)
    assert report.plan is not None
    assert [(a.op, a.path, a.source) for a in report.plan.actions] == [("copy", "b", "a")]
    assert not dst.exists("b")


def test_move_file_copies_verifies_then_deletes_the_source(src: Store, dst: Store) -> None:
    fill(src, {"a": b"payload"})
    report = move_file(src, "a", dst, "moved/a")
    assert report.ok
    assert report.moved == ["a"]
    assert not src.exists("a")
    assert dst.read_bytes("moved/a") == b"payload"


def test_move_file_on_one_backend_is_a_server_side_move() -> None:
    backend = FaultInjectionLayer(MemoryBackend())
    a, b = Store(backend, "a"), Store(backend, "b")
    fill(a, {"f": b"1"})
    backend.fail_nth("open_read", 1, times=None, temporary=False)
    report = move_file(a, "f", b, "g")
    assert report.ok, report.errors
    backend.clear()
    assert not a.exists("f")
    assert b.read_bytes("g") == b"1"


def test_move_file_keeps_the_source_when_the_copy_fails(tmp_path: Path, src: Store) -> None:
    layer = FaultInjectionLayer(LocalBackend(tmp_path / "x"))
    fill(src, {"a": b"keep me"})
    layer.fail_nth("publish", 1, times=None, temporary=False)
    report = move_file(src, "a", Store(layer), "a")
    assert not report.ok
    assert report.moved == []
    assert src.read_bytes("a") == b"keep me"


def test_bad_paths_and_the_same_file_are_refused(src: Store) -> None:
    with pytest.raises(InvalidPath):
        copy_file(src, "../x", src, "y")
    with pytest.raises(ValueError, match="same file"):
        copy_file(src, "a", src, "a")
    with pytest.raises(TypeError, match="delete_mode"):
        copy_file(src, "a", src, "b", delete_mode="after")
