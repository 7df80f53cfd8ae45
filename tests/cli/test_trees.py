"""sync, copy, move and check over the sync engine: flags, reports, exit codes."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnistorage import Store, open_store
from tests.cli.conftest import CliInvoker, ProcessRunner


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def contents(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


SOURCE = {
    "a.txt": b"alpha",
    "logs/app.log": b"log line\n",
    "logs/old.tmp": b"tmp",
    "d/e/f.bin": b"\x00" * 3000,
}


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "src", SOURCE)


@pytest.fixture
def space(request: pytest.FixtureRequest) -> Iterator[tuple[str, Store]]:
    name = f"trees-{abs(hash(request.node.nodeid))}"
    store = open_store(f"memory://{name}")
    yield f"memory://{name}", store
    store.close()


def test_sync_makes_the_destination_match(cli: CliInvoker, src: Path, tmp_path: Path) -> None:
    dst = make_tree(tmp_path / "dst", {"extra.txt": b"x", "a.txt": b"stale"})
    cli("sync", str(src), str(dst))
    assert contents(dst) == SOURCE


def test_sync_json_report_lists_what_it_did(cli: CliInvoker, src: Path, tmp_path: Path) -> None:
    dst = make_tree(tmp_path / "dst", {"extra.txt": b"x", "a.txt": b"stale"})
    report = json.loads(cli("sync", "--json", str(src), str(dst)).stdout)
    assert report["ok"] is True
    assert sorted(report["copied"]) == ["d/e/f.bin", "logs/app.log", "logs/old.tmp"]
    assert report["updated"] == ["a.txt"]
    assert report["deleted"] == ["extra.txt"]
    assert report["source"] == str(src)


def test_sync_dry_run_changes_nothing_and_prints_the_plan(
    cli: CliInvoker, src: Path, tmp_path: Path
) -> None:
    dst = make_tree(tmp_path / "dst", {"extra.txt": b"x"})
    result = cli("sync", "--dry-run", str(src), str(dst))
    assert contents(dst) == {"extra.txt": b"x"}
    ops = sorted(line.split()[0] + " " + line.split()[1] for line in result.stdout.splitlines())
    assert ops == [
        "copy a.txt",
        "copy d/e/f.bin",
        "copy logs/app.log",
        "copy logs/old.tmp",
        "delete extra.txt",
    ]


def test_sync_dry_run_json_holds_the_plan(cli: CliInvoker, src: Path, tmp_path: Path) -> None:
    report = json.loads(cli("sync", "--dry-run", "--json", str(src), str(tmp_path / "dst")).stdout)
    assert report["dry_run"] is True
    assert len(report["plan"]["actions"]) == 4
    assert not (tmp_path / "dst").exists()


def test_sync_max_delete_stops_deletes_and_exits_1(
    cli: CliInvoker, src: Path, tmp_path: Path
) -> None:
    dst = make_tree(tmp_path / "dst", {"x1": b"1", "x2": b"2"})
    result = cli("sync", "--max-delete", "1", str(src), str(dst), expect=1)
    assert (dst / "x1").exists()
    assert (dst / "x2").exists()
    assert "max_delete" in result.stderr


def test_sync_backup_dir_keeps_what_it_replaces_and_deletes(
    cli: CliInvoker, src: Path, tmp_path: Path
) -> None:
    dst = make_tree(tmp_path / "dst", {"extra.txt": b"x", "a.txt": b"stale"})
    cli("sync", "--backup-dir", str(tmp_path / "backup"), str(src), str(dst))
    assert contents(tmp_path / "backup") == {"extra.txt": b"x", "a.txt": b"stale"}
    assert contents(dst) == SOURCE


def test_filters_include_exclude_and_sizes_choose_the_files(
    cli: CliInvoker, src: Path, tmp_path: Path
) -> None:
    dst = tmp_path / "dst"
    cli("copy", "--exclude", "*.tmp", "--include", "logs/**", str(src), str(dst))
    assert contents(dst) == {"logs/app.log": b"log line\n"}
    cli("copy", "--min-size", "1k", str(src), str(tmp_path / "big"))
    assert contents(tmp_path / "big") == {"d/e/f.bin": b"\x00" * 3000}


def test_a_filter_file_is_read_in_rclone_syntax(cli: CliInvoker, src: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.txt"
    rules.write_text("# only text\n+ *.txt\n- **\n")
    cli("copy", "--filter-from", str(rules), str(src), str(tmp_path / "dst"))
    assert contents(tmp_path / "dst") == {"a.txt": b"alpha"}


def test_a_malformed_filter_is_a_usage_error(cli: CliInvoker, src: Path, tmp_path: Path) -> None:
    result = cli("copy", "--filter", "bad rule", str(src), str(tmp_path / "d"), expect=2)
    assert "--filter" in result.stderr or "filters" in result.stderr


def test_a_missing_filter_file_is_a_usage_error(cli: CliInvoker, src: Path, tmp_path: Path) -> None:
    cli("copy", "--filter-from", str(tmp_path / "none"), str(src), str(tmp_path / "d"), expect=2)


def test_checksum_and_size_only_exclude_each_other(
    cli: CliInvoker, src: Path, tmp_path: Path
) -> None:
    cli("sync", "--checksum", "--size-only", str(src), str(tmp_path / "d"), expect=2)


def test_size_only_skips_a_changed_file_of_equal_size(
    cli: CliInvoker, src: Path, tmp_path: Path
) -> None:
    dst = make_tree(tmp_path / "dst", {"a.txt": b"ALPHA"})
    cli("copy", "--size-only", str(src), str(dst))
    assert (dst / "a.txt").read_bytes() == b"ALPHA"
    cli("copy", "--checksum", str(src), str(dst))
    assert (dst / "a.txt").read_bytes() == b"alpha"


def test_overlapping_trees_are_a_usage_error(cli: CliInvoker, src: Path) -> None:
    result = cli("sync", str(src), str(src / "d"), expect=2)
    assert "overlap" in result.stderr


def test_copy_never_deletes(cli: CliInvoker, src: Path, tmp_path: Path) -> None:
    dst = make_tree(tmp_path / "dst", {"mine.txt": b"keep"})
    cli("copy", str(src), str(dst))
    assert contents(dst) == {**SOURCE, "mine.txt": b"keep"}


def test_move_empties_the_source_into_a_memory_store(
    cli: CliInvoker, src: Path, space: tuple[str, Store]
) -> None:
    url, store = space
    cli("move", str(src), f"{url}/moved")
    assert {
        i.path: store.read_bytes(i.path) for i in store.list_files("moved", recursive=True)
    } == {f"moved/{k}": v for k, v in SOURCE.items()}
    assert contents(src) == {}


def test_engine_options_reach_the_engine(cli: CliInvoker, src: Path, tmp_path: Path) -> None:
    report = json.loads(
        cli(
            "sync",
            "--json",
            "--transfers",
            "1",
            "--checkers",
            "1",
            "--bwlimit",
            "10M",
            "--track-renames",
            "--delete-mode",
            "during",
            str(src),
            str(tmp_path / "d"),
        ).stdout
    )
    assert report["ok"] is True
    assert report["counts"]["copied"] == 4


def test_max_transfer_stops_the_run_with_an_error(
    cli: CliInvoker, src: Path, tmp_path: Path
) -> None:
    result = cli(
        "copy",
        "--json",
        "--transfers",
        "1",
        "--max-transfer",
        "100",
        str(src),
        str(tmp_path / "d"),
        expect=1,
    )
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["bytes_transferred"] <= 3000


def test_check_of_identical_trees_exits_0(cli: CliInvoker, src: Path, tmp_path: Path) -> None:
    cli("sync", str(src), str(tmp_path / "dst"))
    result = cli("check", str(src), str(tmp_path / "dst"))
    assert result.stdout == ""
    cli("check", "--combined", str(src), str(tmp_path / "dst"))


def test_check_prints_differences_in_rclone_combined_format(
    cli: CliInvoker, src: Path, tmp_path: Path
) -> None:
    dst = make_tree(tmp_path / "dst", {**SOURCE, "a.txt": b"ALPHA", "only-dst": b"x"})
    (dst / "logs" / "app.log").unlink()
    result = cli("check", "--combined", str(src), str(dst), expect=3)
    assert result.stdout.splitlines() == [
        "* a.txt",
        "= d/e/f.bin",
        "+ logs/app.log",
        "= logs/old.tmp",
        "- only-dst",
    ]
    assert "1 differ, 1 only in source, 1 only in destination" in result.stderr
    # Differences are the result, not an error.
    assert "Error" not in result.stderr
    assert result.stderr.startswith("check: the trees differ: ")


def test_check_one_way_ignores_files_only_on_the_destination(
    cli: CliInvoker, src: Path, tmp_path: Path
) -> None:
    dst = make_tree(tmp_path / "dst", {**SOURCE, "only-dst": b"x"})
    cli("check", "--one-way", str(src), str(dst))
    cli("check", str(src), str(dst), expect=3)


def test_check_download_compares_bytes(cli: CliInvoker, src: Path, tmp_path: Path) -> None:
    dst = make_tree(tmp_path / "dst", {**SOURCE, "a.txt": b"ALPHA"})
    report = json.loads(cli("check", "--download", "--json", str(src), str(dst), expect=3).stdout)
    assert report["differ"] == ["a.txt"]
    assert report["compared_by"] == {"download": 4}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (None, 0),
        ("differ", 3),
        ("missing_on_dst", 3),
        ("missing_on_src", 3),
        ("unreadable", 1),
    ],
)
def test_check_exit_codes_on_seeded_differences_in_a_real_process(
    run: ProcessRunner, src: Path, tmp_path: Path, change: str | None, code: int
) -> None:
    dst = make_tree(tmp_path / "dst", SOURCE)
    if change == "differ":
        (dst / "d" / "e" / "f.bin").write_bytes(b"\x01" * 3000)
    elif change == "missing_on_dst":
        (dst / "logs" / "app.log").unlink()
    elif change == "missing_on_src":
        (dst / "new.txt").write_bytes(b"new")
    elif change == "unreadable":  # what cannot be compared is an error, not a result
        (dst / "bad\\name").write_bytes(b"another tool wrote a name outside the grammar")
    result = run("check", "--json", str(src), str(dst), expect=code)
    report = json.loads(result.stdout)
    assert report["ok"] is (code == 0)
    if change == "unreadable":
        assert report["errors"]
        assert b"Error: " in result.stderr
    elif change is not None:
        assert len(report[change]) == 1
        assert b"Error" not in result.stderr


def test_check_of_a_missing_source_folder_exits_1(run: ProcessRunner, tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    run("check", str(tmp_path / "nothing"), str(tmp_path / "b"), expect=1)


def test_sync_does_not_leave_the_hash_cache_in_the_user_home(
    cli: CliInvoker, src: Path, tmp_path: Path
) -> None:
    cli("sync", "--checksum", str(src), str(tmp_path / "dst"))
    assert not any("sync-hashes" in name for name in os.listdir(tmp_path))


def test_sync_from_a_missing_source_folder_deletes_nothing(cli: CliInvoker, tmp_path: Path) -> None:
    dst = make_tree(tmp_path / "dst", {"precious.txt": b"keep"})
    result = cli("sync", str(tmp_path / "typo"), str(dst), expect=1)
    assert "no such folder" in result.stderr
    assert contents(dst) == {"precious.txt": b"keep"}


def test_delete_excluded_also_removes_destination_files_the_filters_exclude(
    cli: CliInvoker, src: Path, tmp_path: Path
) -> None:
    dst = make_tree(tmp_path / "dst", {"junk.tmp": b"x"})
    cli("sync", "--exclude", "*.tmp", str(src), str(dst))
    assert (dst / "junk.tmp").exists()
    cli("sync", "--exclude", "*.tmp", "--delete-excluded", str(src), str(dst))
    assert not (dst / "junk.tmp").exists()
    assert not (dst / "logs" / "old.tmp").exists()


def test_track_renames_turns_a_renamed_source_file_into_a_move(
    cli: CliInvoker, src: Path, tmp_path: Path
) -> None:
    dst = tmp_path / "dst"
    cli("sync", str(src), str(dst))
    (src / "d" / "e" / "f.bin").rename(src / "renamed.bin")
    report = json.loads(cli("sync", "--json", "--track-renames", str(src), str(dst)).stdout)
    assert report["renames"] == [["d/e/f.bin", "renamed.bin"]]
    assert report["copied"] == []
    assert contents(dst) == contents(src)


def test_ages_select_files_by_modification_time(cli: CliInvoker, src: Path, tmp_path: Path) -> None:
    old = time.time() - 3 * 86400
    os.utime(src / "a.txt", (old, old))
    cli("copy", "--min-age", "2d", str(src), str(tmp_path / "old"))
    assert contents(tmp_path / "old") == {"a.txt": b"alpha"}
    cli("copy", "--max-age", "1d", str(src), str(tmp_path / "new"))
    assert "a.txt" not in contents(tmp_path / "new")
