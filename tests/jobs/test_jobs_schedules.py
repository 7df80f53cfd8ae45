"""Hypothesis drives kills and retries through the job commit protocol: tasks killed
mid-shard or between staging and task commit, speculative and late attempts, a driver
killed before, during and after its commit or losing replies, then resumed or aborted.
After every step a reader sees no dataset, or exactly one attempt per task with every
shard whole; at the end nothing stray is left (omnistorage.testing.jobs)."""

from __future__ import annotations

import tempfile
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnistorage.testing.jobs import DRIVER_FAULTS, FATES, Schedule, run
from tests.jobs._stores import SERVER_KINDS, new_spec, open_spec
from tests.support import remote

schedules = st.builds(
    Schedule,
    tasks=st.lists(
        st.lists(st.sampled_from(FATES), min_size=1, max_size=3).map(tuple),
        min_size=1,
        max_size=4,
    ).map(tuple),
    driver=st.lists(st.tuples(st.sampled_from(DRIVER_FAULTS), st.integers(1, 4)), max_size=3).map(
        tuple
    ),
    end=st.sampled_from(["commit", "commit", "abort"]),
    shards=st.integers(1, 3),
    records=st.integers(0, 9),
)


def _play(kind: str, schedule: Schedule) -> None:
    spec = new_spec(kind, tempfile.mkdtemp(prefix="jobs-hyp-"))
    store = open_spec(spec)
    try:
        run(store, schedule, job_id=f"j{uuid.uuid4().hex[:8]}")
    finally:
        if kind in SERVER_KINDS:
            remote.wipe(store)
        else:
            store.close()


@pytest.mark.parametrize("kind", ["memory", "local"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=schedules)
def test_any_schedule_of_kills_and_retries_keeps_the_invariant(
    kind: str, schedule: Schedule
) -> None:
    _play(kind, schedule)


@pytest.mark.server
@pytest.mark.parametrize("kind", SERVER_KINDS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=schedules)
def test_any_schedule_keeps_the_invariant_on_servers(kind: str, schedule: Schedule) -> None:
    _play(kind, schedule)
