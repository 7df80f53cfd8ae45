"""Racing overwrites in the conformance suite: a loser may fail only with a temporary
``WriteConflict``, only where the backend declares ``overwrite_may_conflict``, and its
retry must land; everything weaker fails the suite.

The backends here are layers over ``MemoryBackend`` that lose a racing overwrite the
way Azure does: a writer whose key was published by someone else after it opened
fails at ``close`` (Azure discards the staged blocks at the other commit).
"""

from __future__ import annotations

import dataclasses
import threading
import uuid

import pytest

from omnistorage import MemoryBackend, Store
from omnistorage.capabilities import Features
from omnistorage.driver import Backend, WriteOptions, Writer
from omnistorage.errors import Classification, ErrorKind
from omnistorage.ext import Layer
from omnistorage.testing import StoreConformance


class _Raced(Exception):
    """The native error of the fake: another writer published the key first."""


class _RacingWriter(Writer):
    def __init__(self, layer: _LosesRacedOverwrites, key: str, inner: Writer) -> None:
        self._layer, self._key, self._inner = layer, key, inner
        self._opened_at = layer.generation(key)
        self._hold = layer.take_hold()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        return self._inner.write(data)

    def close(self) -> None:
        layer = self._layer
        if self._hold is not None:  # the first writers all open before any publishes
            self._hold.wait(timeout=10)
        with layer.lock:
            if layer.generation(self._key) != self._opened_at:
                layer.conflicts += 1
                if layer.publish_anyway:
                    self._inner.close()
                else:
                    self._inner.abort()
                raise _Raced(f"{self._key!r} was published by another writer meanwhile")
            self._inner.close()
            layer.generations[self._key] = self._opened_at + 1

    def abort(self) -> None:
        self._inner.abort()

    @property
    def version(self) -> str | None:  # type: ignore[override]
        """The inner writer's published version: the fake wraps memory's writer, whose
        CONDITIONAL_DELETE it declares, so a write must still name its version."""
        return self._inner.version


class _LosesRacedOverwrites(Layer):
    """Declares ``overwrite_may_conflict`` and loses raced overwrites, temporarily."""

    declares = True
    temporary = True
    publish_anyway = False

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.lock = threading.Lock()
        self.generations: dict[str, int] = {}
        self.conflicts = 0
        self._hold: threading.Barrier | None = None
        self._skip = self._held = 0

    def hold(self, writers: int, *, after: int = 0) -> None:
        """Past the next ``after`` writers, make ``writers`` writers wait for each other
        before publishing: all of them open before any of them publishes."""
        self._hold, self._skip, self._held = threading.Barrier(writers), after, writers

    def take_hold(self) -> threading.Barrier | None:
        with self.lock:
            if self._skip:
                self._skip -= 1
                return None
            if not self._held:
                return None
            self._held -= 1
            return self._hold

    def generation(self, key: str) -> int:
        return self.generations.get(key, 0)

    def features(self) -> Features:
        return dataclasses.replace(super().features(), overwrite_may_conflict=self.declares)

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return _RacingWriter(self, key, super().new_writer(key, options))

    def classify_error(self, exc: BaseException) -> Classification:
        if isinstance(exc, _Raced):
            return Classification(ErrorKind.CONFLICT, temporary=self.temporary)
        return super().classify_error(exc)


class _Undeclared(_LosesRacedOverwrites):
    declares = False


class _PermanentConflict(_LosesRacedOverwrites):
    temporary = False


class _PublishesWhenItLoses(_LosesRacedOverwrites):
    publish_anyway = True


class TestRacedOverwritesConformance(StoreConformance):
    """The whole suite passes on a backend that loses raced overwrites as it declares."""

    backend_name = "memory-raced"
    large_size = 256 * 1024
    race_size = 64 * 1024

    @pytest.fixture
    def empty_store(self) -> Store:
        self._space = f"raced-{uuid.uuid4().hex}"
        return Store(_LosesRacedOverwrites(MemoryBackend(name=self._space)))

    def second_handle(self, store: Store) -> Store:
        return Store(_LosesRacedOverwrites(MemoryBackend(name=self._space)), store.root)


@pytest.fixture
def suite() -> TestRacedOverwritesConformance:
    return TestRacedOverwritesConformance()


def _store(layer_type: type[_LosesRacedOverwrites]) -> tuple[Store, _LosesRacedOverwrites]:
    layer = layer_type(MemoryBackend())
    return Store(layer), layer


def test_a_declared_temporary_conflict_whose_retry_lands_passes(
    suite: TestRacedOverwritesConformance,
) -> None:
    store, layer = _store(_LosesRacedOverwrites)
    suite.test_an_overwrite_raced_by_another_publish_lands_or_conflicts_then_lands(store)
    assert layer.conflicts == 1  # the race really happened


def test_an_undeclared_conflict_fails_the_suite(suite: TestRacedOverwritesConformance) -> None:
    store, layer = _store(_Undeclared)
    with pytest.raises(AssertionError, match="does not declare overwrite_may_conflict"):
        suite.test_an_overwrite_raced_by_another_publish_lands_or_conflicts_then_lands(store)
    assert layer.conflicts == 1


def test_a_permanent_conflict_fails_the_suite(suite: TestRacedOverwritesConformance) -> None:
    store, _ = _store(_PermanentConflict)
    with pytest.raises(AssertionError, match="not temporary"):
        suite.test_an_overwrite_raced_by_another_publish_lands_or_conflicts_then_lands(store)


def test_a_loser_that_publishes_fails_the_suite(suite: TestRacedOverwritesConformance) -> None:
    store, _ = _store(_PublishesWhenItLoses)
    with pytest.raises(AssertionError):
        suite.test_an_overwrite_raced_by_another_publish_lands_or_conflicts_then_lands(store)


@pytest.mark.parametrize("layer_type", [_LosesRacedOverwrites, _Undeclared])
def test_racing_threads_that_lose_must_be_declared_and_retry_until_each_lands(
    suite: TestRacedOverwritesConformance, layer_type: type[_LosesRacedOverwrites]
) -> None:
    store, layer = _store(layer_type)
    layer.hold(suite.racing_writers, after=1)  # the racers, not the test's first write
    if layer.declares:
        suite.test_racing_overwrites_leave_one_whole_version(store)
    else:
        with pytest.raises(AssertionError, match="does not declare"):
            suite.test_racing_overwrites_leave_one_whole_version(store)
    assert layer.conflicts >= suite.racing_writers - 1


# ------------------------------------------------------------ wrappers carry the fact


def test_wrappers_carry_the_fact_by_their_stated_rule() -> None:
    from omnistorage.composite import CompositeStore, Tier
    from omnistorage.ext import RetryLayer
    from omnistorage.multi import MirrorBackend

    def raced() -> Store:
        return Store(_LosesRacedOverwrites(MemoryBackend()))

    def plain() -> Store:
        return Store(MemoryBackend())

    assert raced().features.overwrite_may_conflict
    assert not plain().features.overwrite_may_conflict
    # A layer declares its inner backend's facts.
    assert Store(RetryLayer(_LosesRacedOverwrites(MemoryBackend()))).features.overwrite_may_conflict
    # Mirrors and composites (combine_replicas): any destination or tier.
    assert Store(MirrorBackend([plain(), raced()])).features.overwrite_may_conflict
    assert not Store(MirrorBackend([plain(), plain()])).features.overwrite_may_conflict
    assert CompositeStore(
        [Tier("hot", plain()), Tier("cold", raced())]
    ).features.overwrite_may_conflict
    assert not CompositeStore(
        [Tier("hot", plain()), Tier("cold", plain())]
    ).features.overwrite_may_conflict
