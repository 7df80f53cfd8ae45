"""ReadCacheLayer never serves a stale copy: it caches only under a strong version token
and files each copy under the version its pin holds. Size + mtime is not a version: a
same-size rewrite with the same modification time (local, by another program) or within
one second (SFTP) used to be served from the cache, ``read_range`` included.

Every backend declaring a strong version is cached and checked against the real server;
every other one passes straight through and its cache stays empty."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from omnistorage import Capability, ChangedDuringRead, LocalBackend, MemoryBackend, Store
from omnistorage.driver import PinnedReader
from omnistorage.ext import ReadCacheLayer
from omnistorage.ext._layer import Layer
from tests.support import remote

SIZE = 300_000
V1 = bytes(range(256)) * (SIZE // 256) + b"1" * (SIZE % 256)
V2 = bytes(reversed(range(256))) * (SIZE // 256) + b"2" * (SIZE % 256)
WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def _cached(store: Store, cache_dir: Path) -> tuple[Store, ReadCacheLayer]:
    layer = ReadCacheLayer(store.unwrap(), cache_dir, max_bytes=64 << 20)
    return Store(layer, store.root), layer


def _sqlite(tmp_path: Path, **options: Any) -> Store:
    from omnistorage.backends.sql import SQLBlobBackend

    return Store(SQLBlobBackend(f"sqlite:///{tmp_path}/c.db", **options))


def _postgres(tmp_path: Path) -> Store:
    import uuid

    from omnistorage.backends.sql import SQLBlobBackend
    from tests.support.servers import server_env

    url = server_env("OMNI_TEST_POSTGRES_URL")["OMNI_TEST_POSTGRES_URL"]
    return Store(SQLBlobBackend(url, table_prefix=f"c{uuid.uuid4().hex[:10]}", chunk_size=65536))


STRONG: dict[str, Callable[[Path], Store]] = {
    "memory": lambda tmp: Store(MemoryBackend()),
    "local": lambda tmp: Store(LocalBackend(tmp / "data")),
    "sql-sqlite": lambda tmp: _sqlite(tmp, chunk_size=65536),
    "s3": lambda tmp: remote.s3_store(),
    "gcs": lambda tmp: remote.gcs_store(),
    "azure": lambda tmp: remote.azure_store(),
    "sql-postgresql": _postgres,
}
SERVERS = {"s3", "gcs", "azure", "sql-postgresql"}


@pytest.fixture(params=sorted(STRONG))
def strong(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param in SERVERS:
        request.applymarker(pytest.mark.server)
    store = STRONG[request.param](tmp_path)
    yield store
    remote.wipe(store)


def _reads(store: Store) -> dict[str, bytes]:
    with store.read_seekable("v.bin") as reader:
        reader.seek(SIZE // 2)
        seek = reader.read(1000)
    return {
        "read_bytes": store.read_bytes("v.bin"),
        "read_range": store.read_range("v.bin", 1000, 5000),
        "read_seekable": seek,
    }


def _expect(data: bytes) -> dict[str, bytes]:
    return {
        "read_bytes": data,
        "read_range": data[1000:6000],
        "read_seekable": data[SIZE // 2 : SIZE // 2 + 1000],
    }


def test_strong_backends_are_cached_and_an_overwrite_is_never_served_stale(
    strong: Store, tmp_path: Path
) -> None:
    """Same size, and the same modification time where it can be set: only the version
    token tells the two apart."""
    cached, layer = _cached(strong, tmp_path / "cache")
    assert layer.caching
    when = {"modified": WHEN} if strong.supports(Capability.SET_MOD_TIME) else {}
    strong.write("v.bin", V1, **when)  # type: ignore[arg-type]
    assert _reads(cached) == _expect(V1)
    assert layer.misses == 1
    assert layer.hits >= 2
    strong.write("v.bin", V2, overwrite=True, **when)  # type: ignore[arg-type]
    assert _reads(cached) == _expect(V2)
    assert layer.misses == 2
    assert layer.cache_size() == 2 * SIZE


def test_a_same_size_rewrite_in_place_with_the_old_mtime_is_seen(tmp_path: Path) -> None:
    """Another program rewrites a local file in place and sets its old mtime back."""
    source = Store(LocalBackend(tmp_path / "data"))
    cached, layer = _cached(source, tmp_path / "cache")
    source.write("v.bin", V1)
    path = tmp_path / "data" / "v.bin"
    stamp = path.stat().st_mtime_ns
    assert _reads(cached) == _expect(V1)
    with open(path, "r+b") as handle:  # the same inode, the same size
        handle.write(V2)
    os.utime(path, ns=(stamp, stamp))
    assert path.stat().st_mtime_ns == stamp
    assert _reads(cached) == _expect(V2)
    assert layer.misses == 2


# ------------------------------------------------------------------ no strong version


def _sftp(tmp: Path) -> Store:
    return remote.sftp_store()


WEAK: dict[str, Callable[[Path], Store]] = {
    "sftp": _sftp,
    "sql-single-row": lambda tmp: _single_row(tmp),
}


def _single_row(tmp: Path) -> Store:
    from sqlalchemy import create_engine, text

    from omnistorage.backends.sql import SQLBlobBackend
    from tests.backends.test_sql_blob import SEED_SQLITE

    engine = create_engine(f"sqlite:///{tmp}/s.db")
    with engine.begin() as conn:
        conn.execute(text(SEED_SQLITE.format(name="objects")))
    engine.dispose()
    return Store(SQLBlobBackend(f"sqlite:///{tmp}/s.db", table="objects"))


@pytest.mark.parametrize("name", sorted(WEAK))
def test_backends_without_a_strong_version_pass_through(
    name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """SFTP's version is size and whole-second mtime: two same-size writes within one
    second used to be served from the cache as one."""
    if name == "sftp":
        request.applymarker(pytest.mark.server)
    source = WEAK[name](tmp_path)
    try:
        assert not source.features.strong_version
        cached, layer = _cached(source, tmp_path / "cache")
        assert not layer.caching
        source.write("v.bin", V1)
        assert _reads(cached) == _expect(V1)
        source.write("v.bin", V2, overwrite=True)  # the same size, within the second
        assert _reads(cached) == _expect(V2)
        assert layer.cache_size() == 0
        assert (layer.hits, layer.misses) == (0, 0)
    finally:
        remote.wipe(source)


@pytest.mark.server
def test_http_passes_through(tmp_path: Path) -> None:
    from omnistorage.backends.http import HTTPBackend
    from tests.support.nginx import nginx_tree

    with nginx_tree({"v.bin": V1}) as tree:
        cached, layer = _cached(Store(HTTPBackend(base_url=tree.url("files"))), tmp_path / "c")
        assert not layer.caching
        assert _reads(cached) == _expect(V1)
        tree.write("v.bin", V2)  # the same size, probably the same second: nginx's ETag
        assert _reads(cached) == _expect(V2)
        assert layer.cache_size() == 0


# ------------------------------------------------------------------ races


class _ChangesWhenPinned(Layer):
    """Overwrites the object with ``replacement`` just before the pin is taken, once."""

    def __init__(self, inner: MemoryBackend, replacement: bytes) -> None:
        super().__init__(inner)
        self._replacement: bytes | None = replacement

    def open_pinned(self, key: str) -> PinnedReader:
        if self._replacement is not None:
            Store(self.inner).write(key, self._replacement, overwrite=True)
            self._replacement = None
        return super().open_pinned(key)


def test_an_object_changed_between_stat_and_pin_is_filed_under_the_pinned_version(
    tmp_path: Path,
) -> None:
    memory = MemoryBackend()
    Store(memory).write("v.bin", V1)
    layer = ReadCacheLayer(_ChangesWhenPinned(memory, V2), tmp_path / "cache")
    cached = Store(layer)
    stale = Store(memory).get_file_info("v.bin").etag
    assert cached.read_bytes("v.bin") == V2  # the version the pin held, whole
    assert layer.misses == 1
    assert cached.read_bytes("v.bin") == V2  # stat now names the version that was filed
    assert layer.hits == 1
    assert Store(memory).get_file_info("v.bin").etag != stale


class _ShortPin(Layer):
    """A pin that runs out of bytes before its size (fault injection)."""

    def open_pinned(self, key: str) -> PinnedReader:
        pinned = super().open_pinned(key)
        read = pinned.read_range
        pinned.read_range = lambda offset, length: (
            b""
            if offset >= 1000
            else read(  # type: ignore[method-assign]
                offset, min(length, 1000 - offset)
            )
        )
        return pinned


def test_a_copy_short_of_the_pinned_size_is_never_kept(tmp_path: Path) -> None:
    memory = MemoryBackend()
    Store(memory).write("v.bin", V1)
    layer = ReadCacheLayer(_ShortPin(memory), tmp_path / "cache")
    with pytest.raises(ChangedDuringRead):
        Store(layer).read_bytes("v.bin")
    assert layer.cache_size() == 0
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []


@pytest.mark.parametrize("backend", ["memory", "local"])
def test_cached_reads_racing_writers_return_whole_versions(backend: str, tmp_path: Path) -> None:
    source = STRONG[backend](tmp_path)
    cached, layer = _cached(source, tmp_path / "cache")
    assert layer.caching
    versions = [bytes([i]) * 50_000 for i in range(30)]
    source.write("v.bin", versions[0])
    done = threading.Event()
    bad: list[str] = []

    def write() -> None:
        for data in versions[1:]:
            source.write("v.bin", data, overwrite=True)
            time.sleep(0.003)
        done.set()

    def read() -> None:
        while not done.is_set():
            try:
                data = cached.read_bytes("v.bin")
                part = cached.read_range("v.bin", 10, 100)
            except ChangedDuringRead:
                continue
            if data not in versions or part not in [v[10:110] for v in versions]:
                bad.append("a read mixed or cut versions")

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert bad == []
    assert cached.read_bytes("v.bin") == versions[-1]
    for entry in (tmp_path / "cache").iterdir():  # every copy kept is one whole version
        assert entry.read_bytes() in versions


@pytest.mark.parametrize("wrapper", ["mirror", "composite"])
def test_a_cache_over_a_mirror_or_composite_of_strong_members_is_keyed_by_their_token(
    wrapper: str, tmp_path: Path
) -> None:
    """Their pins name the version their member's pin holds, the token ``stat`` gives."""
    from omnistorage.composite import CompositeStore, Tier
    from omnistorage.multi import MirrorBackend

    members = [Store(MemoryBackend()), Store(LocalBackend(tmp_path / "local"))]
    if wrapper == "mirror":
        combined = Store(MirrorBackend(members))
    else:
        combined = CompositeStore([Tier("hot", members[0]), Tier("cold", members[1])])
    assert combined.features.strong_version
    cached, layer = _cached(combined, tmp_path / "cache")
    assert layer.caching
    combined.write("v.bin", V1)
    assert _reads(cached) == _expect(V1)
    assert (layer.misses, layer.hits >= 2) == (1, True)
    combined.write("v.bin", V2, overwrite=True)
    assert _reads(cached) == _expect(V2)
    assert layer.misses == 2
