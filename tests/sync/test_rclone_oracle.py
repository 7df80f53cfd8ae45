"""rclone as an independent oracle: it finds no difference after our sync, agrees with our
check on seeded differences, and reads (and writes) the S3 metadata we write (and read)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnistorage import LocalBackend, Store
from omnistorage.sync import check, sync
from tests.support.remote import s3_store, wipe
from tests.support.servers import server_env
from tests.sync.conftest import rclone
from tests.sync.support import fill

pytestmark = pytest.mark.server

TREE = {
    "a.txt": b"alpha\n",
    "empty": b"",
    "dir/b.bin": os.urandom(70_000),
    "dir/sub/c.csv": b"x,y\n1,2\n",
    "dir/sub/deeper/d": os.urandom(3_000),
    "unicode/é-ñ.txt": "héllo".encode(),
    "spaces in/name.txt": b"spaced",
}
BIG = "big/multipart.bin"  # above the single-PUT cutoff: uploaded in parts, no MD5 ETag


@pytest.fixture
def s3() -> Iterator[Store]:
    # 5 MiB parts, one in flight: a known size over 10 MiB goes up in parts.
    store = s3_store(part_size=5 << 20, max_concurrency=1)
    yield store
    wipe(store)


def moto_env() -> dict[str, str]:
    env = server_env("OMNI_TEST_S3_ENDPOINT")
    return {
        "RCLONE_CONFIG_MOTO_TYPE": "s3",
        "RCLONE_CONFIG_MOTO_PROVIDER": "Other",
        "RCLONE_CONFIG_MOTO_ENDPOINT": env["OMNI_TEST_S3_ENDPOINT"],
        "RCLONE_CONFIG_MOTO_ACCESS_KEY_ID": "testing",
        "RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY": "testing",
        "RCLONE_CONFIG_MOTO_REGION": "us-east-1",
        "RCLONE_CONFIG_MOTO_FORCE_PATH_STYLE": "true",
    }


def remote(store: Store) -> str:
    """rclone's name for an S3 store of the test server."""
    return "moto:" + store.native_path("").removeprefix("s3://")


def combined(*args: str, env: dict[str, str] | None = None) -> list[str]:
    out = rclone("check", *args, "--combined", "-", env=env, check=False)
    return sorted(line for line in out.splitlines() if line.strip())


def test_rclone_finds_no_difference_after_a_local_sync(src: Store, dst: Store) -> None:
    fill(src, TREE)
    assert sync(src, dst).ok
    out = combined(src.native_path(""), dst.native_path(""))
    assert out == sorted(f"= {p}" for p in TREE)


def test_rclone_finds_no_difference_after_a_sync_to_s3(src: Store, s3: Store) -> None:
    fill(src, {**TREE, BIG: os.urandom(12 << 20)})
    assert sync(src, s3).ok
    assert s3.get_file_info(BIG).etag.endswith("-3")  # type: ignore[union-attr]
    out = combined(src.native_path(""), remote(s3), env=moto_env())
    assert out == sorted(f"= {p}" for p in [*TREE, BIG])


def seed_differences(a: Store, b: Store) -> None:
    fill(a, {"same": b"same", "diff-size": b"1234", "diff-same-size": b"aaaa", "only-a": b"a"})
    fill(b, {"same": b"same", "diff-size": b"12345", "diff-same-size": b"bbbb", "only-b": b"b"})
    fill(a, {"sub/same": b"s", "sub/only-a": b"x"})
    fill(b, {"sub/same": b"s"})


def test_our_check_agrees_with_rclone_check_between_local_folders(src: Store, dst: Store) -> None:
    seed_differences(src, dst)
    ours = check(src, dst)
    assert sorted(ours.combined()) == combined(src.native_path(""), dst.native_path(""))
    assert not ours.ok
    one_way = check(src, dst, one_way=True)
    assert sorted(one_way.combined()) == combined(
        src.native_path(""), dst.native_path(""), "--one-way"
    )


def test_our_check_agrees_with_rclone_check_between_local_and_s3(src: Store, s3: Store) -> None:
    seed_differences(src, s3)
    fill(src, {BIG: b"m" * (12 << 20)})
    assert sync(src, s3, filters=None, compare="size").ok  # uploads BIG (multipart)
    fill(src, {"diff-size": b"1234", "diff-same-size": b"aaaa"})
    s3.write("diff-size", b"12345", overwrite=True)
    s3.write("diff-same-size", b"bbbb", overwrite=True)
    s3.write("only-b", b"b", overwrite=True)
    s3.delete("only-a", missing_ok=True)
    s3.delete("sub/only-a", missing_ok=True)
    ours = check(src, s3)
    theirs = combined(src.native_path(""), remote(s3), env=moto_env())
    assert sorted(ours.combined()) == theirs
    assert "= " + BIG in theirs


def test_rclone_reads_the_mtime_we_keep_on_s3(src: Store, s3: Store) -> None:
    fill(src, {"t.txt": b"time"})
    stamp_ns = 1_614_834_367_123_456_000
    os.utime(src.native_path("t.txt"), ns=(stamp_ns, stamp_ns))
    assert sync(src, s3).ok
    listing = rclone("lsl", remote(s3), env=moto_env())
    assert "2021-03-04 05:06:07.123456000 t.txt" in listing


def test_we_skip_what_rclone_uploaded_and_keep_its_mtimes(
    src: Store, s3: Store, tmp_path: Path
) -> None:
    fill(src, {**TREE, BIG: os.urandom(12 << 20)})
    stamp_ns = 1_614_834_367_123_456_789
    for path in [*TREE, BIG]:
        os.utime(src.native_path(path), ns=(stamp_ns, stamp_ns))
    rclone(
        "copy",
        src.native_path(""),
        remote(s3),
        "--s3-upload-cutoff",
        "5M",
        "--s3-chunk-size",
        "5M",
        env=moto_env(),
    )
    assert "md5chksum" in s3.get_file_info(BIG).metadata
    again = sync(src, s3)
    assert again.ok
    assert again.counts["copied"] == again.counts["updated"] == 0
    back = Store(LocalBackend(tmp_path / "back"))
    assert sync(s3, back).ok
    assert back.get_file_info(BIG).modified == src.get_file_info(BIG).modified
    assert sync(s3, back).counts["updated"] == 0
