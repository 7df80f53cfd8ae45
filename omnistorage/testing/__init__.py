"""The conformance suite every backend runs (Go CDK's ``drivertest``, rclone's ``fstests``).

A backend's test file is a few lines::

    import pytest
    from omnistorage import Store, MemoryBackend
    from omnistorage.testing import StoreConformance, make_state_machine

    class TestMemory(StoreConformance):
        backend_name = "memory"

        @pytest.fixture
        def empty_store(self):
            store = Store(MemoryBackend())
            yield store

    TestMemoryModel = make_state_machine(lambda: Store(MemoryBackend())).TestCase

``empty_store`` must yield an empty store over its *own* backend instance
(it may share a server, bucket or folder with other tests under a unique
root). Each test runs once per variant: ``[memory]`` (as given),
``[memory-child]`` (under a ``child()`` prefix) and ``[memory-basic]``
(the same backend seen through the basic interface only, so every Store
fallback is checked against the same expectations as the fast paths).
A harness may add the wrapper variants (:data:`WRAPPER_VARIANTS`: behind each
layer, all layers stacked, inside a one-member mirror and a one-tier composite;
:data:`SERVER_WRAPPER_VARIANTS`: the stacked, mirror and composite ones;
:data:`SLOW_SERVER_WRAPPER_VARIANTS`: the stacked one), so a
wrapper that drops one of the backend's promises fails the suite the backend passes.

Tests are gated by capability: a test of ``CONDITIONAL_WRITE`` runs exactly
when the backend declares it, so a declared capability is one the suite has
passed. Known gaps of an emulator go in ``expected_failures`` (test name →
reason) and run as strict expected failures, never silently skipped.

Read-only backends (a web server, a query materializer) run
:class:`ReadOnlyConformance` instead, over a store that already holds
:data:`READONLY_FIXTURE` (see :mod:`omnistorage.testing.readonly`).

Needs pytest and hypothesis (the ``dev`` extra).
"""

from omnistorage.testing._integrity import FOREIGN_CANDIDATES, driver_of
from omnistorage.testing._marks import CAPABILITY_TESTS, covers, requires
from omnistorage.testing._wrapped import (
    SERVER_WRAPPER_VARIANTS,
    SLOW_SERVER_WRAPPER_VARIANTS,
    WRAPPER_VARIANTS,
)
from omnistorage.testing.basic import BasicOnly
from omnistorage.testing.conformance import StoreConformance
from omnistorage.testing.race import RaceResult, race, race_create_only
from omnistorage.testing.readonly import READONLY_FIXTURE, ReadOnlyConformance
from omnistorage.testing.stateful import make_state_machine

__all__ = [
    "CAPABILITY_TESTS",
    "FOREIGN_CANDIDATES",
    "READONLY_FIXTURE",
    "SERVER_WRAPPER_VARIANTS",
    "SLOW_SERVER_WRAPPER_VARIANTS",
    "WRAPPER_VARIANTS",
    "BasicOnly",
    "RaceResult",
    "ReadOnlyConformance",
    "StoreConformance",
    "covers",
    "driver_of",
    "make_state_machine",
    "race",
    "race_create_only",
    "requires",
]
