"""The harness of the read-only conformance suite: class settings, the ``variant``
parametrisation, the ``files`` and ``store`` fixtures, and the helpers the checks share.
The suite itself is :class:`omnistorage.testing.readonly.ReadOnlyConformance`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, settings

from omnistorage import paths
from omnistorage.store import Store
from omnistorage.testing._recorder import Recorder
from omnistorage.testing._tree import (
    READONLY_FIXTURE,
    folders_of,
)

__all__ = ["MODEL", "ReadOnlyHarness"]

MODEL = settings(
    deadline=None,
    # The store fixture is read-only, so sharing it between examples is safe; pytest
    # makes a suite instance per test, which is what "differing executors" notices.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
)


class ReadOnlyHarness:
    """The settings, fixtures and helpers of the read-only suite (see
    :mod:`omnistorage.testing.readonly`): what its checks share.

    Subclasses set :attr:`backend_name` and define a ``populated_store``
    fixture returning a store whose root holds :attr:`fixture`.
    """

    backend_name: ClassVar[str] = "backend"
    fixture: ClassVar[Mapping[str, bytes]] = READONLY_FIXTURE
    """The files ``populated_store`` holds: key → exact bytes."""
    variants: ClassVar[tuple[str, ...]] = ("plain", "child")
    """``plain`` runs on ``populated_store``; ``child`` on its ``child(child_folder)``,
    with the expectations rebased."""
    child_folder: ClassVar[str | None] = None
    """The folder of the ``child`` variant; ``None``: the first folder of :attr:`fixture`
    (in sorted order) that holds a sub-folder."""
    size_may_be_unknown: ClassVar[bool] = False
    """True where ``ObjectInfo.size`` may be ``None`` (content produced on read)."""
    expected_failures: ClassVar[Mapping[str, str | tuple[tuple[str, ...], str]]] = {}
    """Test name → reason, or → (variants, reason): known gaps, run as strict xfails."""
    not_applicable: ClassVar[Mapping[str, str]] = {}
    """Test name → reason: behaviour the backend by design does not have (skipped)."""

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "variant" in metafunc.fixturenames:
            ids = [
                self.backend_name if v == "plain" else f"{self.backend_name}-{v}"
                for v in self.variants
            ]
            metafunc.parametrize("variant", self.variants, ids=ids)

    # ------------------------------------------------------------ fixtures

    def _child_folder(self) -> str:
        if self.child_folder is not None:
            return self.child_folder
        folders = sorted(folders_of(self.fixture))
        for folder in folders:
            if any(paths.parent(other) == folder for other in folders):
                return folder
        pytest.fail(f"{self.backend_name}: the fixture has no nested folder for the child variant")

    @pytest.fixture
    def files(self, variant: str) -> Mapping[str, bytes]:
        """The fixture as the variant's store sees it: store-relative key → bytes."""
        if variant != "child":
            return self.fixture
        folder = self._child_folder()
        return {
            paths.relative_to(key, folder): data
            for key, data in self.fixture.items()
            if paths.is_within(key, folder)
        }

    @pytest.fixture
    def store(self, request: pytest.FixtureRequest, variant: str, populated_store: Store) -> Store:
        name = request.function.__name__
        if name in self.not_applicable:
            pytest.skip(f"not applicable to {self.backend_name}: {self.not_applicable[name]}")
        gap = self.expected_failures.get(name)
        if gap is not None:
            variants, reason = ((), gap) if isinstance(gap, str) else gap
            if not variants or variant in variants:
                request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
        store = (
            populated_store.child(self._child_folder()) if variant == "child" else populated_store
        )
        for capability in getattr(request.function, "_omni_requires", ()):
            if not store.supports(capability):
                pytest.skip(f"{self.backend_name} ({variant}) does not declare {capability}")
        return store

    @staticmethod
    def _recording(store: Store) -> tuple[Store, Recorder]:
        recorder = Recorder(store.unwrap())
        return Store(recorder, store.root), recorder

    def _size_ok(self, size: int | None, data: bytes) -> bool:
        return size == len(data) or (self.size_may_be_unknown and size is None)

    @staticmethod
    def _largest(files: Mapping[str, bytes]) -> str:
        return max(files, key=lambda key: (len(files[key]), key))
