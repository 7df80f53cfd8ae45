"""Any JSON values written through the async records pipeline read back equal (the
codecs and NDJSON are the sync layers' own; this checks the async sends and reads)."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnistorage.aio import AsyncMemoryBackend, AsyncStore
from omnistorage.aio.records import open_reader, open_writer

CODECS = {"none": "", "gzip": ".gz", "zstd": ".zst", "snappy": ".sz"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner),
            max_leaves=6,
        ),
        max_size=60,
    ),
    st.sampled_from(sorted(CODECS)),
)
def test_any_json_values_round_trip_through_the_async_pipeline(
    values: list[Any], codec: str
) -> None:
    async def round_trip() -> list[Any]:
        store = AsyncStore(AsyncMemoryBackend())
        key = f"v.ndjson{CODECS[codec]}"
        async with open_writer(store, key, batch_bytes=64) as out:
            for value in values:
                await out.write(value)
        reader = open_reader(store, key)
        async with reader:
            batches = []
            while batch := await reader.read_batch():
                batches += batch
            return batches

    assert asyncio.run(round_trip()) == values
