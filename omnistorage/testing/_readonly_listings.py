"""Read-only conformance checks of listings (shallow, recursive, folder-aware, patterns,
``glob``, folder queries, and their refusal without ``LIST``): part of
:class:`omnistorage.testing.readonly.ReadOnlyConformance`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping

import pytest

from omnistorage import paths
from omnistorage.capabilities import Capability
from omnistorage.errors import (
    CapabilityNotSupported,
)
from omnistorage.store import Store
from omnistorage.testing._marks import covers, requires
from omnistorage.testing._readonly_base import ReadOnlyHarness
from omnistorage.testing._tree import (
    below,
    directly_in,
    folders_of,
    glob_match,
)

__all__ = ["ListingChecks"]


class ListingChecks(ReadOnlyHarness):
    """Listings and folder queries, derived from the fixture."""

    # ------------------------------------------------------------ listing

    @requires(Capability.LIST)
    def test_shallow_listings_match_the_fixture(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        for folder in ["", *sorted(folders_of(files))]:
            found = sorted(info.path for info in store.list_files(folder))
            assert found == sorted(directly_in(files, folder)), folder

    @requires(Capability.LIST)
    def test_recursive_listings_match_the_fixture(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        for folder in ["", *sorted(folders_of(files))]:
            found = sorted(info.path for info in store.list_files(folder, recursive=True))
            assert found == sorted(below(files, folder)), folder

    @requires(Capability.LIST)
    def test_listings_are_folder_aware(self, store: Store, files: Mapping[str, bytes]) -> None:
        for folder in sorted(folders_of(files)):
            lookalikes = {
                key for key in files if key.startswith(folder) and key not in below(files, folder)
            }
            listed = {info.path for info in store.list_files(folder, recursive=True)}
            assert not listed & lookalikes, folder
            assert all(paths.is_within(path, folder) for path in listed), folder

    @requires(Capability.LIST)
    def test_listings_report_sizes(self, store: Store, files: Mapping[str, bytes]) -> None:
        for info in store.list_files(recursive=True):
            assert self._size_ok(info.size, files[info.path]), info
            assert not info.is_dir

    @requires(Capability.LIST)
    def test_list_folders_matches_the_fixture(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        folders = folders_of(files)
        for folder in ["", *sorted(folders)]:
            assert sorted(store.list_folders(folder)) == sorted(directly_in(folders, folder))

    @requires(Capability.LIST)
    def test_patterns_and_depth_limit_listings(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        names = {paths.basename(key) for key in files}
        for suffix in sorted({name.rpartition(".")[2] for name in names if "." in name}):
            pattern = f"*.{suffix}"
            found = sorted(i.path for i in store.list_files(recursive=True, pattern=pattern))
            expected = sorted(k for k in files if fnmatch.fnmatchcase(paths.basename(k), pattern))
            assert found == expected, pattern
        for depth in (1, 2, 3):
            found = sorted(i.path for i in store.list_files(recursive=True, max_depth=depth))
            assert found == sorted(k for k in files if paths.depth(k) <= depth), depth

    @requires(Capability.LIST)
    @covers(Capability.GLOB)
    def test_glob_matches_the_fixture(self, store: Store, files: Mapping[str, bytes]) -> None:
        patterns = ["*", "*/*", "**", "**/*.csv", "**/*.txt", "*/sub/*", "*/[ab]*", "d*/**"]
        patterns += sorted({f"{paths.parent(k)}/*" for k in files if paths.parent(k)})
        for pattern in patterns:
            found = sorted(i.path for i in store.glob(pattern))
            expected = sorted(k for k in files if glob_match(pattern.split("/"), k.split("/")))
            assert found == expected, pattern
        for key in files:
            if not any(c in key for c in "*?["):
                assert [i.path for i in store.glob(key)] == [key]
        assert list(store.glob("no-such-folder/*")) == []

    @requires(Capability.LIST)
    def test_listing_a_missing_folder_or_a_file_is_empty(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        assert list(store.list_files("no-such-folder", recursive=True)) == []
        assert list(store.list_folders("no-such-folder")) == []
        for key in files:
            assert list(store.list_files(key, recursive=True)) == [], key

    @requires(Capability.LIST)
    def test_listing_accepts_a_trailing_slash(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        for folder in sorted(folders_of(files)):
            found = sorted(info.path for info in store.list_files(f"{folder}/"))
            assert found == sorted(directly_in(files, folder))

    @requires(Capability.LIST)
    def test_get_folder_info_counts_files_below(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        for folder in ["", *sorted(folders_of(files))]:
            inside = below(files, folder)
            info = store.get_folder_info(folder)
            assert info.file_count == len(inside), folder
            if not self.size_may_be_unknown:
                assert info.total_size == sum(len(files[k]) for k in inside), folder

    def test_folder_queries_without_list_raise_capability_not_supported(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        if store.supports(Capability.LIST):
            pytest.skip(f"not applicable to {self.backend_name}: it declares list")
        recording, recorder = self._recording(store)
        calls: list[Callable[[], object]] = [
            lambda: list(recording.list_files()),
            lambda: list(recording.list_files("data", recursive=True)),
            lambda: list(recording.list_folders()),
            lambda: list(recording.glob("*.txt")),
            lambda: recording.get_folder_info(""),
        ]
        for call in calls:
            with pytest.raises(CapabilityNotSupported):
                call()
        assert recorder.calls == []
        for folder in sorted(folders_of(files)):
            with pytest.raises(CapabilityNotSupported):
                store.is_folder(folder)
            with pytest.raises(CapabilityNotSupported):  # not a file; a folder cannot be told
                store.exists(folder)
