"""cp, mv, put and get: any store to any store, atomic, create-only on request."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from omnistorage import Store, open_store
from tests.cli.conftest import CliInvoker, ProcessRunner


@pytest.fixture
def space(request: pytest.FixtureRequest) -> Iterator[tuple[str, Store]]:
    name = f"copy-{abs(hash(request.node.nodeid))}"
    store = open_store(f"memory://{name}")
    yield f"memory://{name}", store
    store.close()


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"alpha")
    (folder / "b.txt").write_bytes(b"bravo")
    return folder


def test_cp_copies_a_file_to_a_new_name(cli: CliInvoker, files: Path, tmp_path: Path) -> None:
    cli("cp", str(files / "a.txt"), str(tmp_path / "out" / "copy.txt"))
    assert (tmp_path / "out" / "copy.txt").read_bytes() == b"alpha"


def test_cp_into_an_existing_folder_keeps_the_name(
    cli: CliInvoker, files: Path, tmp_path: Path
) -> None:
    (tmp_path / "dest").mkdir()
    cli("cp", str(files / "a.txt"), str(tmp_path / "dest"))
    assert (tmp_path / "dest" / "a.txt").read_bytes() == b"alpha"


def test_cp_to_a_trailing_slash_makes_the_folder(
    cli: CliInvoker, files: Path, tmp_path: Path
) -> None:
    cli("cp", str(files / "a.txt"), str(tmp_path / "new") + "/")
    assert (tmp_path / "new" / "a.txt").read_bytes() == b"alpha"


def test_cp_with_several_sources_copies_each_into_the_folder(
    cli: CliInvoker, files: Path, space: tuple[str, Store]
) -> None:
    url, store = space
    cli("cp", str(files / "a.txt"), str(files / "b.txt"), f"{url}/inbox")
    assert store.read_bytes("inbox/a.txt") == b"alpha"
    assert store.read_bytes("inbox/b.txt") == b"bravo"


def test_cp_overwrites_by_default(cli: CliInvoker, files: Path) -> None:
    cli("cp", str(files / "a.txt"), str(files / "b.txt"))
    assert (files / "b.txt").read_bytes() == b"alpha"


def test_cp_no_clobber_refuses_an_existing_file_and_changes_nothing(
    cli: CliInvoker, files: Path
) -> None:
    result = cli("cp", "-n", str(files / "a.txt"), str(files / "b.txt"), expect=1)
    assert (files / "b.txt").read_bytes() == b"bravo"
    assert "b.txt" in result.stderr


def test_cp_from_a_memory_store_to_a_local_file(
    cli: CliInvoker, space: tuple[str, Store], tmp_path: Path
) -> None:
    url, store = space
    store.write("deep/x.bin", os.urandom(3 << 20))
    cli("cp", f"{url}/deep/x.bin", str(tmp_path / "x.bin"))
    assert (tmp_path / "x.bin").read_bytes() == store.read_bytes("deep/x.bin")


def test_cp_keeps_the_modification_time_where_the_destination_can(
    cli: CliInvoker, files: Path, space: tuple[str, Store]
) -> None:
    url, store = space
    moment = datetime(2020, 5, 17, 12, 30, tzinfo=UTC).timestamp()
    os.utime(files / "a.txt", (moment, moment))
    cli("cp", str(files / "a.txt"), f"{url}/a.txt")
    modified = store.get_file_info("a.txt").modified
    assert modified is not None
    assert modified.timestamp() == pytest.approx(moment)


def test_cp_within_one_store_is_server_side(cli: CliInvoker, space: tuple[str, Store]) -> None:
    url, store = space
    store.write("a/x", b"x")
    report = json.loads(cli("cp", "--json", f"{url}/a/x", f"{url}/b/y").stdout)
    assert report["copied"][0]["server_side"] is True
    assert store.read_bytes("b/y") == b"x"


def test_cp_json_reports_every_file_and_its_bytes(
    cli: CliInvoker, files: Path, tmp_path: Path
) -> None:
    report = json.loads(
        cli("cp", "--json", "--bwlimit", "1G", str(files / "a.txt"), str(tmp_path / "z")).stdout
    )
    assert report["ok"] is True
    assert report["bytes"] == 5
    assert report["copied"][0]["server_side"] is False  # a bandwidth limit always streams


def test_cp_of_a_missing_source_copies_the_rest_and_exits_1(
    cli: CliInvoker, files: Path, tmp_path: Path
) -> None:
    (tmp_path / "d").mkdir()
    result = cli("cp", str(files / "nope"), str(files / "a.txt"), str(tmp_path / "d"), expect=1)
    assert (tmp_path / "d" / "a.txt").exists()
    assert "no such file" in result.stderr


def test_cp_of_a_folder_points_at_the_tree_command(
    cli: CliInvoker, files: Path, tmp_path: Path
) -> None:
    result = cli("cp", str(files), str(tmp_path / "x"), expect=2)
    assert "omnistorage copy" in result.stderr


def test_mv_within_a_local_disk_is_a_rename(cli: CliInvoker, files: Path, tmp_path: Path) -> None:
    inode = (files / "a.txt").stat().st_ino
    report = json.loads(cli("mv", "--json", str(files / "a.txt"), str(tmp_path / "m.txt")).stdout)
    assert report["moved"][0]["server_side"] is True
    assert (tmp_path / "m.txt").stat().st_ino == inode
    assert not (files / "a.txt").exists()


def test_mv_across_stores_deletes_the_source_after_the_copy(
    cli: CliInvoker, files: Path, space: tuple[str, Store]
) -> None:
    url, store = space
    cli("mv", str(files / "a.txt"), f"{url}/a.txt")
    assert store.read_bytes("a.txt") == b"alpha"
    assert not (files / "a.txt").exists()


def test_mv_no_clobber_keeps_the_source_when_the_target_exists(
    cli: CliInvoker, files: Path, space: tuple[str, Store]
) -> None:
    url, store = space
    store.write("a.txt", b"already")
    cli("mv", "-n", str(files / "a.txt"), f"{url}/a.txt", expect=1)
    assert (files / "a.txt").read_bytes() == b"alpha"
    assert store.read_bytes("a.txt") == b"already"


def test_put_uploads_stdin_when_it_ends(cli: CliInvoker, space: tuple[str, Store]) -> None:
    url, store = space
    cli("put", "-", f"{url}/from-stdin.txt", input=b"piped bytes")
    assert store.read_bytes("from-stdin.txt") == b"piped bytes"


def test_put_from_stdin_needs_a_file_name(cli: CliInvoker, space: tuple[str, Store]) -> None:
    url, _ = space
    result = cli("put", "-", f"{url}/folder/", input=b"x", expect=2)
    assert "needs a destination file name" in result.stderr


def test_put_uploads_a_local_file(cli: CliInvoker, files: Path, space: tuple[str, Store]) -> None:
    url, store = space
    cli("put", str(files / "b.txt"), f"{url}/up/")
    assert store.read_bytes("up/b.txt") == b"bravo"


def test_put_refuses_a_remote_source(cli: CliInvoker, space: tuple[str, Store]) -> None:
    url, _ = space
    cli("put", f"{url}/x", f"{url}/y", expect=2)


def test_get_downloads_into_the_working_directory(
    cli: CliInvoker, space: tuple[str, Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, store = space
    store.write("r/report.csv", b"a,b\n")
    monkeypatch.chdir(tmp_path)
    cli("get", f"{url}/r/report.csv")
    assert (tmp_path / "report.csv").read_bytes() == b"a,b\n"


def test_get_to_dash_writes_stdout(cli: CliInvoker, space: tuple[str, Store]) -> None:
    url, store = space
    store.write("data.json", b'{"k": 1}')
    assert cli("get", f"{url}/data.json", "-").stdout_bytes == b'{"k": 1}'


def test_a_memory_destination_warns_that_it_vanishes_with_the_process(
    run: ProcessRunner, files: Path
) -> None:
    result = run("cp", str(files / "a.txt"), "memory://gone/a.txt")
    assert b"memory:// stores live inside this process only" in result.stderr


def test_a_memory_store_is_empty_in_a_new_process(run: ProcessRunner) -> None:
    result = run("ls", "-R", "memory://fresh")
    assert result.stdout == b""
