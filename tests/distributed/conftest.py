"""The clusters of the distributed tests: one per test module that asks for it, its
workers holding the S3 secret in their environment (tests/support/cluster.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.cluster import DaskHarness, RayHarness, secret_env


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A Dask client of a LocalCluster of 2 worker processes."""
    with secret_env():
        harness = DaskHarness()
        try:
            yield harness.client
        finally:
            harness.close()


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[str]:
    """A local Ray instance of 2 CPUs; its address."""
    with secret_env():
        harness = RayHarness()
        try:
            yield harness.address
        finally:
            harness.close()
