"""The read-only conformance suite passes on ``ReadOnlyLayer(MemoryBackend())`` holding the
fixture, and fails on read-only backends that break the contract it checks."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

import pytest

from omnistorage import MemoryBackend, Store
from omnistorage.capabilities import MUTATING_CAPABILITIES, Capability, Features
from omnistorage.driver import WriteOptions, Writer
from omnistorage.ext import Layer, ReadOnlyLayer
from omnistorage.models import ObjectInfo
from omnistorage.testing import READONLY_FIXTURE, ReadOnlyConformance


def _populated() -> MemoryBackend:
    memory = MemoryBackend()
    writer = Store(memory)
    for key, data in READONLY_FIXTURE.items():
        writer.write(key, data)
    return memory


class TestReadOnlyMemory(ReadOnlyConformance):
    backend_name = "memory"

    @pytest.fixture
    def populated_store(self) -> Store:
        return Store(ReadOnlyLayer(_populated()))


class TestReadOnlyMemoryBelowARoot(ReadOnlyConformance):
    """The same tree one folder down: the store's root is not the backend's."""

    backend_name = "memory-rooted"
    variants = ("plain",)

    @pytest.fixture
    def populated_store(self) -> Store:
        memory = MemoryBackend()
        writer = Store(memory, "deep/root")
        for key, data in READONLY_FIXTURE.items():
            writer.write(key, data)
        Store(memory).write("deep/rootsibling.txt", b"outside the root")
        return Store(ReadOnlyLayer(memory), "deep/root")


# ------------------------------------------------------------ the suite can fail


class _ClaimsWrites(Layer):
    """Read-only in all but its declaration (not built on ``ReadOnlyBackend``, which
    could not declare ``WRITE`` at all)."""

    def features(self) -> Features:
        inner = super().features()
        return Features(inner.capabilities - MUTATING_CAPABILITIES | {Capability.WRITE})

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        raise PermissionError(f"write {key!r}: refused")


class _ReadOnlyClaimsWrites(ReadOnlyLayer):
    def features(self) -> Features:
        inner = super().features()
        return Features(inner.capabilities | {Capability.WRITE}, inner.hash_types)


class _IgnoresOffsets(ReadOnlyLayer):
    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        return super().new_reader(key, offset=0, length=length)


class _ForgetsDeepFiles(ReadOnlyLayer):
    """Recursive listings stop one level down, as a driver that never descends would."""

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        depth = prefix.count("/")
        for info in super().list(prefix, recursive=recursive):
            if info.path.count("/") <= depth + 1:
                yield info


class _WritesWhenAskedDirectly(ReadOnlyLayer):
    """Declares no change, but its driver deletes when asked directly."""

    def delete(self, key: str) -> None:
        self.inner.delete(key)


class _StatsUndeclared(ReadOnlyLayer):
    """Implements ``stat`` but may never declare ``METADATA``: the Store never calls it."""

    may_declare = ReadOnlyLayer.may_declare - {Capability.METADATA}

    def features(self) -> Features:
        inner = super().features()
        return inner.with_capabilities(inner.capabilities - {Capability.METADATA})


class _StaleInfo(ReadOnlyLayer):
    """Its readers carry an info that is not the version they read."""

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        with super().new_reader(key, offset=offset, length=length) as inner:
            stream = io.BytesIO(inner.read())
        stream.info = ObjectInfo(key, size=123_456_789)  # type: ignore[attr-defined]
        return stream


@pytest.fixture
def suite() -> TestReadOnlyMemory:
    return TestReadOnlyMemory()


def test_the_suite_fails_a_backend_that_declares_a_write_capability(
    suite: TestReadOnlyMemory,
) -> None:
    store = Store(_ClaimsWrites(_populated()))
    with pytest.raises(AssertionError, match="write"):
        suite.test_declared_features_change_nothing_and_are_exercised(store)


def test_a_read_only_layer_cannot_even_declare_a_write() -> None:
    with pytest.raises(TypeError, match=r"_ReadOnlyClaimsWrites\.features\(\) declares"):
        Store(_ReadOnlyClaimsWrites(_populated()))


def test_the_suite_fails_a_driver_that_writes_when_asked_directly(
    suite: TestReadOnlyMemory,
) -> None:
    store = Store(_WritesWhenAskedDirectly(_populated()))
    with pytest.raises(BaseException, match="DID NOT RAISE"):
        suite.test_the_driver_itself_refuses_every_change(store, READONLY_FIXTURE)


def test_the_suite_flags_a_method_without_its_capability(suite: TestReadOnlyMemory) -> None:
    store = Store(_StatsUndeclared(_populated()))
    with pytest.raises(AssertionError, match=r"implements stat\(\) but may not declare"):
        suite.test_every_method_has_its_capability(store)


def test_the_suite_fails_a_backend_whose_ranges_ignore_the_offset(
    suite: TestReadOnlyMemory,
) -> None:
    store = Store(_IgnoresOffsets(_populated()))
    with pytest.raises(AssertionError):
        suite.test_read_range_slices_every_file_at_its_edges(store, READONLY_FIXTURE)


def test_the_suite_fails_a_backend_whose_recursive_listings_stop_early(
    suite: TestReadOnlyMemory,
) -> None:
    store = Store(_ForgetsDeepFiles(_populated()))
    with pytest.raises(AssertionError):
        suite.test_recursive_listings_match_the_fixture(store, READONLY_FIXTURE)


def test_the_suite_fails_a_store_that_lacks_a_fixture_file(suite: TestReadOnlyMemory) -> None:
    memory = _populated()
    Store(memory).delete("database.txt")
    with pytest.raises(AssertionError):
        suite.test_every_file_is_a_file(Store(ReadOnlyLayer(memory)), READONLY_FIXTURE)


def test_the_fixture_has_the_shapes_the_suite_promises() -> None:
    keys = set(READONLY_FIXTURE)
    assert any(not data for data in READONLY_FIXTURE.values())  # an empty file
    assert max(len(data) for data in READONLY_FIXTURE.values()) > 3 * 1024 * 1024
    assert any(key.count("/") >= 3 for key in keys)  # nested folders
    assert {"database.txt", "data/a.csv"} <= keys  # a prefix that is no folder
    assert any(not key.isascii() for key in keys)
    assert any("%2e%2e" in key for key in keys)
    assert not any(segment.startswith(".") for key in keys for segment in key.split("/"))


def test_the_suite_fails_a_reader_whose_info_is_not_what_stat_gives(
    suite: TestReadOnlyMemory,
) -> None:
    store = Store(_StaleInfo(_populated()))
    assert store.supports(Capability.READ_INFO)
    with pytest.raises(AssertionError):
        suite.test_a_read_carries_the_info_stat_gives(store, READONLY_FIXTURE)
