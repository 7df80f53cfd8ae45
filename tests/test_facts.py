"""Facts in Features and how wrappers combine them (DESIGN §5b); what a wrapper's inner
listings skipped counts at every level (listing accounting is data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage._parts import PartLayout
from omnistorage.capabilities import Capability, ETagKind, Features, combine_replicas
from omnistorage.composite import CompositeStore, Tier
from omnistorage.errors import DirectoryNotEmpty
from omnistorage.ext import MetricsLayer, ReadOnlyLayer, RetryLayer
from omnistorage.models import HashType
from omnistorage.multi import MirrorBackend

S3_LIKE = Features.of(
    [Capability.READ],
    [HashType.MD5],
    mtime_precision_ns=1_000_000_000,
    etag=ETagKind.MD5_OR_MULTIPART,
    multipart=PartLayout(8 << 20),
    strong_version=True,
)
LOCAL_LIKE = Features.of(
    [Capability.READ],
    mtime_precision_ns=1,
    copy_keeps_mtime=False,
    etag=ETagKind.OPAQUE,
    strong_version=True,
)
NOCASE = Features.of([Capability.READ], [HashType.MD5], case_insensitive=True)


def test_replicas_keep_the_promise_every_member_keeps() -> None:
    both = combine_replicas([S3_LIKE, LOCAL_LIKE, NOCASE], [Capability.READ])
    assert both.mtime_precision_ns == 1_000_000_000  # the coarsest
    assert both.copy_keeps_mtime is False  # one member's copy resets it
    assert both.case_insensitive is True  # keys collide if they collide anywhere
    assert both.etag is ETagKind.NONE  # members mean different things by an ETag
    assert both.multipart is None
    assert both.strong_version is False  # NOCASE has none
    assert both.hash_types == frozenset()  # LOCAL_LIKE returns no MD5


def test_replicas_of_one_kind_keep_its_etag_and_layout() -> None:
    same = combine_replicas([S3_LIKE, S3_LIKE], [Capability.READ, Capability.WRITE])
    assert same.etag is ETagKind.MD5_OR_MULTIPART
    assert same.multipart == PartLayout(8 << 20)
    assert same.strong_version is True
    assert same.hash_types == {HashType.MD5}
    assert same.capabilities == {Capability.READ, Capability.WRITE}
    other_parts = Features.of([], etag=ETagKind.MD5_OR_MULTIPART, multipart=PartLayout(5 << 20))
    assert combine_replicas([S3_LIKE, other_parts], []).multipart is None


def test_a_part_layout_grows_its_first_part_to_fit_the_part_limit() -> None:
    layout = PartLayout(5 << 20, max_parts=10)
    assert layout.lengths(5 << 20) is None  # one part: one request
    lengths = layout.lengths(200 << 20)
    assert lengths is not None
    assert len(lengths) <= 10
    assert sum(lengths) == 200 << 20


def test_layers_declare_their_inner_facts(tmp_path: Path) -> None:
    inner = LocalBackend(tmp_path)
    for layer in (RetryLayer(inner), MetricsLayer(inner), ReadOnlyLayer(inner)):
        facts = Store(layer).features
        assert facts.mtime_precision_ns == 1
        assert facts.copy_keeps_mtime is False
        assert facts.strong_version is True
    assert not Store(ReadOnlyLayer(inner)).supports(Capability.WRITE)


def test_local_stat_gives_a_strong_version_a_same_size_same_mtime_rewrite_changes(
    tmp_path: Path,
) -> None:
    store = Store(LocalBackend(tmp_path))
    store.write("f.bin", b"a" * 64)
    before = store.get_file_info("f.bin")
    (tmp_path / "f.bin").write_bytes(b"b" * 64)  # in place, as another program would
    stamp = before.modified_ns
    assert stamp is not None
    os.utime(tmp_path / "f.bin", ns=(stamp, stamp))  # the old mtime back, to the nanosecond
    after = store.get_file_info("f.bin")
    assert (after.size, after.modified_ns) == (before.size, before.modified_ns)
    assert after.etag != before.etag


# ---------------------------------------------------------------- listing accounting

FOREIGN = "tab\there.txt"


def _plant(folder: Path) -> None:
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "ok.txt").write_bytes(b"ok")
    (folder / "data" / FOREIGN).write_bytes(b"foreign")


def _wrappers(tmp_path: Path) -> list[Store]:
    _plant(tmp_path / "src")
    source = Store(LocalBackend(tmp_path / "src"))
    other = Store(MemoryBackend())
    return [
        Store(MirrorBackend([source, other])),
        Store(MirrorBackend([other, source])),
        CompositeStore([Tier("hot", other), Tier("cold", source)]),
        Store(RetryLayer(LocalBackend(tmp_path / "src"))),
    ]


@pytest.mark.parametrize("index", range(4), ids=["mirror", "mirror-2nd", "composite", "layer"])
def test_what_an_inner_listing_skipped_counts_through_every_wrapper(
    tmp_path: Path, index: int
) -> None:
    store = _wrappers(tmp_path)[index]
    listing = store.list_files("data", recursive=True)
    assert [info.path for info in listing] == ["data/ok.txt"]
    assert listing.invalid_count == 1
    assert any(FOREIGN in name for name in listing.invalid)
    shallow = store.list_files("data")
    assert [info.path for info in shallow] == ["data/ok.txt"]
    assert shallow.invalid_count == 1
    root = store.list_files("", recursive=True)
    assert list(root)
    assert root.invalid_count == 1
    assert store.list_folders("").invalid_count == 0  # a file's name is no folder's


@pytest.mark.parametrize("index", range(4), ids=["mirror", "mirror-2nd", "composite", "layer"])
def test_a_folder_holding_skipped_names_is_not_reported_deleted(tmp_path: Path, index: int) -> None:
    store = _wrappers(tmp_path)[index]
    with pytest.raises(DirectoryNotEmpty):
        store.delete_folder("data", recursive=True)
    assert (tmp_path / "src" / "data" / FOREIGN).exists()


def test_a_skipped_folder_name_counts_in_folder_listings(tmp_path: Path) -> None:
    (tmp_path / "src" / "bad\tdir").mkdir(parents=True)
    (tmp_path / "src" / "bad\tdir" / "x").write_bytes(b"x")
    (tmp_path / "src" / "good").mkdir()
    source = Store(LocalBackend(tmp_path / "src"))
    mirror = Store(MirrorBackend([source, Store(MemoryBackend())]))
    folders = mirror.list_folders("")
    assert list(folders) == ["good"]
    assert folders.invalid_count == 1
