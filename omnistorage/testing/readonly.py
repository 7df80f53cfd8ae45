"""The conformance suite for read-only backends: subclass :class:`ReadOnlyConformance`.

A read-only backend (a web server, a query materializer, a store behind
:class:`~omnistorage.ext.ReadOnlyLayer`) cannot be emptied and filled by the
suite, so the subclass hands it a store that already holds a known tree, and
every expectation is derived from that tree::

    import pytest
    from omnistorage import MemoryBackend, Store
    from omnistorage.ext import ReadOnlyLayer
    from omnistorage.testing import READONLY_FIXTURE, ReadOnlyConformance

    class TestReadOnlyMemory(ReadOnlyConformance):
        backend_name = "memory"

        @pytest.fixture
        def populated_store(self):
            memory = MemoryBackend()
            for key, data in READONLY_FIXTURE.items():
                Store(memory).write(key, data)
            return Store(ReadOnlyLayer(memory))

The API, all of it:

- ``populated_store`` (a pytest fixture the subclass defines): a store whose
  root holds exactly :attr:`~ReadOnlyConformance.fixture`, over its *own*
  backend instance (one test closes it).
- :attr:`~ReadOnlyConformance.fixture`: the files that store holds, key →
  exact bytes; :data:`READONLY_FIXTURE` unless the subclass can only hold
  another tree (then it should keep the same shapes: nested folders, an empty
  file, a multi-MiB file, names outside ASCII and URL syntax, and names that
  are prefixes of others such as ``data/`` and ``database.txt``).
- :attr:`~ReadOnlyConformance.backend_name`,
  :attr:`~ReadOnlyConformance.variants`,
  :attr:`~ReadOnlyConformance.child_folder`,
  :attr:`~ReadOnlyConformance.size_may_be_unknown`,
  :attr:`~ReadOnlyConformance.expected_failures` and
  :attr:`~ReadOnlyConformance.not_applicable`, as documented on the class.

What it checks, gated by the capabilities the backend declares:

- reads (``read``, ``read_bytes``, ``read_range`` with offsets at and past the
  end and zero lengths, ``read_seekable``), compared byte for byte with the
  fixture, also as a Hypothesis model of random ranges and seeks;
- ``is_file``/``exists``/``get_file_info`` for every file, ``NotFound`` for
  missing keys, for folders and below files;
- with ``LIST``: folder queries, shallow and recursive listings, sizes,
  ``list_folders``, patterns, ``max_depth`` and ``glob``, all folder-aware
  (``data`` never holds ``database.txt``). Without ``LIST`` every folder
  query raises ``CapabilityNotSupported``; a driver without ``LIST`` makes
  its ``list()`` raise, before any I/O, an error it classifies
  ``NOT_SUPPORTED``;
- hostile keys raise ``InvalidPath`` and every write, delete, copy, move and
  ``make_folder`` raises ``CapabilityNotSupported``, both before the driver
  sees any call;
- the declared features hold no capability that changes data, and every
  other one is exercised here.

Needs pytest and hypothesis (the ``dev`` extra).
"""

from __future__ import annotations

import fnmatch
import io
import threading
from collections.abc import Callable, Mapping
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnistorage import paths
from omnistorage.capabilities import Capability
from omnistorage.driver import as_extended
from omnistorage.errors import (
    BackendClosed,
    CapabilityNotSupported,
    InvalidPath,
    NotFound,
    StorageError,
)
from omnistorage.store import Store
from omnistorage.testing._driver import DriverClassTests, ReadOnlyDriverTests
from omnistorage.testing._marks import CAPABILITY_TESTS, covers, requires
from omnistorage.testing._recorder import Recorder
from omnistorage.testing._tree import (
    READONLY_FIXTURE,
    WRITE_CAPABILITIES,
    below,
    directly_in,
    edge_ranges,
    folders_of,
    glob_match,
)
from omnistorage.testing.conformance import HOSTILE_KEYS

__all__ = ["READONLY_FIXTURE", "WRITE_CAPABILITIES", "ReadOnlyConformance"]


_MODEL = settings(
    deadline=None,
    # The store fixture is read-only, so sharing it between examples is safe; pytest
    # makes a suite instance per test, which is what "differing executors" notices.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
)

# ---------------------------------------------------------------- the suite


class ReadOnlyConformance(DriverClassTests, ReadOnlyDriverTests):
    """Behaviour every read-only backend must show (see the module docstring).

    Subclasses set :attr:`backend_name` and define a ``populated_store``
    fixture returning a store whose root holds :attr:`fixture`.
    """

    backend_name: ClassVar[str] = "backend"
    fixture: ClassVar[Mapping[str, bytes]] = READONLY_FIXTURE
    """The files ``populated_store`` holds: key → exact bytes."""
    variants: ClassVar[tuple[str, ...]] = ("plain", "child")
    """``plain`` runs on ``populated_store``; ``child`` on its ``child(child_folder)``,
    with the expectations rebased."""
    child_folder: ClassVar[str | None] = None
    """The folder of the ``child`` variant; ``None``: the first folder of :attr:`fixture`
    (in sorted order) that holds a sub-folder."""
    size_may_be_unknown: ClassVar[bool] = False
    """True where ``ObjectInfo.size`` may be ``None`` (content produced on read)."""
    expected_failures: ClassVar[Mapping[str, str | tuple[tuple[str, ...], str]]] = {}
    """Test name → reason, or → (variants, reason): known gaps, run as strict xfails."""
    not_applicable: ClassVar[Mapping[str, str]] = {}
    """Test name → reason: behaviour the backend by design does not have (skipped)."""

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "variant" in metafunc.fixturenames:
            ids = [
                self.backend_name if v == "plain" else f"{self.backend_name}-{v}"
                for v in self.variants
            ]
            metafunc.parametrize("variant", self.variants, ids=ids)

    # ------------------------------------------------------------ fixtures

    def _child_folder(self) -> str:
        if self.child_folder is not None:
            return self.child_folder
        folders = sorted(folders_of(self.fixture))
        for folder in folders:
            if any(paths.parent(other) == folder for other in folders):
                return folder
        pytest.fail(f"{self.backend_name}: the fixture has no nested folder for the child variant")

    @pytest.fixture
    def files(self, variant: str) -> Mapping[str, bytes]:
        """The fixture as the variant's store sees it: store-relative key → bytes."""
        if variant != "child":
            return self.fixture
        folder = self._child_folder()
        return {
            paths.relative_to(key, folder): data
            for key, data in self.fixture.items()
            if paths.is_within(key, folder)
        }

    @pytest.fixture
    def store(self, request: pytest.FixtureRequest, variant: str, populated_store: Store) -> Store:
        name = request.function.__name__
        if name in self.not_applicable:
            pytest.skip(f"not applicable to {self.backend_name}: {self.not_applicable[name]}")
        gap = self.expected_failures.get(name)
        if gap is not None:
            variants, reason = ((), gap) if isinstance(gap, str) else gap
            if not variants or variant in variants:
                request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
        store = (
            populated_store.child(self._child_folder()) if variant == "child" else populated_store
        )
        for capability in getattr(request.function, "_omni_requires", ()):
            if not store.supports(capability):
                pytest.skip(f"{self.backend_name} ({variant}) does not declare {capability}")
        return store

    @staticmethod
    def _recording(store: Store) -> tuple[Store, Recorder]:
        recorder = Recorder(store.unwrap())
        return Store(recorder, store.root), recorder

    def _size_ok(self, size: int | None, data: bytes) -> bool:
        return size == len(data) or (self.size_may_be_unknown and size is None)

    @staticmethod
    def _largest(files: Mapping[str, bytes]) -> str:
        return max(files, key=lambda key: (len(files[key]), key))

    # ------------------------------------------------------------ reads

    def test_read_bytes_returns_every_file_exactly(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        for key, data in files.items():
            assert store.read_bytes(key) == data, key

    def test_ping_answers_with_or_without_listings(self, store: Store) -> None:
        store.ping()  # a listing call, or (no LIST) asking for a reserved name

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
    @settings(_MODEL, max_examples=25)
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
    @settings(_MODEL, max_examples=15)
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

    # ------------------------------------------------------------ refusals

    def test_declared_features_change_nothing_and_are_exercised(self, store: Store) -> None:
        assert as_extended(store.unwrap()) is not None, "a basic driver is taken to write"
        declared = store.features.capabilities
        assert Capability.READ in declared
        assert not declared & WRITE_CAPABILITIES, sorted(declared & WRITE_CAPABILITIES)
        own = {name for name in dir(ReadOnlyConformance) if name.startswith("test_")}
        for capability in declared - {Capability.READ, Capability.LIST}:
            assert own & set(CAPABILITY_TESTS.get(capability, ())), (
                f"no read-only suite test backs {capability}"
            )

    def test_changes_are_refused_before_any_io(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        recording, recorder = self._recording(store)
        key = sorted(files)[0]
        folder = sorted(folders_of(files) or {"folder"})[0]
        calls: dict[str, Callable[[], object]] = {
            "write": lambda: recording.write("new.txt", b"x"),
            "write overwrite": lambda: recording.write(key, b"x", overwrite=True),
            "write_text": lambda: recording.write_text("new.txt", "x"),
            "write_atomic": lambda: recording.write_atomic("new.txt", b"x"),
            "open_atomic": lambda: recording.open_atomic("new.txt"),
            "open_writer": lambda: recording.open_writer(key, overwrite=True),
            "delete": lambda: recording.delete(key),
            "delete missing_ok": lambda: recording.delete("missing", missing_ok=True),
            "delete_folder": lambda: recording.delete_folder(folder, recursive=True),
            "make_folder": lambda: recording.make_folder("new-folder"),
            "copy": lambda: recording.copy(key, "copy.txt"),
            "copy overwrite": lambda: recording.copy(key, key, overwrite=True),
            "move": lambda: recording.move(key, "moved.txt", overwrite=True),
        }
        for what, call in calls.items():
            with pytest.raises(CapabilityNotSupported) as info:
                call()
            assert info.value.backend == store.unwrap().name, what
            assert recorder.calls == [], f"{what} reached the driver: {recorder.calls}"
        for key, data in files.items():
            assert store.read_bytes(key) == data

    @pytest.mark.parametrize("key", HOSTILE_KEYS, ids=repr)
    def test_hostile_keys_are_rejected_before_io(self, store: Store, key: str) -> None:
        recording, recorder = self._recording(store)
        calls: list[Callable[[], object]] = [
            lambda: recording.read_bytes(key),
            lambda: recording.read(key),
            lambda: recording.read_range(key, 0, 4),
            lambda: recording.read_seekable(key),
            lambda: recording.is_file(key),
            lambda: recording.get_file_info(key),
            lambda: recording.read_text(key),
        ]
        if key:
            calls.append(lambda: recording.exists(key))
        for call in calls:
            with pytest.raises(InvalidPath):
                call()
        assert recorder.calls == []

    def test_names_that_look_url_encoded_are_literal(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        from urllib.parse import unquote

        for key, data in files.items():
            decoded = unquote(key)
            if decoded == key:
                continue
            assert store.read_bytes(key) == data, key
            if decoded in files:
                continue
            if paths.is_valid_key(decoded):
                assert not store.is_file(decoded), decoded
            else:
                with pytest.raises(InvalidPath):
                    store.read_bytes(decoded)

    def test_use_after_close_raises_backend_closed(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        key = sorted(files)[0]
        store.read_bytes(key)
        store.close()
        with pytest.raises(BackendClosed):
            store.read_bytes(key)
        with pytest.raises(BackendClosed):
            store.is_file(key)
