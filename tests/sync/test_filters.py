"""Filters: rclone's rule syntax, checked against rclone itself, plus sizes and ages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from omnistorage.sync import Filters
from tests.sync.conftest import rclone

TREE = [
    "a.txt",
    "b.jpg",
    "notes/readme.txt",
    "notes/img/x.jpg",
    "notes/img/y.png",
    "tmp/cache.bin",
    "tmp/deep/tmp/z.txt",
    "src/tmp/keep.txt",
    "src/main.py",
    "src/lib/util.py",
    "logs/2024/01/app.log",
    "logs/2024/02/app.log.gz",
    "x/a?b",
    "data/file[1].csv",
    "data/file2.csv",
    "Case/UPPER.TXT",
]

RULE_SETS = [
    ("+ *.txt", "- **"),
    ("- *.jpg",),
    ("- tmp/",),
    ("- /tmp/**",),
    ("+ /src/**", "- **"),
    ("- src/tmp/**", "+ src/**", "- **"),
    ("+ **/*.py", "- *"),
    ("+ *.{jpg,png}", "- **"),
    ("- logs/*/01/**",),
    ("+ logs/**/app.log*", "- **"),
    ("- x/a\\?b",),
    ("+ data/file[0-9].csv", "- **"),
    ("- ?.txt",),
    ("+ notes/", "- *.txt"),
    ("- *",),
    ("+ /a.txt", "- /*", "+ **"),
    ("- **/tmp/**",),
    ("+ {{.*\\.py}}", "- **"),
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("filter-tree")
    for path in TREE:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"x")
    return root


@pytest.mark.parametrize("rules", RULE_SETS, ids=lambda r: " | ".join(r))
def test_rules_select_the_files_rclone_selects(tree: Path, rules: tuple[str, ...]) -> None:
    args = ["lsf", "-R", "--files-only"]
    for rule in rules:
        args += ["--filter", rule]
    expected = sorted(line for line in rclone(*args, str(tree)).splitlines() if line)
    filters = Filters(rules=rules)
    assert sorted(p for p in TREE if filters.matches(p)) == expected


def test_rules_from_a_file_read_comments_and_reset(tree: Path, tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.txt"
    rules_file.write_text("# comment\n; another\n\n- *.jpg\n!\n+ *.txt\n- **\n")
    expected = sorted(
        line
        for line in rclone(
            "lsf", "-R", "--files-only", "--filter-from", str(rules_file), str(tree)
        ).splitlines()
        if line
    )
    filters = Filters.from_file(rules_file)
    assert sorted(p for p in TREE if filters.matches(p)) == expected


def test_include_implies_excluding_everything_else() -> None:
    filters = Filters.include("*.txt")
    assert filters.matches("a/b.txt")
    assert not filters.matches("a/b.jpg")


def test_exclude_keeps_everything_else() -> None:
    filters = Filters.exclude("*.tmp", "cache/")
    assert filters.matches("a/b.txt")
    assert not filters.matches("x.tmp")
    assert not filters.matches("deep/cache/file")


@pytest.mark.parametrize(
    "rule", ["*.txt", "+*.txt", "x *.txt", "+ ", "+ a]b", "+ a{b", "+ a***b", "+ [ab"]
)
def test_a_malformed_rule_is_a_value_error_naming_it(rule: str) -> None:
    with pytest.raises(ValueError, match=r"rule|glob|stars|mismatched"):
        Filters(rules=(rule,))


def test_a_malformed_rule_in_a_file_names_the_file_and_line(tmp_path: Path) -> None:
    rules_file = tmp_path / "bad.rules"
    rules_file.write_text("+ *.txt\noops\n")
    with pytest.raises(ValueError, match=r"bad\.rules, line 2"):
        Filters.from_file(rules_file)


def test_a_single_string_is_refused_as_rules() -> None:
    with pytest.raises(TypeError):
        Filters(rules="+ *.txt")  # type: ignore[arg-type]


def test_sizes_bound_the_files_and_an_unknown_size_passes() -> None:
    filters = Filters(min_size=10, max_size=100)
    assert not filters.matches("a", size=9)
    assert filters.matches("a", size=10)
    assert filters.matches("a", size=100)
    assert not filters.matches("a", size=101)
    assert filters.matches("a", size=None)


def test_ages_are_measured_from_now_and_an_unknown_mtime_passes() -> None:
    now = datetime(2024, 6, 1, tzinfo=UTC)
    filters = Filters(min_age=timedelta(days=1), max_age=timedelta(days=10))
    assert not filters.matches("a", modified=now - timedelta(hours=1), now=now)
    assert filters.matches("a", modified=now - timedelta(days=2), now=now)
    assert not filters.matches("a", modified=now - timedelta(days=11), now=now)
    assert filters.matches("a", modified=None, now=now)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_size": -1},
        {"min_size": 10, "max_size": 5},
        {"min_age": timedelta(days=2), "max_age": timedelta(days=1)},
    ],
)
def test_impossible_limits_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"min_size|larger"):
        Filters(**kwargs)  # type: ignore[arg-type]


def test_ignore_case_matches_regardless_of_case() -> None:
    assert Filters(rules=("- *.txt",), ignore_case=True).matches("Case/UPPER.TXT") is False
    assert Filters(rules=("- *.txt",)).matches("Case/UPPER.TXT") is True
