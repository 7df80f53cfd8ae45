"""Where stores point: locations compare places, never handles (DESIGN §5b)."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage._net import endpoint_authority
from omnistorage.composite import CompositeStore, Tier
from omnistorage.errors import ConfigurationError
from omnistorage.ext import ReadOnlyLayer, RetryLayer
from omnistorage.models import Location
from omnistorage.multi import MirrorBackend, quorum


def test_a_location_contains_itself_and_what_lies_below_it() -> None:
    root = Location("s3", "http://h:1", "bucket")
    assert root.contains(root)
    assert root.contains(root.child("data/x"))
    assert not root.child("data").contains(root)
    assert root.child("data").overlaps(root)
    assert not root.child("data").overlaps(root.child("database"))
    assert not root.overlaps(Location("s3", "http://h:1", "bucket2"))
    assert not root.overlaps(Location("s3", "http://h:2", "bucket"))
    assert not root.overlaps(Location("gs", "http://h:1", "bucket"))


def test_the_empty_path_is_the_whole_authority() -> None:
    whole = Location("memory", "space:1")
    assert whole.contains(whole.child("a/b"))
    assert whole.child("a") == Location("memory", "space:1", "a")
    assert whole.child("") is whole


def test_a_case_insensitive_location_folds_case() -> None:
    folded = Location("file", "", "Volumes/Data", case_insensitive=True)
    assert folded.overlaps(Location("file", "", "volumes/data/x"))
    assert not Location("file", "", "Volumes/Data").overlaps(Location("file", "", "volumes/data"))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://S3.Example.com:443/", "https://s3.example.com"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
        ("http://user:pw@host:9000/acct/", "http://host:9000/acct"),
        ("http://host:9000?sv=token", "http://host:9000"),
    ],
)
def test_endpoints_spelled_differently_are_one_authority(a: str, b: str) -> None:
    assert endpoint_authority(a) == endpoint_authority(b)
    assert "pw" not in endpoint_authority(a)
    assert "token" not in endpoint_authority(a)


def test_two_handles_on_one_named_memory_space_overlap() -> None:
    one = Store(MemoryBackend(name="loc-test-space"))
    two = Store(MemoryBackend(name="loc-test-space"), "data/mirror")
    assert one.unwrap() is not two.unwrap()
    assert one.child("data").overlaps(two)
    assert not Store(MemoryBackend()).overlaps(Store(MemoryBackend()))


def test_local_stores_overlap_through_a_symlink_to_the_same_folder(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "sub").mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    assert Store(LocalBackend(tmp_path / "link")).overlaps(Store(LocalBackend(real / "sub")))
    assert not Store(LocalBackend(real / "sub")).overlaps(Store(LocalBackend(tmp_path / "other")))


def test_layers_point_where_their_inner_backend_points(tmp_path: Path) -> None:
    plain = Store(LocalBackend(tmp_path))
    layered = Store(RetryLayer(ReadOnlyLayer(LocalBackend(tmp_path))), "x")
    assert layered.locations == (plain.locations[0].child("x"),)
    assert layered.overlaps(plain)


def test_a_mirror_and_a_composite_point_at_every_member(tmp_path: Path) -> None:
    a = Store(LocalBackend(tmp_path / "a"))
    b = Store(MemoryBackend(name="loc-test-mirror"))
    mirror = Store(MirrorBackend([a, b]))
    tiers = CompositeStore([Tier("hot", a), Tier("cold", b)])
    for combined in (mirror, tiers):
        assert len(combined.locations) == 2
        assert combined.overlaps(a.child("x"))
        assert combined.child("x").overlaps(Store(MemoryBackend(name="loc-test-mirror")))
        assert not combined.overlaps(Store(LocalBackend(tmp_path / "c")))


def test_a_mirror_refuses_one_place_given_twice(tmp_path: Path) -> None:
    # Two handles on one folder would satisfy quorum(2) with one physical copy.
    first = Store(LocalBackend(tmp_path / "d"))
    again = Store(LocalBackend(tmp_path / "d"))
    with pytest.raises(ConfigurationError, match="one place"):
        MirrorBackend([first, again], policy=quorum(2))
    with pytest.raises(ConfigurationError, match="one place"):
        MirrorBackend([first, Store(LocalBackend(tmp_path)).child("d/inner")])
    MirrorBackend([first, Store(LocalBackend(tmp_path / "e"))])  # distinct places are fine
