"""omnistorage bisync: both directions, conflicts kept and shown, exit codes, state."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.cli.conftest import CliInvoker, ProcessRunner
from tests.cli.test_trees import contents, make_tree


def test_bisync_unions_then_propagates_changes_both_ways(cli: CliInvoker, tmp_path: Path) -> None:
    one = make_tree(tmp_path / "one", {"a.txt": b"a", "shared": b"s"})
    two = make_tree(tmp_path / "two", {"b.txt": b"b"})
    state = tmp_path / "pair.bisync"
    first = cli("bisync", str(one), str(two), "--state", str(state))
    assert "first run" in first.stderr
    assert contents(one) == contents(two) == {"a.txt": b"a", "b.txt": b"b", "shared": b"s"}
    (one / "a.txt").unlink()
    (two / "b.txt").write_bytes(b"b edited")
    second = cli("bisync", str(one), str(two), "--state", str(state))
    assert "-> deleted  a.txt" in second.stdout
    assert "<- updated  b.txt" in second.stdout
    assert contents(one) == contents(two) == {"b.txt": b"b edited", "shared": b"s"}


def test_a_conflict_keeps_both_versions_and_is_shown(cli: CliInvoker, tmp_path: Path) -> None:
    one = make_tree(tmp_path / "one", {"f": b"base"})
    two = tmp_path / "two"
    state = tmp_path / "pair.bisync"
    cli("bisync", str(one), str(two), "--state", str(state))
    (one / "f").write_bytes(b"edited on one")
    (two / "f").write_bytes(b"two")
    os.utime(two / "f", (2e9, 2e9))
    result = cli("bisync", str(one), str(two), "--state", str(state))
    assert "!! conflict f: keep_both" in result.stdout
    assert "conflict on 'f'" in result.stderr  # the WARNING log line
    for side in (one, two):
        assert contents(side) == {"f..path1": b"edited on one", "f..path2": b"two"}


def test_json_report_and_default_state(cli: CliInvoker, tmp_path: Path) -> None:
    one = make_tree(tmp_path / "one", {"x": b"1"})
    two = tmp_path / "two"
    result = cli("bisync", str(one), str(two), "--json")
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert document["state_saved"] is True
    assert document["path1_to_path2"]["copied"] == ["x"]
    state = Path(document["state"])
    assert state.is_file()
    assert state.is_relative_to(Path(cli.isolation.env["XDG_CACHE_HOME"]))


def test_a_damaged_state_fails_with_exit_1_and_deletes_nothing(
    run: ProcessRunner, tmp_path: Path
) -> None:
    one = make_tree(tmp_path / "one", {"a": b"1"})
    two = make_tree(tmp_path / "two", {})
    state = tmp_path / "pair.bisync"
    run("bisync", str(one), str(two), "--state", str(state))
    header = state.read_text().splitlines()[0]
    state.write_text(header + '\n{"p": "a", "1": ["big", 1, null, null], "2": null}\n')
    (two / "a").unlink()
    result = run("bisync", str(one), str(two), "--state", str(state), expect=1)
    assert b"damaged" in result.stderr
    assert (one / "a").exists()


def test_dry_run_prints_the_plan_and_changes_nothing(cli: CliInvoker, tmp_path: Path) -> None:
    one = make_tree(tmp_path / "one", {"a": b"1"})
    two = make_tree(tmp_path / "two", {"b": b"2"})
    result = cli("bisync", str(one), str(two), "--state", str(tmp_path / "s"), "--dry-run")
    assert "-> copy     a" in result.stdout
    assert "<- copy     b" in result.stdout
    assert contents(one) == {"a": b"1"}
    assert not (tmp_path / "s").exists()
