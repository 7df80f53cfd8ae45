"""Overlap is judged by location: every way a user can open two stores on one place is
refused by sync, copy, move and bisync, and as backup_dir, before any I/O.

The ways: two ``open_store`` calls on local paths, ``file://`` URLs and named memory
spaces, a symlinked folder, a registry profile against a URL, a child store, a mirror
member, a composite tier, and (on the servers) two ``open_store`` calls on one S3 bucket.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from omnistorage import LocalBackend, MemoryBackend, Store, open_store
from omnistorage.composite import CompositeStore, Tier
from omnistorage.config import Registry, RegistryConfig
from omnistorage.multi import MirrorBackend
from omnistorage.sync import bisync, copy, copy_file, move, move_file, sync
from tests.support.servers import server_env
from tests.sync.support import contents, fill

Pair = Callable[[Path], tuple[Store, Store]]


def two_local_paths(tmp_path: Path) -> tuple[Store, Store]:
    return open_store(str(tmp_path / "data")), open_store(str(tmp_path / "data" / "mirror"))


def file_urls(tmp_path: Path) -> tuple[Store, Store]:
    return open_store(f"file://{tmp_path}/data/"), open_store(f"file://{tmp_path}/data/mirror/")


def named_memory(tmp_path: Path) -> tuple[Store, Store]:
    space = f"overlap-{tmp_path.name}"
    return open_store(f"memory://{space}/data"), open_store(f"memory://{space}/data/mirror")


def symlinked(tmp_path: Path) -> tuple[Store, Store]:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "alias").symlink_to(tmp_path / "data")
    return Store(LocalBackend(tmp_path / "data")), Store(LocalBackend(tmp_path / "alias/mirror"))


def profile(tmp_path: Path) -> tuple[Store, Store]:
    config = RegistryConfig.from_dict(
        {
            "backends": {"disk": {"type": "local", "options": {"root": str(tmp_path)}}},
            "stores": {"mirror": {"backend": "disk", "root_path": "data/mirror"}},
        }
    )
    return open_store(str(tmp_path / "data")), Registry(config).store("mirror")


def child(tmp_path: Path) -> tuple[Store, Store]:
    data = Store(LocalBackend(tmp_path / "data"))
    return data, data.child("mirror")


def mirror_member(tmp_path: Path) -> tuple[Store, Store]:
    member = Store(LocalBackend(tmp_path / "data"))
    other = Store(MemoryBackend())
    return Store(MirrorBackend([Store(LocalBackend(tmp_path / "data")), other])), member.child(
        "mirror"
    )


def composite_tier(tmp_path: Path) -> tuple[Store, Store]:
    tiers = CompositeStore(
        [Tier("hot", Store(MemoryBackend())), Tier("cold", open_store(str(tmp_path / "data")))]
    )
    return tiers, open_store(str(tmp_path / "data" / "mirror"))


WAYS: list[Pair] = [
    two_local_paths,
    file_urls,
    named_memory,
    symlinked,
    profile,
    child,
    mirror_member,
    composite_tier,
]


@pytest.mark.parametrize("way", WAYS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("operation", ["sync", "copy", "move"])
def test_a_store_inside_the_other_is_refused_before_any_io(
    way: Pair, operation: str, tmp_path: Path
) -> None:
    outer, inner = way(tmp_path)
    fill(outer, {"keep.txt": b"k"})
    before = contents(outer)
    run = {"sync": sync, "copy": copy, "move": move}[operation]
    for src, dst in ((outer, inner), (inner, outer)):
        with pytest.raises(ValueError, match="overlap"):
            run(src, dst)
    assert contents(outer) == before


@pytest.mark.parametrize("way", WAYS, ids=lambda f: f.__name__)
def test_bisync_refuses_overlapping_paths(way: Pair, tmp_path: Path) -> None:
    outer, inner = way(tmp_path)
    with pytest.raises(ValueError, match="overlap"):
        bisync(outer, inner, state=tmp_path / "state")


@pytest.mark.parametrize("way", WAYS, ids=lambda f: f.__name__)
def test_a_backup_dir_opened_separately_inside_the_destination_is_refused(
    way: Pair, tmp_path: Path
) -> None:
    destination, backup = way(tmp_path)
    src = Store(MemoryBackend())
    fill(src, {"a": b"1"})
    with pytest.raises(ValueError, match="backup_dir"):
        sync(src, destination, backup_dir=backup)
    with pytest.raises(ValueError, match="backup_dir"):
        sync(backup, Store(MemoryBackend()), backup_dir=destination)


@pytest.mark.server
def test_two_open_store_calls_on_one_s3_bucket_overlap() -> None:
    from tests.support.remote import _s3_bucket

    env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
    query = (
        f"?endpoint_url={env['OMNI_TEST_S3_ENDPOINT']}&region={env['OMNI_TEST_S3_REGION']}"
        "&access_key_id=testing&secret_access_key=testing"
    )
    bucket = _s3_bucket()
    data = open_store(f"s3://{bucket}/overlap-data{query}")
    mirror = open_store(f"s3://{bucket}/overlap-data/mirror{query}")
    assert data.unwrap() is not mirror.unwrap()
    with pytest.raises(ValueError, match="overlap"):
        sync(data, mirror)
    with pytest.raises(ValueError, match="backup_dir"):
        sync(Store(MemoryBackend()), data, backup_dir=mirror)
    data.close()
    mirror.close()


@pytest.mark.parametrize("way", WAYS, ids=lambda f: f.__name__)
def test_copy_file_onto_itself_through_another_handle_is_refused(way: Pair, tmp_path: Path) -> None:
    outer, inner = way(tmp_path)
    fill(inner, {"f.txt": b"only copy"})
    for op in (copy_file, move_file):
        with pytest.raises(ValueError, match="same file"):
            op(outer, "mirror/f.txt", inner, "f.txt")
    assert inner.read_bytes("f.txt") == b"only copy"
