"""Create-only through a CompositeStore consults every tier a read would see.

A key that exists only in a lower tier exists for every reader (``exists()`` is True and
reads fall through to it), so a create-only ``write``, ``open_atomic``, ``copy`` or
``move`` must refuse it instead of shadowing it from the write tier. A key that appears
in a lower tier while the write publishes makes the write undo its own copy (a
conditional delete), or raise ``PartialPublish`` where the write tier cannot delete
conditionally. Tiers over memory and local files, and over the real servers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from omnistorage import AlreadyExists, LocalBackend, MemoryBackend, Store
from omnistorage.composite import CompositeStore, Tier
from omnistorage.driver import Backend, WriteOptions, Writer
from omnistorage.ext import Layer
from omnistorage.multi import PartialPublish
from omnistorage.testing import BasicOnly
from tests.support.remote import azure_store, s3_store, wipe

Op = Callable[[CompositeStore, str], object]


def _write(tiers: CompositeStore, key: str) -> object:
    return tiers.write(key, b"new")


def _open_atomic(tiers: CompositeStore, key: str) -> object:
    with tiers.open_atomic(key) as writer:
        writer.write(b"new")
    return None


def _copy(tiers: CompositeStore, key: str) -> object:
    tiers.write("source.bin", b"new", overwrite=True)
    return tiers.copy("source.bin", key)


def _move(tiers: CompositeStore, key: str) -> object:
    tiers.write("source.bin", b"new", overwrite=True)
    return tiers.move("source.bin", key)


OPS = {"write": _write, "open_atomic": _open_atomic, "copy": _copy, "move": _move}


def _pair(kind: str, tmp_path: Path) -> tuple[Store, Store, Callable[[], None]]:
    if kind == "memory-local":
        return Store(MemoryBackend()), Store(LocalBackend(tmp_path / "cold")), lambda: None
    if kind == "s3-azure":
        hot, cold = s3_store(), azure_store()
    else:
        hot, cold = azure_store(), s3_store()

    def clean() -> None:
        wipe(hot)
        wipe(cold)

    return hot, cold, clean


TIER_KINDS = [
    "memory-local",
    pytest.param("s3-azure", marks=pytest.mark.server),
    pytest.param("azure-s3", marks=pytest.mark.server),
]


@pytest.fixture(params=TIER_KINDS)
def hot_cold(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    hot, cold, clean = _pair(request.param, tmp_path)
    yield hot, cold
    clean()


@pytest.mark.parametrize("op", sorted(OPS))
def test_a_key_only_in_a_lower_tier_is_not_shadowed_by_create_only(
    hot_cold: tuple[Store, Store], op: str
) -> None:
    hot, cold = hot_cold
    cold.write("k.bin", b"archived")
    tiers = CompositeStore([Tier("hot", hot), Tier("cold", cold)])
    assert tiers.exists("k.bin")
    with pytest.raises(AlreadyExists) as info:
        OPS[op](tiers, "k.bin")
    assert info.value.path == "k.bin"
    assert not hot.is_file("k.bin")
    assert tiers.read_bytes("k.bin") == b"archived"
    if op == "move":
        assert tiers.read_bytes("source.bin") == b"new"  # a refused move keeps its source


def test_an_overwrite_still_goes_to_the_write_tier(hot_cold: tuple[Store, Store]) -> None:
    hot, cold = hot_cold
    cold.write("k.bin", b"archived")
    tiers = CompositeStore([Tier("hot", hot), Tier("cold", cold)])
    tiers.write("k.bin", b"newer", overwrite=True)
    assert tiers.read_bytes("k.bin") == b"newer"
    assert cold.read_bytes("k.bin") == b"archived"


def test_a_tier_whose_match_excludes_the_key_is_not_consulted(tmp_path: Path) -> None:
    hot, cold = Store(MemoryBackend()), Store(LocalBackend(tmp_path / "cold"))
    cold.write("logs/k.bin", b"not seen through the composite")
    tiers = CompositeStore([Tier("hot", hot), Tier("cold", cold, match="archive/**")])
    assert not tiers.exists("logs/k.bin")
    tiers.write("logs/k.bin", b"new")
    assert hot.read_bytes("logs/k.bin") == b"new"


class _AppearsMeanwhile(Layer):
    """The write tier: just before it publishes, ``meanwhile`` runs (a key appearing in
    a lower tier, as a migrate or another client would make it)."""

    def __init__(self, inner: Backend, meanwhile: Callable[[str], None]) -> None:
        super().__init__(inner)
        self.meanwhile = meanwhile

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return _Meanwhile(self.inner.new_writer(key, options), lambda: self.meanwhile(key))


class _Meanwhile(Writer):
    def __init__(self, inner: Writer, meanwhile: Callable[[], None]) -> None:
        self._inner = inner
        self._meanwhile = meanwhile

    def write(self, data: bytes | bytearray | memoryview) -> int:
        return self._inner.write(data)

    def close(self) -> None:
        self._meanwhile()
        self._inner.close()
        self.version = self._inner.version

    def abort(self) -> None:
        self._inner.abort()


def test_a_key_that_appears_below_during_the_publish_undoes_the_write(tmp_path: Path) -> None:
    cold = Store(LocalBackend(tmp_path / "cold"))
    hot_backend = MemoryBackend()
    hot = Store(_AppearsMeanwhile(hot_backend, lambda key: cold.write(key, b"migrated")))
    tiers = CompositeStore([Tier("hot", hot), Tier("cold", cold)])
    with pytest.raises(AlreadyExists):
        tiers.write("k.bin", b"new")
    assert not Store(hot_backend).is_file("k.bin")  # our copy was undone
    assert tiers.read_bytes("k.bin") == b"migrated"


def test_without_a_conditional_delete_the_shadowing_copy_is_reported(tmp_path: Path) -> None:
    cold = Store(LocalBackend(tmp_path / "cold"))
    hot_backend = MemoryBackend()
    layered = _AppearsMeanwhile(hot_backend, lambda key: cold.write(key, b"migrated"))
    hot = Store(BasicOnly(layered))  # no extended interface: no conditional delete
    tiers = CompositeStore([Tier("hot", hot), Tier("cold", cold)])
    with pytest.raises(PartialPublish) as info:
        tiers.write("k.bin", b"new")
    assert (info.value.new, info.value.old) == ((0,), (1,))
    assert Store(hot_backend).read_bytes("k.bin") == b"new"
