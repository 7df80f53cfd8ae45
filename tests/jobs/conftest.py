"""Fixtures of the job tests: a dataset store per backend that declares DEFERRED_PUBLISH."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from omnistorage import Store
from tests.jobs._stores import SERVER_KINDS, Spec, new_spec, open_spec
from tests.support import remote

KINDS = ("memory", "local", "sqlite", *SERVER_KINDS)


@pytest.fixture(
    params=[pytest.param(k, marks=[pytest.mark.server] if k in SERVER_KINDS else []) for k in KINDS]
)
def spec(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Spec]:
    made = new_spec(request.param, str(tmp_path_factory.mktemp("jobs")))
    keep = open_spec(made)  # holds a memory space open for the test
    yield made
    if request.param in SERVER_KINDS:
        keep.cleanup(older_than=timedelta(0))
        remote.wipe(keep)
    else:
        keep.close()


@pytest.fixture
def store(spec: Spec) -> Iterator[Store]:
    made = open_spec(spec)
    yield made
    made.close()
