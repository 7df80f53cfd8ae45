"""The conformance suite through the async API: a StoreConformance whose ``store``
fixture is an :class:`AsyncStore` behind the sync facade (see ``_facade.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from omnistorage.aio import AsyncStore, SyncBackendAdapter
from omnistorage.testing import StoreConformance
from omnistorage.testing.basic import BasicOnly
from tests.aio._facade import LoopThread, SyncFacade


class AsyncConformance(StoreConformance):
    """Subclasses define ``empty_async_store`` (an empty AsyncStore over its own driver)."""

    @pytest.fixture
    def loop(self) -> Iterator[LoopThread]:
        thread = LoopThread()
        yield thread
        thread.stop()

    @pytest.fixture
    def store(  # type: ignore[override]
        self,
        request: pytest.FixtureRequest,
        variant: str,
        empty_async_store: AsyncStore,
        loop: LoopThread,
    ) -> Iterator[Any]:
        name = request.function.__name__
        if name in self.not_applicable:
            pytest.skip(f"not applicable to {self.backend_name}: {self.not_applicable[name]}")
        gap = self.expected_failures.get(name)
        if gap is not None:
            variants, reason = ((), gap) if isinstance(gap, str) else gap
            if not variants or variant in variants:
                request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
        stores = [empty_async_store]
        if variant == "child":
            store = empty_async_store.child("nested/child")
        elif variant == "basic":
            sync_driver = SyncFacade(empty_async_store, loop).unwrap()
            store = AsyncStore(SyncBackendAdapter(BasicOnly(sync_driver)), empty_async_store.root)
            stores.append(store)
        else:
            store = empty_async_store
        for capability in getattr(request.function, "_omni_requires", ()):
            if not store.supports(capability):
                pytest.skip(f"{self.backend_name} ({variant}) does not declare {capability}")
        yield SyncFacade(store, loop)
        for opened in stores:
            loop.run(opened.close())
