"""Wrapper variants of the conformance suite: the backend under test behind each layer,
all layers stacked, inside a one-destination mirror and inside a one-tier composite.

A wrapper must carry every promise of the store beneath it (DESIGN §5b), so it runs the
very suite the backend passes. A harness opts in through ``variants``::

    class TestMyBackend(StoreConformance):
        variants = (*StoreConformance.variants, *WRAPPER_VARIANTS)   # every wrapper
        variants = (*StoreConformance.variants, *SERVER_WRAPPER_VARIANTS)  # the cheap set
        variants = (*StoreConformance.variants, *SLOW_SERVER_WRAPPER_VARIANTS)  # stacked

A wrapper variant inherits the backend's declared gaps (``expected_failures`` and
``not_applicable`` entries of the ``plain`` variant): it shows the backend's behaviour,
gaps included. What a wrapper cannot do by design is declared here, in
:data:`WRAPPER_NOT_APPLICABLE`, with the reason; nothing is skipped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from omnistorage.composite import CompositeStore, Tier
from omnistorage.ext import (
    ConcurrencyLimitLayer,
    FaultInjectionLayer,
    LoggingLayer,
    MetricsLayer,
    ReadCacheLayer,
    RetryLayer,
)
from omnistorage.multi import MirrorBackend
from omnistorage.store import Store

__all__ = [
    "SERVER_WRAPPER_VARIANTS",
    "SLOW_SERVER_WRAPPER_VARIANTS",
    "WRAPPER_EXPECTED_FAILURES",
    "WRAPPER_NOT_APPLICABLE",
    "WRAPPER_VARIANTS",
    "is_wrapper",
    "mark_gaps",
    "wrap",
]

_CACHE_BYTES = 64 << 20


def _stacked(store: Store, cache: Path) -> Store:
    """Every layer at once, in the order the docs recommend (outside-in: observe, retry,
    limit, cache, faults innermost)."""
    faults = FaultInjectionLayer(store.unwrap())
    cached = ReadCacheLayer(faults, cache, max_bytes=_CACHE_BYTES)
    layered = MetricsLayer(LoggingLayer(RetryLayer(ConcurrencyLimitLayer(cached, 4))))
    return Store(layered, store.root)


_BUILDERS: dict[str, Callable[[Store, Path], Store]] = {
    "retry": lambda s, _: Store(RetryLayer(s.unwrap()), s.root),
    "metrics": lambda s, _: Store(MetricsLayer(s.unwrap()), s.root),
    "log": lambda s, _: Store(LoggingLayer(s.unwrap()), s.root),
    "cache": lambda s, c: Store(ReadCacheLayer(s.unwrap(), c, max_bytes=_CACHE_BYTES), s.root),
    "limit": lambda s, _: Store(ConcurrencyLimitLayer(s.unwrap(), 4), s.root),
    "faults": lambda s, _: Store(FaultInjectionLayer(s.unwrap()), s.root),  # none injected
    "stacked": _stacked,
    "mirror1": lambda s, _: Store(MirrorBackend([s])),
    "composite1": lambda s, _: CompositeStore([Tier("only", s)]),
}

WRAPPER_VARIANTS: tuple[str, ...] = tuple(_BUILDERS)
"""Every wrapper variant: each layer alone, all stacked, a one-member mirror and
composite. Memory and local files run all of them."""

SERVER_WRAPPER_VARIANTS: tuple[str, ...] = ("stacked", "mirror1", "composite1")
"""The wrapper variants a quick server backend runs (CI time): all layers at once, and
the one-member mirror and composite."""

SLOW_SERVER_WRAPPER_VARIANTS: tuple[str, ...] = ("stacked",)
"""The wrapper variant the slowest servers run (CI time: each variant costs a full suite
run, 15-35 s against S3, Azure, SFTP, SQLite and PostgreSQL): all layers at once. The
mirror and composite run on memory, local files, GCS and the channel backend."""

WRAPPER_NOT_APPLICABLE: Mapping[str, Mapping[str, str]] = {}
"""Test name → {variant → reason}: behaviour a wrapper cannot have by design. Skipped
with the reason in the report."""

WRAPPER_EXPECTED_FAILURES: Mapping[str, Mapping[str, str]] = {}
"""Test name → {variant → reason}: known defects of a wrapper, run as strict xfails
(so the entry must go once the defect is fixed)."""


def mark_gaps(
    request: pytest.FixtureRequest,
    name: str,
    variant: str,
    expected_failures: Mapping[str, str | tuple[tuple[str, ...], str]],
) -> None:
    """Apply strict xfails to the test ``name`` on ``variant``: the backend's declared gaps
    (``expected_failures``, see ``StoreConformance``), and the wrappers' known defects."""
    gap = expected_failures.get(name)
    if gap is not None:
        variants, reason = ((), gap) if isinstance(gap, str) else gap
        # A wrapper shows the backend's gaps, unless the entry names wrappers itself
        # (a wrapper that hides the gap, or one the gap shows only through).
        inherit = is_wrapper(variant) and not any(is_wrapper(v) for v in variants)
        seen_as = "plain" if inherit else variant
        if not variants or seen_as in variants:
            request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    defect = WRAPPER_EXPECTED_FAILURES.get(name, {}).get(variant)
    if defect is not None:
        request.applymarker(pytest.mark.xfail(reason=defect, strict=True))


def is_wrapper(variant: str) -> bool:
    """True for a wrapper variant (not ``plain``, ``child`` or ``basic``)."""
    return variant in _BUILDERS


def wrap(variant: str, store: Store, cache: Path) -> Store:
    """``store`` seen through the wrapper ``variant`` (``cache``: a folder for the read
    cache's files)."""
    return _BUILDERS[variant](store, cache)
