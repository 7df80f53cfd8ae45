"""bisync: changes flow both ways, deletions only when the state proves them, conflicts
resolved by the chosen strategy."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.ext import FaultInjectionLayer
from omnistorage.sync import Filters, bisync, check
from tests.sync.support import contents, fill


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state" / "bisync.ndjson"


def later(seconds: int) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_the_first_run_unions_the_sides_and_deletes_nothing(
    src: Store, dst: Store, state: Path
) -> None:
    fill(src, {"a": b"1", "both": b"same"})
    fill(dst, {"b": b"2", "both": b"same"})
    report = bisync(src, dst, state=state)
    assert report.ok
    assert report.first_run
    assert report.state_saved
    assert report.path1_to_path2.copied == ["a"]
    assert report.path2_to_path1.copied == ["b"]
    assert contents(src) == contents(dst) == {"a": b"1", "b": b"2", "both": b"same"}
    assert report.conflicts == []


def test_changes_on_each_side_flow_to_the_other(src: Store, dst: Store, state: Path) -> None:
    fill(src, {"a": b"1", "b": b"2", "c": b"3"})
    bisync(src, dst, state=state)
    src.write("a", b"one", overwrite=True, modified=later(5))
    dst.write("b", b"two", overwrite=True, modified=later(5))
    dst.write("new-on-2", b"n")
    report = bisync(src, dst, state=state)
    assert report.ok, list(report.all_errors())
    assert report.path1_to_path2.updated == ["a"]
    assert report.path2_to_path1.updated == ["b"]
    assert report.path2_to_path1.copied == ["new-on-2"]
    assert contents(src) == contents(dst)


def test_a_deletion_proven_by_the_state_propagates(src: Store, dst: Store, state: Path) -> None:
    fill(src, {"a": b"1", "b": b"2", "c": b"3", "d": b"4"})
    bisync(src, dst, state=state)
    src.delete("a")
    report = bisync(src, dst, state=state)
    assert report.path1_to_path2.deleted == ["a"]
    assert not dst.exists("a")
    assert check(src, dst).ok


def test_without_state_a_missing_file_is_copied_back_not_deleted(
    src: Store, dst: Store, state: Path
) -> None:
    fill(src, {"a": b"1"})
    fill(dst, {"a": b"1", "b": b"2"})
    report = bisync(src, dst, state=state)
    assert report.path2_to_path1.copied == ["b"]
    assert report.path1_to_path2.deleted == []


def test_a_change_beats_a_deletion(src: Store, dst: Store, state: Path) -> None:
    fill(src, {"a": b"1", "b": b"2", "c": b"3"})
    bisync(src, dst, state=state)
    src.delete("a")
    dst.write("a", b"edited", overwrite=True, modified=later(5))
    report = bisync(src, dst, state=state)
    assert report.path2_to_path1.copied == ["a"]
    assert src.read_bytes("a") == b"edited"


def make_conflict(src: Store, dst: Store, state: Path) -> None:
    fill(src, {"f": b"base", "other": b"o", "third": b"t"})
    bisync(src, dst, state=state)
    src.write("f", b"path1 version", overwrite=True, modified=later(10))
    dst.write("f", b"path2 v", overwrite=True, modified=later(20))


@pytest.mark.parametrize(
    ("strategy", "winner"),
    [
        ("newer", b"path2 v"),
        ("larger", b"path1 version"),
        ("path1", b"path1 version"),
        ("path2", b"path2 v"),
    ],
)
def test_conflicts_resolve_by_the_chosen_winner(
    strategy: str, winner: bytes, src: Store, dst: Store, state: Path
) -> None:
    make_conflict(src, dst, state)
    report = bisync(src, dst, state=state, conflict=strategy)
    assert report.ok, list(report.all_errors())
    assert [c.path for c in report.conflicts] == ["f"]
    assert src.read_bytes("f") == dst.read_bytes("f") == winner


@pytest.mark.parametrize("strategy", [None, "keep_both"], ids=["default", "keep_both"])
def test_keep_both_keeps_both_versions_on_both_sides_and_is_the_default(
    strategy: str | None, src: Store, dst: Store, state: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_conflict(src, dst, state)
    options = {} if strategy is None else {"conflict": strategy}
    report = bisync(src, dst, state=state, **options)
    assert report.ok, list(report.all_errors())
    assert [(c.path, c.resolution) for c in report.conflicts] == [("f", "keep_both")]
    for side in (src, dst):
        assert not side.exists("f")
        assert side.read_bytes("f..path1") == b"path1 version"
        assert side.read_bytes("f..path2") == b"path2 v"
    # Loud: a warning in the report and in the log, naming the path.
    assert any("'f'" in w and "both versions kept" in w for w in report.warnings)
    assert any("conflict on 'f'" in r.getMessage() for r in caplog.records)
    assert bisync(src, dst, state=state).ok


def test_keep_both_takes_the_next_free_names(src: Store, dst: Store, state: Path) -> None:
    make_conflict(src, dst, state)
    dst.write("f..path1", b"an older conflict", overwrite=True)
    src.write("f..path1", b"an older conflict", overwrite=True)
    report = bisync(src, dst, state=state)
    assert report.ok, list(report.all_errors())
    for side in (src, dst):
        assert side.read_bytes("f..path1") == b"an older conflict"
        assert side.read_bytes("f..path1-2") == b"path1 version"
        assert side.read_bytes("f..path2-2") == b"path2 v"


def test_skip_leaves_the_conflict_for_the_next_run(src: Store, dst: Store, state: Path) -> None:
    make_conflict(src, dst, state)
    first = bisync(src, dst, state=state, conflict="skip")
    assert [(c.path, c.resolution) for c in first.conflicts] == [("f", "skipped")]
    assert src.read_bytes("f") == b"path1 version"
    assert dst.read_bytes("f") == b"path2 v"
    second = bisync(src, dst, state=state, conflict="skip")
    assert [c.path for c in second.conflicts] == ["f"]


def test_error_strategy_fails_the_run_and_keeps_the_old_state(
    src: Store, dst: Store, state: Path
) -> None:
    make_conflict(src, dst, state)
    before = state.read_text()
    report = bisync(src, dst, state=state, conflict="error")
    assert not report.ok
    assert not report.state_saved
    assert state.read_text() == before


def test_errors_block_deletes_and_the_state(tmp_path: Path, src: Store, state: Path) -> None:
    layer = FaultInjectionLayer(LocalBackend(tmp_path / "two"))
    two = Store(layer)
    fill(src, {"a": b"1", "b": b"2", "c": b"3", "d": b"4"})
    bisync(src, two, state=state)
    src.delete("a")
    src.write("b", b"changed", overwrite=True, modified=later(5))
    layer.fail_nth("publish", 1, times=None, temporary=False)
    report = bisync(src, two, state=state)
    assert not report.ok
    assert not report.state_saved
    assert two.exists("a")
    layer.clear()
    assert bisync(src, two, state=state).ok
    assert contents(src) == contents(two)


def test_too_many_deletes_are_refused(src: Store, dst: Store, state: Path) -> None:
    fill(src, {f"f{i}": b"x" for i in range(4)})
    bisync(src, dst, state=state)
    for i in range(3):
        src.delete(f"f{i}")
    report = bisync(src, dst, state=state)
    assert not report.ok
    assert "max_delete_percent" in report.errors[0].error
    assert len(list(dst.list_files())) == 4
    assert bisync(src, dst, state=state, max_delete_percent=100).ok


def test_a_state_made_for_other_stores_is_refused(src: Store, dst: Store, state: Path) -> None:
    bisync(src, dst, state=state)
    report = bisync(src, Store(MemoryBackend()), state=state)
    assert not report.ok
    assert "was made for" in report.errors[0].error


DAMAGED_LINES = [
    "not json",
    "[1, 2]",
    '{"p": 5, "1": null, "2": null}',
    '{"p": ["a"], "1": null, "2": null}',
    '{"p": "a", "1": 5, "2": null}',
    '{"p": "a", "1": ["x", 1, null, null], "2": null}',
    '{"p": "a", "1": [true, 1, null, null], "2": null}',
    '{"p": "a", "1": [-1, 1, null, null], "2": null}',
    '{"p": "a", "1": [1, "yesterday", null, null], "2": null}',
    '{"p": "a", "1": [1, 1.5, null, null], "2": null}',
    '{"p": "a", "1": [1, 1, 7, null], "2": null}',
    '{"p": "a", "1": [1, 1, null, {"md5": 1}], "2": null}',
    '{"p": "a", "1": [1, 1, null, "zz"], "2": null}',
    '{"p": "a", "1": [1, 1, null], "2": null}',
    '{"p": "../up", "1": null, "2": null}',
    '{"p": "a", "1": null}',
    '{"p": "a", "1": null, "2": null, "x": 1}',
]


@pytest.mark.parametrize("line", DAMAGED_LINES)
def test_a_state_with_ill_typed_fields_proves_nothing_and_deletes_nothing(
    line: str, src: Store, dst: Store, state: Path
) -> None:
    fill(src, {"a": b"1", "b": b"2", "c": b"3"})
    assert bisync(src, dst, state=state).state_saved
    dst.delete("a")  # would be propagated by a good state
    header, *_ = state.read_text().splitlines()
    state.write_text(header + "\n" + line + "\n")
    report = bisync(src, dst, state=state)
    assert not report.ok
    assert any("damaged" in e.error for e in report.all_errors())
    assert src.exists("a")
    assert report.path2_to_path1.deleted == report.path1_to_path2.deleted == []
    assert not report.state_saved


@pytest.mark.parametrize(
    "header",
    ["not json", '{"format": "omnistorage-bisync", "version": true}', "[]", "\udcff"],
)
def test_a_damaged_state_header_is_refused(
    header: str, src: Store, dst: Store, state: Path
) -> None:
    state.parent.mkdir(parents=True)
    state.write_bytes(header.encode("utf-8", "surrogateescape") + b"\n")
    report = bisync(src, dst, state=state)
    assert not report.ok
    assert not report.state_saved


def test_the_state_can_live_in_a_store(src: Store, dst: Store) -> None:
    keeper = Store(MemoryBackend())
    fill(src, {"a": b"1", "b": b"2", "c": b"3"})
    assert bisync(src, dst, state=(keeper, "state/pair.ndjson")).state_saved
    assert keeper.read_text("state/pair.ndjson").startswith('{"format": "omnistorage-bisync"')
    src.delete("a")
    assert bisync(src, dst, state=(keeper, "state/pair.ndjson")).path1_to_path2.deleted == ["a"]


def test_dry_run_changes_nothing_and_plans_each_direction(
    src: Store, dst: Store, state: Path
) -> None:
    fill(src, {"a": b"1"})
    fill(dst, {"b": b"2"})
    report = bisync(src, dst, state=state, dry_run=True)
    assert not os.path.exists(state)
    assert contents(src) == {"a": b"1"}
    assert report.path1_to_path2.plan is not None
    assert [a.path for a in report.path1_to_path2.plan.actions] == ["a"]
    assert [a.path for a in report.path2_to_path1.plan.actions] == ["b"]


def test_bad_arguments_are_refused_before_any_io(src: Store, dst: Store, state: Path) -> None:
    with pytest.raises(ValueError, match="conflict"):
        bisync(src, dst, state=state, conflict="coin")
    with pytest.raises(TypeError, match="state"):
        bisync(src, dst, state=42)
    with pytest.raises(TypeError, match="delete_mode"):
        bisync(src, dst, state=state, delete_mode="before")


def test_a_held_lock_refuses_a_second_run(src: Store, dst: Store, state: Path) -> None:
    state.parent.mkdir(parents=True)
    Path(str(state) + ".lock").write_text("12345")
    report = bisync(src, dst, state=state)
    assert not report.ok
    assert "another bisync" in report.errors[0].error


# ---------------------------------------------------------------- filters never delete

AN_HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)


def _edit(store: Store, data: bytes, when: datetime) -> None:
    store.write("f", data, overwrite=True, modified=when)


FILTER_KINDS = {
    # filter, the edit on path1 that makes the filter hide the file there
    "max_size": (Filters(max_size=10), lambda s: _edit(s, b"grown past ten bytes", later(5))),
    "min_size": (Filters(min_size=3), lambda s: _edit(s, b"x", later(5))),
    "min_age": (Filters(min_age=timedelta(minutes=10)), lambda s: _edit(s, b"fresh", later(5))),
    "max_age": (
        Filters(max_age=timedelta(days=1)),
        lambda s: _edit(s, b"aged", datetime(2001, 1, 1, tzinfo=UTC)),
    ),
    "rule": (Filters(rules=["- f"]), lambda s: _edit(s, b"renamed rule", later(5))),
}


@pytest.mark.parametrize("kind", sorted(FILTER_KINDS))
@pytest.mark.parametrize("edited", ["path1", "path2"])
def test_a_file_a_filter_now_hides_is_never_deleted_on_the_other_side(
    kind: str, edited: str, src: Store, dst: Store, state: Path
) -> None:
    filters, edit = FILTER_KINDS[kind]
    fill(src, {"keep": b"kept"})
    src.write("f", b"orig", modified=AN_HOUR_AGO)
    first = bisync(src, dst, state=state)
    assert first.ok
    assert first.state_saved
    editor, other = (src, dst) if edited == "path1" else (dst, src)
    before = other.read_bytes("f")
    edit(editor)
    report = bisync(src, dst, state=state, filters=filters)
    assert report.ok, list(report.all_errors())
    assert report.path1_to_path2.deleted == report.path2_to_path1.deleted == []
    assert other.read_bytes("f") == before
    assert editor.exists("f")
    # Without the filter the edit flows across: the state kept what it proved.
    after = bisync(src, dst, state=state)
    assert after.ok, list(after.all_errors())
    assert src.read_bytes("f") == dst.read_bytes("f") == editor.read_bytes("f")
