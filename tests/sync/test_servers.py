"""Pairs of real stores on the loopback servers: a sync, a no-op re-sync, a change, a check."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from omnistorage import Capability, LocalBackend, MemoryBackend, Store
from omnistorage.ext import FaultInjectionLayer
from omnistorage.sync import check, sync
from tests.support.remote import azure_store, gcs_store, s3_store, sftp_store, wipe
from tests.sync.support import contents, fill

pytestmark = pytest.mark.server

TREE = {
    "a.txt": b"alpha",
    "d/b.bin": os.urandom(40_000),
    "d/e/c.json": b'{"c": 1}',
    "z/empty": b"",
}

Factory = Callable[[Path], Store]


def local(tmp_path: Path) -> Store:
    return Store(LocalBackend(tmp_path / f"local-{time.monotonic_ns()}"))


def memory(tmp_path: Path) -> Store:
    return Store(MemoryBackend())


def s3(tmp_path: Path) -> Store:
    return s3_store()


def gcs(tmp_path: Path) -> Store:
    return gcs_store()


def azure(tmp_path: Path) -> Store:
    return azure_store()


def sftp(tmp_path: Path) -> Store:
    return sftp_store()


PAIRS = [
    (local, local),
    (local, s3),
    (s3, local),
    (local, sftp),
    (gcs, local),
    (azure, local),
    (memory, s3),
    (s3, memory),
    (memory, gcs),
    (azure, memory),
    (memory, sftp),
    (local, memory),
    (memory, local),
]


@pytest.fixture
def made() -> Iterator[list[Store]]:
    stores: list[Store] = []
    yield stores
    for store in stores:
        wipe(store)


@pytest.mark.parametrize(
    ("make_src", "make_dst"), PAIRS, ids=[f"{a.__name__}-{b.__name__}" for a, b in PAIRS]
)
def test_a_pair_syncs_then_resyncs_as_a_no_op_then_follows_changes(
    make_src: Factory, make_dst: Factory, tmp_path: Path, made: list[Store]
) -> None:
    src, dst = make_src(tmp_path), make_dst(tmp_path)
    made += [src, dst]
    fill(src, TREE)
    fill(dst, {"stale.txt": b"old"})
    first = sync(src, dst)
    assert first.ok, first.errors
    assert sorted(first.copied) == sorted(TREE)
    assert first.deleted == ["stale.txt"]
    assert contents(dst) == TREE
    assert check(src, dst).ok

    again = sync(src, dst)
    assert again.ok, again.errors
    assert again.counts == dict.fromkeys(again.counts, 0), again.skipped

    # Same size, new content. A time a second later, where the source keeps times: SFTP
    # keeps whole seconds and Azure's server time has seconds, so a same-second rewrite at
    # equal size would look unchanged to the default compare (as to rclone's).
    later = datetime.now(UTC) + timedelta(seconds=5)
    kept = later if src.supports(Capability.SET_MOD_TIME) else None
    src.write("a.txt", b"ALPHA", overwrite=True, modified=kept)
    src.delete("d/b.bin")
    src.write("new.txt", b"new", overwrite=True)
    third = sync(src, dst)
    assert third.ok, third.errors
    assert third.updated == ["a.txt"]
    assert third.copied == ["new.txt"]
    assert third.deleted == ["d/b.bin"]
    assert contents(dst) == contents(src)
    assert check(src, dst).ok


def test_s3_to_s3_on_one_backend_copies_server_side(src: Store, made: list[Store]) -> None:
    plain = s3_store()
    layer = FaultInjectionLayer(plain.unwrap())
    a, b = Store(layer, plain.root).child("a"), Store(layer, plain.root).child("b")
    made.append(plain)
    fill(src, {**TREE, "big.bin": os.urandom(9 << 20)})
    assert sync(src, a).ok  # objects that carry rclone's mtime entry
    layer.fail_nth("open_read", 1, times=None, temporary=False)  # no byte may be streamed
    report = sync(a, b)
    assert report.ok, report.errors
    again = sync(a, b)
    assert again.ok, again.errors
    assert again.counts["copied"] == again.counts["updated"] == 0, again.skipped
    layer.clear()
    assert contents(b) == contents(a)
    assert (
        b.get_file_info("big.bin").metadata["mtime"] == a.get_file_info("big.bin").metadata["mtime"]
    )


def test_s3_objects_without_a_kept_mtime_are_streamed_once_to_gain_one(
    made: list[Store],
) -> None:
    plain = s3_store()
    a, b = plain.child("a"), plain.child("b")
    made.append(plain)
    fill(a, {"x.bin": os.urandom(9 << 20), "y.txt": b"y"})  # no mtime entry
    first = sync(a, b)
    assert first.ok
    assert first.counts["copied"] == 2
    assert "mtime" in b.get_file_info("x.bin").metadata
    again = sync(a, b)
    assert again.ok, again.errors
    assert again.counts["copied"] == again.counts["updated"] == 0, again.skipped


def test_local_to_s3_no_op_reads_no_object_metadata_for_single_part_files(
    src: Store, made: list[Store]
) -> None:
    plain = s3_store()
    layer = FaultInjectionLayer(plain.unwrap())
    dst = Store(layer, plain.root)
    made.append(plain)
    fill(src, TREE)
    assert sync(src, dst).ok
    layer.fail_nth("stat", 1, times=None, temporary=False)  # a HEAD would fail the run
    layer.fail_nth("open_read", 1, times=None, temporary=False)
    again = sync(src, dst)
    assert again.ok, again.errors
    assert again.skipped == {"same hash": len(TREE)}


def _multipart_tree() -> dict[str, bytes]:
    # With 5 MiB parts: one part (a plain MD5 ETag), exactly two parts, three with a
    # short last part, and an empty file.
    mib = 1 << 20
    return {
        "one.bin": os.urandom(3 * mib),
        "two.bin": os.urandom(10 * mib),
        "three/x.bin": os.urandom(11 * mib + 17),
        "empty.bin": b"",
    }


def test_a_local_file_multipart_etag_equals_the_one_s3_lists(made: list[Store]) -> None:
    """The ETag computed for a local file (our writer's parts) is the one moto lists for
    the object our S3 writer uploaded, and a changed byte changes it."""
    from omnistorage.backends.s3._config import layout
    from omnistorage.sync._conventions import MultipartEtag, multipart_kind

    dst = s3_store(part_size=5 << 20)
    made.append(dst)
    files = _multipart_tree()
    for key, data in files.items():
        dst.write(key, iter([data[i : i + 777_777] for i in range(0, len(data), 777_777)]))
    listed = {info.path: info.etag for info in dst.list_files(recursive=True)}
    for key in ("two.bin", "three/x.bin"):
        etag = (listed[key] or "").strip('"')
        assert etag.endswith("-2" if key == "two.bin" else "-3"), etag
        hasher = MultipartEtag(multipart_kind(layout(5 << 20)), len(files[key]))
        for i in range(0, len(files[key]), 1 << 20):
            hasher.update(files[key][i : i + (1 << 20)])
        assert hasher.hexdigest() == etag
        changed = MultipartEtag(multipart_kind(layout(5 << 20)), len(files[key]))
        changed.update(b"\0" + files[key][1:])
        assert changed.hexdigest() != etag
        short = MultipartEtag(multipart_kind(layout(5 << 20)), len(files[key]))
        short.update(files[key][:-1])
        assert short.hexdigest() == "-"


def test_local_to_s3_no_op_reads_no_object_metadata_for_multipart_files(
    src: Store, made: list[Store]
) -> None:
    """Multipart objects carry no MD5 ETag; the no-op re-sync still settles every file
    from the listing (the local file's multipart ETag, computed once and cached), and a
    change at equal size is still transferred."""
    plain = s3_store(part_size=5 << 20)
    layer = FaultInjectionLayer(plain.unwrap())
    dst = Store(layer, plain.root)
    made.append(plain)
    files = _multipart_tree()
    fill(src, files)
    assert sync(src, dst).ok
    layer.fail_nth("stat", 1, times=None, temporary=False)  # a HEAD would fail the run
    layer.fail_nth("open_read", 1, times=None, temporary=False)
    again = sync(src, dst)
    assert again.ok, again.errors
    assert again.skipped == {"same hash": len(files)}
    layer.clear()
    changed = bytearray(files["three/x.bin"])
    changed[6 << 20] ^= 0xFF
    with src.open_atomic("three/x.bin", overwrite=True) as out:
        out.write(bytes(changed))
    stamp = datetime(2020, 1, 1, tzinfo=UTC).timestamp()
    os.utime(src.unwrap(LocalBackend).native_path("three/x.bin"), (stamp, stamp))
    third = sync(src, dst)
    assert third.ok, third.errors
    assert third.updated == ["three/x.bin"]
    assert dst.read_bytes("three/x.bin") == bytes(changed)
