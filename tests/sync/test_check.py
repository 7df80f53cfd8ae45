"""check: match, differ, missing on either side and errors, as rclone check reports them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.ext import FaultInjectionLayer
from omnistorage.sync import Filters, check, sync
from tests.support.remote import sftp_store, wipe
from tests.sync.support import fill


@pytest.fixture
def seeded(src: Store, dst: Store) -> tuple[Store, Store]:
    fill(src, {"same": b"1", "differ": b"aaaa", "only-src": b"s", "d/same": b"d"})
    fill(dst, {"same": b"1", "differ": b"bbbb", "only-dst": b"t", "d/same": b"d"})
    return src, dst


def test_check_sorts_every_path_into_its_list(seeded: tuple[Store, Store]) -> None:
    report = check(*seeded)
    assert report.match == ["d/same", "same"]
    assert report.differ == ["differ"]
    assert report.missing_on_dst == ["only-src"]
    assert report.missing_on_src == ["only-dst"]
    assert not report.ok


def test_combined_lines_follow_rclone(seeded: tuple[Store, Store]) -> None:
    assert check(*seeded).combined() == [
        "= d/same",
        "* differ",
        "- only-dst",
        "+ only-src",
        "= same",
    ]


def test_one_way_ignores_files_only_on_the_destination(src: Store, dst: Store) -> None:
    fill(src, {"a": b"1"})
    fill(dst, {"a": b"1", "extra": b"x"})
    report = check(src, dst, one_way=True)
    assert report.ok
    assert report.missing_on_src == ["extra"]
    assert report.combined() == ["= a"]
    assert not check(src, dst).ok


def test_local_files_are_compared_by_hash(src: Store, dst: Store) -> None:
    fill(src, {"f": b"aaaa"})
    fill(dst, {"f": b"bbbb"})
    report = check(src, dst)
    assert report.differ == ["f"]
    assert report.compared_by == {"hash:sha256": 1}


def test_memory_stores_are_compared_by_their_listed_md5() -> None:
    a, b = Store(MemoryBackend()), Store(MemoryBackend())
    fill(a, {"f": b"x"})
    fill(b, {"f": b"x"})
    assert check(a, b).compared_by == {"hash:md5": 1}


@pytest.fixture
def sftp() -> Iterator[Store]:
    store = sftp_store()
    yield store
    wipe(store)


@pytest.mark.server
def test_without_a_shared_hash_sizes_compare_and_download_compares_bytes(
    src: Store, sftp: Store
) -> None:
    fill(src, {"f": b"aaaa"})
    fill(sftp, {"f": b"bbbb"})
    by_size = check(src, sftp)
    assert by_size.ok
    assert by_size.compared_by == {"size": 1}
    by_bytes = check(src, sftp, download=True)
    assert by_bytes.differ == ["f"]
    assert by_bytes.compared_by == {"download": 1}


def test_a_file_that_cannot_be_read_is_an_error_line(tmp_path: Path, dst: Store) -> None:
    layer = FaultInjectionLayer(LocalBackend(tmp_path / "s"))
    source = Store(layer)
    fill(source, {"f": b"1", "g": b"2"})
    sync(source, dst)
    layer.fail_nth("open_read", 1, times=None, temporary=False)
    report = check(source, dst, download=True)
    assert not report.ok
    assert sorted(report.combined()) == ["! f", "! g"]


def test_filters_limit_what_is_checked(seeded: tuple[Store, Store]) -> None:
    report = check(*seeded, filters=Filters.include("same", "d/**"))
    assert report.ok
    assert report.match == ["d/same", "same"]


def test_unknown_sizes_need_download(tmp_path: Path, dst: Store) -> None:
    from omnistorage.backends.sql import SQLQueryBackend

    db = tmp_path / "q.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.execute("INSERT INTO t VALUES (1)")
    source = Store(SQLQueryBackend(f"sqlite:///{db}", queries={"t.csv": "SELECT * FROM t"}))
    sync(source, dst)
    report = check(source, dst)
    assert [e.path for e in report.errors] == ["t.csv"]
    assert "download=True" in report.errors[0].error
    assert check(source, dst, download=True).ok
    source.close()
