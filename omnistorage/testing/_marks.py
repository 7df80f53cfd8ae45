"""Capability marks for suite tests: which tests a capability needs and which it covers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from omnistorage.capabilities import Capability

__all__ = ["CAPABILITY_TESTS", "covers", "requires"]

F = TypeVar("F", bound=Callable[..., Any])

CAPABILITY_TESTS: dict[Capability, list[str]] = {}
"""Which suite tests exercise each capability (filled by :func:`requires`)."""


def requires(*capabilities: Capability) -> Callable[[F], F]:
    """Run the decorated test only on stores that declare every capability."""

    def mark(test: F) -> F:
        test._omni_requires = capabilities  # type: ignore[attr-defined]
        for capability in capabilities:
            CAPABILITY_TESTS.setdefault(capability, []).append(test.__name__)
        return test

    return mark


def covers(*capabilities: Capability) -> Callable[[F], F]:
    """Record that the decorated test exercises ``capabilities`` natively where they are
    declared, while still running (through the Store's fallback) where they are not."""

    def mark(test: F) -> F:
        for capability in capabilities:
            CAPABILITY_TESTS.setdefault(capability, []).append(test.__name__)
        return test

    return mark
