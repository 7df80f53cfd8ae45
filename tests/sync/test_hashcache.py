"""The local hash cache: a file is hashed once, until it changes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

import pytest

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.driver import Backend
from omnistorage.errors import CapabilityNotSupported
from omnistorage.ext import FaultInjectionLayer, Layer
from omnistorage.sync import sync
from omnistorage.sync._hashcache import FileId, HashCache, default_cache_path
from tests.sync.support import fill

T = TypeVar("T")


def test_a_cached_hash_serves_only_the_same_file_version(tmp_path: Path) -> None:
    cache = HashCache(tmp_path / "h.sqlite3")
    ident = FileId("file:///data\na.txt", "1:2:3:4:5", 5, 7)
    cache.put(ident, "md5", "abc")
    assert cache.get(ident, "md5") == "abc"
    assert cache.get(ident._replace(token="1:2:3:9:5"), "md5") is None
    assert cache.get(ident._replace(scope="file:///data\nb.txt"), "md5") is None
    assert cache.get(ident, "sha256") is None
    cache.put(ident._replace(token=None), "md5", "never kept")  # no strong version: no cache
    assert cache.get(ident._replace(token=None), "md5") is None
    assert cache.get(ident, "md5") == "abc"
    cache.close()


class AcmeDisk(Layer):
    """A third-party backend over local files: another name, no way to unwrap it to a
    LocalBackend; it declares the same facts (reads_local, strong_version)."""

    name = "acme-disk"

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.name = "acme-disk"

    def as_native(self, kind: type[T]) -> T | None:
        return self if isinstance(self, kind) else None


def test_a_third_party_local_backend_is_hashed_once_like_local_files(tmp_path: Path) -> None:
    faults = FaultInjectionLayer(LocalBackend(tmp_path / "acme"))
    source = Store(AcmeDisk(faults))
    with pytest.raises(CapabilityNotSupported):
        source.unwrap(LocalBackend)
    fill(source, {"a": b"a" * 1000, "b": b"b" * 2000})
    mirror = Store(MemoryBackend())
    assert sync(source, mirror, compare="checksum").ok
    faults.fail_nth("open_read", 1, times=None, temporary=False)  # no more reads allowed
    again = sync(source, mirror, compare="checksum")
    assert again.ok, again.errors
    assert again.skipped == {"same checksum": 2}


def local_with_faults(tmp_path: Path) -> tuple[FaultInjectionLayer, Store]:
    layer = FaultInjectionLayer(LocalBackend(tmp_path / "hashed"))
    return layer, Store(layer)


def test_checksum_mode_reads_a_local_file_once_across_runs(tmp_path: Path) -> None:
    layer, source = local_with_faults(tmp_path)
    fill(source, {"a": b"a" * 1000, "b": b"b" * 2000})
    mirror = Store(MemoryBackend())
    assert sync(source, mirror, compare="checksum").ok
    layer.fail_nth("open_read", 1, times=None, temporary=False)  # no more reads allowed
    again = sync(source, mirror, compare="checksum")
    assert again.ok, again.errors
    assert again.skipped == {"same checksum": 2}


def test_a_rewrite_with_the_old_mtime_is_hashed_again(tmp_path: Path) -> None:
    _, source = local_with_faults(tmp_path)
    fill(source, {"a": b"1234"})
    mirror = Store(MemoryBackend())
    sync(source, mirror, compare="checksum")
    path = source.native_path("a")
    stamp = os.stat(path).st_mtime_ns
    with open(path, "r+b") as handle:
        handle.write(b"5678")
    os.utime(path, ns=(stamp, stamp))
    report = sync(source, mirror, compare="checksum")
    assert report.updated == ["a"]
    assert mirror.read_bytes("a") == b"5678"


def test_the_cache_goes_where_the_option_says(tmp_path: Path, src: Store) -> None:
    fill(src, {"a": b"x"})
    target = tmp_path / "elsewhere" / "hashes.db"
    sync(src, Store(MemoryBackend()), compare="checksum", hash_cache=target)
    assert target.exists()
    assert not os.path.exists(default_cache_path())


def test_the_default_cache_lives_in_the_user_cache_folder(src: Store) -> None:
    fill(src, {"a": b"x"})
    sync(src, Store(MemoryBackend()), compare="checksum")
    assert os.path.exists(default_cache_path())
    assert os.environ["XDG_CACHE_HOME"] in default_cache_path()
    assert not any(".sqlite3" in info.path for info in src.list_files(recursive=True))


def test_no_cache_keeps_nothing_on_disk(src: Store) -> None:
    fill(src, {"a": b"x"})
    assert sync(src, Store(MemoryBackend()), compare="checksum", hash_cache=False).ok
    assert not os.path.exists(default_cache_path())


def test_an_unusable_cache_location_only_costs_rehashing(tmp_path: Path, src: Store) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    fill(src, {"a": b"x"})
    report = sync(src, Store(MemoryBackend()), compare="checksum", hash_cache=blocker / "x.db")
    assert report.ok


def test_a_sync_that_needs_no_local_hash_creates_no_cache(src: Store, dst: Store) -> None:
    fill(src, {"a": b"x"})
    assert sync(src, dst).ok
    assert sync(src, dst).ok
    assert not os.path.exists(default_cache_path())
