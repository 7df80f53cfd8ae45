"""Every layer is a backend: the conformance suite runs over each, on memory and local."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.ext import (
    ConcurrencyLimitLayer,
    FaultInjectionLayer,
    LoggingLayer,
    MetricsLayer,
    RetryLayer,
)
from omnistorage.testing import StoreConformance, make_state_machine


class TestRetryOverMemory(StoreConformance):
    backend_name = "retry-memory"

    @pytest.fixture
    def empty_store(self) -> Store:
        return Store(RetryLayer(MemoryBackend()))


class TestRetryOverFlakyLocal(StoreConformance):
    """A local backend whose stat/exists/pinned/read/delete calls fail temporarily with
    probability 0.15: the retry layer hides every one of them.

    Threads draw from one seeded generator in an order the scheduler picks, so the
    layer gets 12 attempts: twelve failures in a row (0.15**12, about 1e-10 per call)
    never happen in a run, where 5 attempts (8e-5 per call) failed one CI run.
    """

    backend_name = "retry-flaky-local"

    @pytest.fixture
    def empty_store(self, tmp_path: Path) -> Store:
        faults = FaultInjectionLayer(LocalBackend(tmp_path), seed=7)
        for op in ("exists", "stat", "pinned", "open_read", "delete"):
            faults.fail_with_probability(op, 0.15)
        return Store(RetryLayer(faults, attempts=12, base_delay=0.0005, max_delay=0.002))


class TestLimitOverLocal(StoreConformance):
    backend_name = "limit-local"

    @pytest.fixture
    def empty_store(self, tmp_path: Path) -> Store:
        return Store(ConcurrencyLimitLayer(LocalBackend(tmp_path), 3))


class TestObservedMemory(StoreConformance):
    backend_name = "metrics-logging-memory"

    @pytest.fixture
    def empty_store(self) -> Store:
        return Store(MetricsLayer(LoggingLayer(MemoryBackend())))


TestRetryModel = make_state_machine(lambda: Store(RetryLayer(MemoryBackend()))).TestCase


class TestReadCacheOverMemory(StoreConformance):
    backend_name = "cache-memory"

    @pytest.fixture
    def empty_store(self, tmp_path: Path) -> Store:
        from omnistorage.ext import ReadCacheLayer

        return Store(ReadCacheLayer(MemoryBackend(), tmp_path / "cache", max_bytes=64 << 20))
