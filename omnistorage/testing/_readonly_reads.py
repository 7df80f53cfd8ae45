"""Read-only conformance checks of reads (whole, ranged, seekable, concurrent) and of
file queries (``is_file``, ``exists``, ``get_file_info``, ``resolve``): part of
:class:`omnistorage.testing.readonly.ReadOnlyConformance`.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnistorage import paths
from omnistorage.capabilities import Capability
from omnistorage.errors import (
    NotFound,
    StorageError,
)
from omnistorage.store import Store
from omnistorage.testing._marks import covers, requires
from omnistorage.testing._readonly_base import MODEL, ReadOnlyHarness
from omnistorage.testing._tree import (
    edge_ranges,
    folders_of,
)

__all__ = ["ReadChecks"]


class ReadChecks(ReadOnlyHarness):
    """Reads and file queries, compared byte for byte with the fixture."""

    # ------------------------------------------------------------ reads

    def test_read_bytes_returns_every_file_exactly(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        for key, data in files.items():
            assert store.read_bytes(key) == data, key

    def test_ping_answers_with_or_without_listings(self, store: Store) -> None:
        store.ping()  # a listing call, or (no LIST) asking for a reserved name

    @requires(Capability.READ_INFO, Capability.METADATA)
    def test_a_read_carries_the_info_stat_gives(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        for key, data in files.items():
            expected = store.get_file_info(key)
            with store.read(key) as stream:
                assert stream.read() == data
                info = stream.info  # type: ignore[attr-defined]
            assert info == expected, key

    def test_read_streams_in_chunks(self, store: Store, files: Mapping[str, bytes]) -> None:
        key = self._largest(files)
        parts = []
        with store.read(key) as stream:
            while chunk := stream.read(70_000):
                assert len(chunk) <= 70_000
                parts.append(chunk)
        assert b"".join(parts) == files[key]

    def test_read_text_decodes_text_files(self, store: Store, files: Mapping[str, bytes]) -> None:
        for key, data in files.items():
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            assert store.read_text(key) == text, key

    @covers(Capability.RANGE_READ)
    def test_read_range_slices_every_file_at_its_edges(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        for key, data in files.items():
            for offset, length in edge_ranges(len(data)):
                got = store.read_range(key, offset, length)
                assert got == data[offset : offset + length], (key, offset, length)

    @covers(Capability.RANGE_READ)
    @settings(MODEL, max_examples=25)
    @given(picks=st.data())
    def test_random_ranges_match_the_content(
        self, store: Store, files: Mapping[str, bytes], picks: st.DataObject
    ) -> None:
        key = picks.draw(st.sampled_from(sorted(files)), label="key")
        size = len(files[key])
        offset = picks.draw(st.integers(0, size + 8), label="offset")
        length = picks.draw(st.integers(0, size + 8), label="length")
        assert store.read_range(key, offset, length) == files[key][offset : offset + length]

    def test_read_range_of_a_missing_file_raises_not_found(self, store: Store) -> None:
        for length in (0, 4):
            with pytest.raises(NotFound):
                store.read_range("no/such/file.bin", 0, length)

    @covers(Capability.PINNED_READ)
    def test_read_seekable_seeks_and_reads_like_a_file(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        key = self._largest(files)
        data = files[key]
        with store.read_seekable(key) as f:
            assert f.seekable()
            f.seek(len(data) // 2)
            assert f.read(1000) == data[len(data) // 2 : len(data) // 2 + 1000]
            f.seek(-5, io.SEEK_END)
            assert f.read() == data[-5:]
            assert f.read(10) == b""
            f.seek(3)
            assert f.tell() == 3
            f.seek(4, io.SEEK_CUR)
            assert f.read(9) == data[7:16]
            f.seek(len(data) + 100)
            assert f.read(1) == b""
            f.seek(0)
            assert f.read() == data

    @covers(Capability.PINNED_READ)
    @settings(MODEL, max_examples=15)
    @given(picks=st.data())
    def test_random_seeks_match_the_content(
        self, store: Store, files: Mapping[str, bytes], picks: st.DataObject
    ) -> None:
        key = picks.draw(st.sampled_from(sorted(files)), label="key")
        data = files[key]
        position = 0
        with store.read_seekable(key) as f:
            for _ in range(picks.draw(st.integers(1, 6), label="steps")):
                position = picks.draw(st.integers(0, len(data) + 4), label="seek")
                assert f.seek(position) == position
                size = picks.draw(st.integers(0, 200_000), label="read")
                assert f.read(size) == data[position : position + size]
                position = min(position + size, max(position, len(data)))
                assert f.tell() == position

    def test_read_seekable_of_a_missing_file_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFound):
            store.read_seekable("no/such/file.bin")

    def test_reading_a_missing_file_raises_not_found_with_context(self, store: Store) -> None:
        with pytest.raises(NotFound) as info:
            store.read_bytes("no/such/file.txt")
        error = info.value
        assert isinstance(error, FileNotFoundError)
        assert (error.path, error.op, error.temporary) == ("no/such/file.txt", "read", False)
        assert error.backend == store.unwrap().name
        assert error.__cause__ is not None
        assert not isinstance(error.__cause__, StorageError)
        with pytest.raises(NotFound), store.read("no/such/file.txt") as stream:
            stream.read()

    def test_reading_a_folder_or_below_a_file_raises_not_found(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        for folder in sorted(folders_of(files)):
            with pytest.raises(NotFound):
                store.read_bytes(folder)
        for key in files:
            with pytest.raises(NotFound):
                store.read_bytes(f"{key}/below")

    def test_concurrent_reads_return_the_right_bytes(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        failures: list[str] = []

        def read_all(keys: list[str]) -> None:
            for key in keys:
                if store.read_bytes(key) != files[key]:
                    failures.append(key)

        keys = sorted(files)
        workers = [threading.Thread(target=read_all, args=(keys[i:] + keys[:i],)) for i in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert failures == []

    # ------------------------------------------------------------ queries

    def test_every_file_is_a_file(self, store: Store, files: Mapping[str, bytes]) -> None:
        for key in files:
            assert store.is_file(key), key
            assert store.exists(key), key

    def test_folders_missing_keys_and_keys_below_files_are_not_files(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        for folder in folders_of(files):
            assert not store.is_file(folder), folder
        for key in files:
            assert not store.is_file(f"{key}/below"), key
            assert not store.is_file(f"{key}.missing"), key

    @requires(Capability.LIST)
    def test_folders_exist_and_nothing_else_does(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        assert store.exists("")
        assert store.is_folder("")
        for folder in folders_of(files):
            assert store.is_folder(folder), folder
            assert store.exists(folder), folder
        for key in files:
            assert not store.is_folder(key), key
            assert not store.exists(f"{key}.missing"), key
        for folder in folders_of(files):  # "dat" is nothing, though "data" is a folder
            stem = folder[:-1]
            if stem and paths.is_valid_key(stem) and stem not in files:
                assert store.is_folder(stem) == (stem in folders_of(files)), stem
        assert not store.is_folder("no-such-folder")
        assert not store.exists("no-such-folder")

    @covers(Capability.METADATA)
    def test_get_file_info_describes_every_file(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        for key, data in files.items():
            info = store.get_file_info(key)
            assert info.path == key
            assert info.name == paths.basename(key)
            assert not info.is_dir
            assert self._size_ok(info.size, data), (key, info.size)
            assert info.modified is None or info.modified.tzinfo is not None

    def test_get_file_info_of_a_missing_file_or_a_folder_raises_not_found(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        with pytest.raises(NotFound):
            store.get_file_info("no/such/file.txt")
        for folder in folders_of(files):
            with pytest.raises(NotFound):
                store.get_file_info(folder)

    def test_resolve_and_native_paths_round_trip_every_key(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        for key in files:
            plan = store.resolve(key)
            assert plan.path == key
            assert plan.key.endswith(key)
            assert plan.native_path == store.native_path(key)
            assert store.to_key(store.native_path(key)) == key
