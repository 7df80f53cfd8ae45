"""ls, stat, cat and rm over local folders and memory stores (in-process: memory spaces are
shared with the test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnistorage import Store, open_store
from tests.cli.conftest import CliInvoker, Isolation


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha")
    (root / "sub" / "b.txt").write_bytes(b"bravo!")
    (root / "sub" / "deep" / "c.bin").write_bytes(bytes(range(256)))
    (root / "subway.txt").write_bytes(b"not in sub")
    return root


@pytest.fixture
def space(request: pytest.FixtureRequest) -> Iterator[tuple[str, Store]]:
    """A named memory space held open by the test, and its URL."""
    name = f"objects-{abs(hash(request.node.nodeid))}"
    store = open_store(f"memory://{name}")
    yield f"memory://{name}", store
    store.close()


def lines(text: str) -> list[str]:
    return sorted(line for line in text.splitlines() if line)


def test_ls_lists_files_and_sub_folders_of_a_folder(cli: CliInvoker, tree: Path) -> None:
    assert lines(cli("ls", str(tree)).stdout) == ["a.txt", "sub/", "subway.txt"]


def test_ls_defaults_to_the_working_directory(
    cli: CliInvoker, tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tree / "sub")
    assert lines(cli("ls").stdout) == ["b.txt", "deep/"]


def test_ls_recursive_lists_every_file_below_and_stays_inside_the_folder(
    cli: CliInvoker, tree: Path
) -> None:
    assert lines(cli("ls", "-R", str(tree / "sub")).stdout) == ["b.txt", "deep/c.bin"]


def test_ls_long_shows_size_time_and_path(cli: CliInvoker, tree: Path) -> None:
    out = cli("ls", "-lR", str(tree / "sub")).stdout
    row = next(line for line in out.splitlines() if line.endswith("deep/c.bin"))
    size, day, clock, path = row.split()
    assert (size, path) == ("256", "deep/c.bin")
    assert len(day) == 10
    assert len(clock) == 8


def test_ls_of_a_file_shows_that_file(cli: CliInvoker, tree: Path) -> None:
    assert cli("ls", "-l", str(tree / "a.txt")).stdout.split()[0] == "5"


def test_ls_json_is_one_array_of_entries(cli: CliInvoker, tree: Path) -> None:
    entries = json.loads(cli("ls", "--json", str(tree)).stdout)
    by_path = {entry["path"]: entry for entry in entries}
    assert set(by_path) == {"a.txt", "sub", "subway.txt"}
    assert by_path["sub"]["is_dir"] is True
    assert by_path["a.txt"]["size"] == 5
    assert by_path["a.txt"]["modified"].endswith("+00:00")


def test_ls_json_of_an_empty_folder_is_an_empty_array(cli: CliInvoker, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert json.loads(cli("ls", "--json", str(tmp_path / "empty")).stdout) == []


def test_ls_of_a_missing_path_fails_with_exit_code_1(cli: CliInvoker, tmp_path: Path) -> None:
    result = cli("ls", str(tmp_path / "nothing"), expect=1)
    assert "no such file or folder" in result.stderr


def test_ls_skips_names_outside_the_key_grammar_and_exits_1(
    cli: CliInvoker, tmp_path: Path
) -> None:
    folder = tmp_path / "foreign"
    folder.mkdir()
    (folder / "ok.txt").write_text("ok")
    (folder / "bad\\name").write_text("written by another tool")
    result = cli("ls", str(folder), expect=1)
    assert lines(result.stdout) == ["ok.txt"]
    assert "skipped 1 name(s) that are not valid keys" in result.stderr


def test_ls_lists_a_memory_store(cli: CliInvoker, space: tuple[str, Store]) -> None:
    url, store = space
    store.write("x/1.txt", b"1")
    store.write("x/2.txt", b"22")
    assert lines(cli("ls", "-R", f"{url}/x").stdout) == ["1.txt", "2.txt"]


def test_stat_of_a_file_shows_its_size_and_hashes(
    cli: CliInvoker, space: tuple[str, Store]
) -> None:
    url, store = space
    store.write("f.txt", b"hello")
    info = json.loads(cli("stat", "--json", f"{url}/f.txt").stdout)
    assert info["size"] == 5
    assert info["hashes"]["md5"] == "5d41402abc4b2a76b9719d911017c592"
    assert "hashes.md5: 5d41402abc4b2a76b9719d911017c592" in cli("stat", f"{url}/f.txt").stdout


def test_stat_of_a_folder_shows_its_totals(cli: CliInvoker, tree: Path) -> None:
    info = json.loads(cli("stat", "--json", str(tree / "sub")).stdout)
    assert (info["is_dir"], info["file_count"], info["total_size"]) == (True, 2, 262)


def test_stat_of_nothing_exits_1(cli: CliInvoker, tree: Path) -> None:
    cli("stat", str(tree / "nope"), expect=1)


def test_cat_writes_files_in_order(cli: CliInvoker, tree: Path) -> None:
    result = cli("cat", str(tree / "a.txt"), str(tree / "sub" / "b.txt"))
    assert result.stdout_bytes == b"alphabravo!"


def test_cat_keeps_binary_bytes_intact(cli: CliInvoker, tree: Path) -> None:
    assert cli("cat", str(tree / "sub" / "deep" / "c.bin")).stdout_bytes == bytes(range(256))


@pytest.mark.parametrize(("offset", "count"), [(0, 1), (10, 5), (250, 100), (300, 10), (0, 0)])
def test_cat_offset_and_count_select_a_byte_range(
    cli: CliInvoker, tree: Path, offset: int, count: int
) -> None:
    result = cli(
        "cat", "--offset", str(offset), "--count", str(count), str(tree / "sub/deep/c.bin")
    )
    assert result.stdout_bytes == bytes(range(256))[offset : offset + count]


def test_cat_reports_a_missing_file_writes_the_others_and_exits_1(
    cli: CliInvoker, tree: Path
) -> None:
    result = cli("cat", str(tree / "nope.txt"), str(tree / "a.txt"), expect=1)
    assert result.stdout_bytes == b"alpha"
    assert "nope.txt: no such file or folder" in result.stderr


def test_cat_of_a_folder_is_an_error(cli: CliInvoker, tree: Path) -> None:
    result = cli("cat", str(tree / "sub"), expect=1)
    assert "is a folder" in result.stderr


def test_rm_deletes_a_file(cli: CliInvoker, tree: Path) -> None:
    cli("rm", str(tree / "a.txt"))
    assert not (tree / "a.txt").exists()


def test_rm_refuses_a_folder_without_r(cli: CliInvoker, tree: Path) -> None:
    result = cli("rm", str(tree / "sub"), expect=1)
    assert "use rm -r" in result.stderr
    assert (tree / "sub" / "b.txt").exists()


def test_rm_r_deletes_a_folder_and_nothing_beside_it(cli: CliInvoker, tree: Path) -> None:
    cli("rm", "-r", str(tree / "sub"))
    assert not (tree / "sub").exists()
    assert (tree / "subway.txt").read_bytes() == b"not in sub"


def test_rm_of_a_missing_file_fails_unless_forced(cli: CliInvoker, tree: Path) -> None:
    cli("rm", str(tree / "gone.txt"), expect=1)
    cli("rm", "-f", str(tree / "gone.txt"))


def test_rm_goes_on_after_a_failure_and_exits_1(cli: CliInvoker, tree: Path) -> None:
    result = cli("rm", str(tree / "gone.txt"), str(tree / "a.txt"), expect=1)
    assert not (tree / "a.txt").exists()
    assert "1 of 2 deletion(s) failed" in result.stderr


def test_rm_r_on_a_memory_store_deletes_the_folder(
    cli: CliInvoker, space: tuple[str, Store]
) -> None:
    url, store = space
    store.write("d/1", b"1")
    store.write("d/e/2", b"2")
    store.write("keep", b"k")
    cli("rm", "-r", f"{url}/d")
    assert [info.path for info in store.list_files(recursive=True)] == ["keep"]


def test_nothing_is_written_to_the_working_directory(
    cli: CliInvoker, tree: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    cli("ls", "-R", str(tree))
    cli("cat", str(tree / "a.txt"))
    assert os.listdir(work) == []


@pytest.mark.parametrize("command", ["cat", "records cat"])
def test_a_reader_that_stops_early_is_no_error(
    isolation: Isolation, tmp_path: Path, command: str
) -> None:
    big = tmp_path / "big.ndjson"
    big.write_bytes(b'{"n": 1}\n' * 400_000)
    script = f"{sys.executable} -m omnistorage {command} {big} | head -n 1"
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script], capture_output=True, check=False
    )
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout.strip() in (b'{"n": 1}', b'{"n":1}')
