"""``size`` and ``tree``: totals and a drawing of a folder, on any store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnistorage import open_store
from tests.cli.conftest import CliInvoker


@pytest.fixture
def tree_root(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "css").mkdir(parents=True)
    (root / "img" / "icons").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "index.html").write_bytes(b"x" * 1500)
    (root / "css" / "a.css").write_bytes(b"body{}")
    (root / "img" / "icons" / "i.png").write_bytes(b"\x89PNG" * 1024)
    return root


def test_size_counts_every_file_below(cli: CliInvoker, tree_root: Path) -> None:
    result = cli("size", str(tree_root))
    total = 1500 + 6 + 4096
    assert result.stdout == f"Total objects: 3\nTotal size: 5.471 KiB ({total} bytes)\n"
    document = json.loads(cli("size", "--json", str(tree_root)).stdout)
    assert (document["count"], document["bytes"], document["skipped"]) == (3, total, 0)
    assert json.loads(cli("size", "--json", str(tree_root / "css" / "a.css")).stdout)["bytes"] == 6


def test_size_of_nothing_exits_1(cli: CliInvoker, tmp_path: Path) -> None:
    result = cli("size", str(tmp_path / "nothing"), expect=1)
    assert "no such file or folder" in result.stderr


def test_size_counts_names_outside_the_grammar_and_exits_1(
    cli: CliInvoker, tree_root: Path
) -> None:
    (tree_root / "bad\\name").write_bytes(b"another tool")
    result = cli("size", str(tree_root), expect=1)
    assert result.stdout.startswith("Total objects: 3\n")
    assert "skipped 1 name(s)" in result.stderr


def test_tree_draws_folders_and_files_sorted(cli: CliInvoker, tree_root: Path) -> None:
    result = cli("tree", str(tree_root))
    assert result.stdout == (
        f"{tree_root}\n"
        "├── css/\n"
        "│   └── a.css\n"
        "├── empty/\n"
        "├── img/\n"
        "│   └── icons/\n"
        "│       └── i.png\n"
        "└── index.html\n"
        "\n"
        "4 folders, 3 files\n"
    )


def test_tree_levels_sizes_and_folders_only(cli: CliInvoker, tree_root: Path) -> None:
    assert cli("tree", "--level", "1", "-d", str(tree_root)).stdout == (
        f"{tree_root}\n├── css/\n├── empty/\n└── img/\n\n3 folders\n"
    )
    sized = cli("tree", "-s", str(tree_root / "css")).stdout
    assert "└── [         6]  a.css\n" in sized


def test_tree_of_a_store_without_directories_shows_the_folders_of_its_keys(cli: CliInvoker) -> None:
    store = open_store("memory://tree-test")
    try:
        store.write("logs/2024/a.log", b"a")
        store.write("logs/b.log", b"bb")
        lines = cli("tree", "memory://tree-test/logs").stdout.splitlines()
        assert lines[1:4] == ["├── 2024/", "│   └── a.log", "└── b.log"]
    finally:
        store.close()


def test_tree_of_a_file_is_a_usage_error(cli: CliInvoker, tree_root: Path) -> None:
    result = cli("tree", str(tree_root / "index.html"), expect=2)
    assert "is a file" in result.stderr
