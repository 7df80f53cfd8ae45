"""March: listings sorted with bounded memory (spilled runs), walked in lock step."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from omnistorage import MemoryBackend, Store
from omnistorage.sync._entry import Entry
from omnistorage.sync._march import SortedListing, march

segment = st.text(alphabet="ab-_.é0Z", min_size=1, max_size=4).filter(
    lambda s: s not in (".", "..")
)
key = st.lists(segment, min_size=1, max_size=3).map("/".join)


def store_with(keys: set[str]) -> Store:
    store = Store(MemoryBackend())
    for k in keys:
        store.write(k, k.encode())
    return store


@settings(max_examples=40, deadline=None)
@given(keys=st.sets(key, max_size=40), run_size=st.integers(1, 7))
def test_a_listing_comes_out_sorted_whatever_the_run_size(keys: set[str], run_size: int) -> None:
    with SortedListing(store_with(keys), run_size=run_size) as listing:
        listing.load()
        assert [e.path for e in listing] == sorted(keys)
        assert [e.path for e in listing] == sorted(keys)  # iterable more than once
        assert listing.count == len(keys)
        assert listing.bytes == sum(len(k.encode()) for k in keys)


def test_spilled_runs_keep_every_field_and_are_removed_on_close(tmp_path: object) -> None:
    store = Store(MemoryBackend())
    for i in range(25):
        store.write(f"k{i:02d}", b"x" * i, content_type="text/plain", metadata={"n": str(i)})
    listing = SortedListing(store, run_size=4, spill_dir=str(tmp_path))
    listing.load()
    assert os.listdir(str(tmp_path))  # runs were spilled
    entries = list(listing)
    assert [e.size for e in entries] == list(range(25))
    assert entries[3].metadata == {"n": "3"}
    assert entries[3].content_type == "text/plain"
    assert entries[3].hashes is not None
    assert "md5" in entries[3].hashes
    listing.close()
    assert os.listdir(str(tmp_path)) == []


@settings(max_examples=60, deadline=None)
@given(left=st.sets(key, max_size=30), right=st.sets(key, max_size=30))
def test_march_pairs_every_path_once(left: set[str], right: set[str]) -> None:
    def entries(keys: set[str]) -> list[Entry]:
        return [Entry(k, 0, None, None, None, None, None) for k in sorted(keys)]

    pairs = list(march(entries(left), entries(right)))
    paths = [(s or d).path for s, d in pairs]  # type: ignore[union-attr]
    assert paths == sorted(left | right)
    for s, d in pairs:
        path = (s or d).path  # type: ignore[union-attr]
        assert (s is not None) == (path in left)
        assert (d is not None) == (path in right)
