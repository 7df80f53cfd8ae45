"""Working beside rclone on one bucket (issue 26, item 1), against rclone 1.60 itself.

A bucket written by our sync is one rclone's sync leaves alone, and the other way
round, up (local -> S3) and down (S3 -> local): mtimes travel in nanoseconds, in
rclone's exact ``mtime`` format, so neither tool finds a time "differing by 150ns" and
rewrites every object. A no-op is checked from rclone's JSON log: no transfer, delete or
rename in its stats, and no message about any object (rclone's server-side copy that
only updates an S3 mtime is counted nowhere in its stats, only logged per object)."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnistorage import LocalBackend, Store
from omnistorage.sync import sync
from tests.support.remote import s3_store, wipe
from tests.sync.conftest import rclone_log
from tests.sync.support import fill
from tests.sync.test_rclone_oracle import moto_env, remote

pytestmark = pytest.mark.server

_rnd = random.Random(26)
TREE = {
    "a.txt": b"alpha\n",
    "empty": b"",
    "dir/b.bin": _rnd.randbytes(70_000),
    "dir/sub/c.csv": b"x,y\n1,2\n",
    "unicode/é-ñ.txt": "héllo".encode(),
    "spaces in/name.txt": b"spaced",
    "big/multipart.bin": _rnd.randbytes(12 << 20),  # above both tools' part sizes below
}
# The time (microseconds would round it up by 150 ns), whole seconds, trailing
# zeros, one nanosecond past a second, before 2001 (nine digits of seconds), and random
# nanoseconds.
STAMPS = [
    1_795_441_226_342_743_850,
    1_614_834_367_000_000_000,
    1_614_834_367_120_000_000,
    1_700_000_000_000_000_001,
    978_307_199_999_999_999,
    *(_rnd.randrange(10**18, 2 * 10**18) for _ in TREE),
]
RCLONE_PARTS = ("--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M")  # rclone multipart too


@pytest.fixture
def s3() -> Iterator[Store]:
    store = s3_store()
    yield store
    wipe(store)


def make_tree(store: Store) -> dict[str, int]:
    """The tree, each file with its own nanosecond mtime; returns the mtimes."""
    fill(store, TREE)
    stamps = dict(zip(sorted(TREE), STAMPS, strict=False))
    for path, stamp in stamps.items():
        os.utime(store.native_path(path), ns=(stamp, stamp))
    return stamps


def local_mtimes(store: Store) -> dict[str, int | None]:
    return {info.path: info.modified_ns for info in store.list_files(recursive=True)}


def objects(store: Store) -> dict[str, tuple[str | None, object]]:
    """ETag and upload time of every object: they change when anything rewrites one."""
    return {i.path: (i.etag, i.modified_ns) for i in store.list_files(recursive=True)}


def assert_rclone_did_nothing(log: list[dict[str, object]]) -> None:
    stats = [r["stats"] for r in log if "stats" in r][-1]
    assert isinstance(stats, dict)
    assert (stats["transfers"], stats["deletes"], stats["renames"], stats["errors"]) == (
        0,
        0,
        0,
        0,
    )
    assert stats["checks"] == len(TREE)
    acted = [(r["object"], r["msg"]) for r in log if r.get("object")]
    assert acted == []  # e.g. ("a.txt", "Updated modification time in destination")


def assert_we_did_nothing(report: object) -> None:
    assert getattr(report, "ok", False), getattr(report, "errors", None)
    assert report.counts == dict.fromkeys(  # type: ignore[attr-defined]
        ("copied", "updated", "deleted", "moved", "renamed"), 0
    )


def test_rclone_leaves_our_upload_alone_and_writes_the_same_mtime_text(
    src: Store, s3: Store
) -> None:
    stamps = make_tree(src)
    assert sync(src, s3).ok
    before = objects(s3)
    assert_rclone_did_nothing(
        rclone_log("sync", src.native_path(""), remote(s3), *RCLONE_PARTS, env=moto_env())
    )
    assert objects(s3) == before
    # rclone's own upload of the same files carries the very same mtime text.
    theirs = s3.child("by-rclone")
    rclone_log("copy", src.native_path(""), remote(theirs), *RCLONE_PARTS, env=moto_env())
    for path in stamps:
        ours_text = s3.get_file_info(path).metadata["mtime"]
        assert ours_text == theirs.get_file_info(path).metadata["mtime"], path


def test_we_leave_rclones_upload_alone(src: Store, s3: Store) -> None:
    make_tree(src)
    rclone_log("sync", src.native_path(""), remote(s3), *RCLONE_PARTS, env=moto_env())
    before = objects(s3)
    assert s3.get_file_info("big/multipart.bin").etag.endswith("-3")  # type: ignore[union-attr]
    assert_we_did_nothing(sync(src, s3))
    assert objects(s3) == before


def test_rclone_leaves_our_download_alone(src: Store, s3: Store, tmp_path: Path) -> None:
    stamps = make_tree(src)
    rclone_log("sync", src.native_path(""), remote(s3), *RCLONE_PARTS, env=moto_env())
    back = Store(LocalBackend(tmp_path / "ours-down"))
    report = sync(s3, back)
    assert report.ok, report.errors
    assert report.counts["copied"] == len(TREE)
    assert local_mtimes(back) == stamps  # to the nanosecond
    assert_rclone_did_nothing(rclone_log("sync", remote(s3), back.native_path(""), env=moto_env()))
    assert local_mtimes(back) == stamps


def test_we_leave_rclones_download_alone(src: Store, s3: Store, tmp_path: Path) -> None:
    stamps = make_tree(src)
    assert sync(src, s3).ok
    back = Store(LocalBackend(tmp_path / "rclone-down"))
    rclone_log("sync", remote(s3), back.native_path(""), env=moto_env())
    assert local_mtimes(back) == stamps  # rclone read our nanoseconds
    assert_we_did_nothing(sync(s3, back))
    assert local_mtimes(back) == stamps
