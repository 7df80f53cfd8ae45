"""The shared behaviour tests: subclass :class:`StoreConformance` and provide ``empty_store``."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from omnistorage.capabilities import Capability
from omnistorage.errors import (
    AlreadyExists,
    BackendClosed,
    CapabilityNotSupported,
    DirectoryNotEmpty,
    InvalidPath,
    NotFound,
    StorageError,
)
from omnistorage.models import HashType
from omnistorage.store import Store
from omnistorage.testing._atomicity import AtomicityTests
from omnistorage.testing._driver import DriverClassTests
from omnistorage.testing._facts import FactTests
from omnistorage.testing._integrity import IntegrityTests
from omnistorage.testing._marks import CAPABILITY_TESTS, covers, requires
from omnistorage.testing._ownership import OwnershipTests
from omnistorage.testing._staged import StagedTests
from omnistorage.testing._wrapped import WRAPPER_NOT_APPLICABLE, is_wrapper, mark_gaps, wrap
from omnistorage.testing.basic import BasicOnly

__all__ = ["CAPABILITY_TESTS", "HOSTILE_KEYS", "StoreConformance", "requires"]

HOSTILE_KEYS = (
    "../x",
    "a/../../x",
    "/etc/passwd",
    "a\\..\\x",
    "a\x00b",
    "",
    "a//b",
    "a/",
    ".",
    "a/./b",
    "line\nbreak",
    "x" * 1025,
)

SPECIAL_KEYS = (
    "with space.txt",
    "caf\u00e9/na\u00efve.txt",
    "emoji-\U0001f600.bin",
    "%2e%2e",
    "a+b=c&d.txt",
    "q?x=1#frag",
    "...",
    "-dash",
)


def _hash(kind: HashType, data: bytes) -> str:
    if kind is HashType.CRC32C:
        import google_crc32c

        return f"{google_crc32c.value(data):08x}"
    return hashlib.new(kind.value, data).hexdigest()


class StoreConformance(
    AtomicityTests, IntegrityTests, FactTests, OwnershipTests, StagedTests, DriverClassTests
):
    """Behaviour every backend must show. Subclasses set :attr:`backend_name` and
    define an ``empty_store`` fixture; see :mod:`omnistorage.testing`."""

    backend_name: ClassVar[str] = "backend"
    variants: ClassVar[tuple[str, ...]] = ("plain", "child", "basic")
    """``plain``, ``child`` (under a prefix), ``basic`` (the basic interface only), and the
    wrapper variants of :mod:`omnistorage.testing._wrapped` a harness opts into."""
    expected_failures: ClassVar[Mapping[str, str | tuple[tuple[str, ...], str]]] = {}
    """Test name → reason, or → (variants, reason): known gaps of an emulator, run as
    strict xfails (on every variant, or only on the variants named). A wrapper variant
    inherits the ``plain`` variant's gaps, since it shows the backend's behaviour, unless
    the entry names wrapper variants itself."""
    not_applicable: ClassVar[Mapping[str, str]] = {}
    """Test name → reason: behaviour the backend by design does not have (a one-shot
    pipe cannot be read twice); these are skipped, with the reason in the report."""
    large_size: ClassVar[int] = 6 * 1024 * 1024
    race_size: ClassVar[int] = 2 * 1024 * 1024
    """Bytes each racing overwriter writes (more than one part or block where the
    backend stages them, so a commit can discard another writer's staged parts)."""
    racing_writers: ClassVar[int] = 4
    many_keys: ClassVar[int] = 1100
    mtime_tolerance: ClassVar[timedelta] = timedelta(minutes=2)

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "variant" in metafunc.fixturenames:
            ids = [
                self.backend_name if v == "plain" else f"{self.backend_name}-{v}"
                for v in self.variants
            ]
            metafunc.parametrize("variant", self.variants, ids=ids)

    @pytest.fixture
    def store(
        self,
        request: pytest.FixtureRequest,
        variant: str,
        empty_store: Store,
        tmp_path_factory: pytest.TempPathFactory,
    ) -> Store:
        name = request.function.__name__
        if name in self.not_applicable:
            pytest.skip(f"not applicable to {self.backend_name}: {self.not_applicable[name]}")
        by_design = WRAPPER_NOT_APPLICABLE.get(name, {}).get(variant)
        if by_design is not None:
            pytest.skip(f"not applicable to the {variant} wrapper: {by_design}")
        mark_gaps(request, name, variant, self.expected_failures)
        self._harness_store = empty_store if is_wrapper(variant) else None
        if variant == "child":
            store = empty_store.child("nested/child")
        elif variant == "basic":
            store = Store(BasicOnly(empty_store.unwrap()), empty_store.root)
        elif is_wrapper(variant):
            store = wrap(variant, empty_store, tmp_path_factory.mktemp("read-cache"))
        else:
            store = empty_store
        for capability in getattr(request.function, "_omni_requires", ()):
            if not store.supports(capability):
                pytest.skip(f"{self.backend_name} ({variant}) does not declare {capability}")
        return store

    # ------------------------------------------------------------ write and read

    def test_write_then_read_bytes(self, store: Store) -> None:
        result = store.write("a.txt", b"hello")
        assert result.size == 5
        assert result.path == "a.txt"
        assert store.read_bytes("a.txt") == b"hello"

    def test_write_text_then_read_text(self, store: Store) -> None:
        store.write_text("t.txt", "h\u00e9llo \u2028 w\u00f6rld\n")
        assert store.read_text("t.txt") == "h\u00e9llo \u2028 w\u00f6rld\n"

    def test_read_streams_in_chunks(self, store: Store) -> None:
        data = bytes(range(256)) * 1000
        store.write("chunks.bin", data)
        parts = []
        with store.read("chunks.bin") as stream:
            while chunk := stream.read(7000):
                parts.append(chunk)
        assert b"".join(parts) == data

    def test_write_streams_a_file_object(self, store: Store) -> None:
        data = b"0123456789abcdef" * (3 * 65536)
        result = store.write("stream.bin", io.BytesIO(data))
        assert result.size == len(data)
        assert store.read_bytes("stream.bin") == data

    def test_write_streams_an_iterable_of_chunks(self, store: Store) -> None:
        chunks = [bytes([i]) * 1000 for i in range(50)]
        store.write("iter.bin", iter(chunks))
        assert store.read_bytes("iter.bin") == b"".join(chunks)

    def test_empty_file_round_trips(self, store: Store) -> None:
        store.write("empty", b"")
        assert store.read_bytes("empty") == b""
        assert store.is_file("empty")
        assert store.get_file_info("empty").size == 0

    def test_nested_keys_create_their_folders(self, store: Store) -> None:
        store.write("x/y/z/deep.txt", b"deep")
        assert store.read_bytes("x/y/z/deep.txt") == b"deep"
        assert store.is_folder("x/y")

    def test_write_is_create_only_by_default(self, store: Store) -> None:
        store.write("once.txt", b"first")
        with pytest.raises(AlreadyExists) as info:
            store.write("once.txt", b"second")
        assert info.value.path == "once.txt"
        assert isinstance(info.value, FileExistsError)
        assert store.read_bytes("once.txt") == b"first"

    def test_overwrite_true_replaces(self, store: Store) -> None:
        store.write("o.txt", b"first")
        store.write("o.txt", b"second, longer", overwrite=True)
        assert store.read_bytes("o.txt") == b"second, longer"

    def test_read_missing_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFound) as info:
            store.read_bytes("missing.txt")
        assert isinstance(info.value, FileNotFoundError)
        assert info.value.path == "missing.txt"
        with pytest.raises(NotFound):  # at open or at the first read
            with store.read("missing.txt") as stream:
                stream.read()

    @covers(Capability.RANGE_READ)
    def test_read_range(self, store: Store) -> None:
        store.write("r.bin", b"0123456789")
        assert store.read_range("r.bin", 2, 3) == b"234"
        assert store.read_range("r.bin", 0, 10) == b"0123456789"
        assert store.read_range("r.bin", 8, 10) == b"89"
        assert store.read_range("r.bin", 10, 5) == b""
        assert store.read_range("r.bin", 3, 0) == b""

    def test_read_range_of_missing_file_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFound):
            store.read_range("nope.bin", 0, 4)

    def test_read_seekable(self, store: Store) -> None:
        data = bytes(range(256)) * 20
        store.write("seek.bin", data)
        with store.read_seekable("seek.bin") as f:
            assert f.seekable()
            f.seek(1000)
            assert f.read(10) == data[1000:1010]
            f.seek(-5, io.SEEK_END)
            assert f.read() == data[-5:]
            f.seek(3)
            assert f.tell() == 3
            assert f.read(4) == data[3:7]

    def test_binary_content_with_every_byte_value(self, store: Store) -> None:
        data = bytes(range(256)) * 4 + b"\r\n\x00\xff"
        store.write("bytes.bin", data)
        assert store.read_bytes("bytes.bin") == data

    def test_large_object_streams_in_and_out(self, store: Store) -> None:
        block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB, not all zeros
        blocks = self.large_size // len(block)
        digest = hashlib.sha256()

        def pieces() -> Iterator[bytes]:
            for i in range(blocks):
                piece = bytes([i % 256]) + block[1:]
                digest.update(piece)
                yield piece

        store.write("large.bin", pieces())
        assert store.get_file_info("large.bin").size == blocks * len(block)
        check = hashlib.sha256()
        with store.read("large.bin") as stream:
            while chunk := stream.read(1 << 20):
                check.update(chunk)
        assert check.hexdigest() == digest.hexdigest()

    # ------------------------------------------------------------ queries

    def test_exists_for_files_and_folders(self, store: Store) -> None:
        store.write("dir/file.txt", b"x")
        assert store.exists("dir/file.txt")
        assert store.exists("dir")
        assert store.exists("")
        assert not store.exists("dir/other.txt")
        assert not store.exists("di")

    def test_is_file_and_is_folder(self, store: Store) -> None:
        store.write("d/f.txt", b"x")
        assert store.is_file("d/f.txt")
        assert not store.is_folder("d/f.txt")
        assert store.is_folder("d")
        assert not store.is_file("d")
        assert not store.is_folder("nothing")
        assert store.is_folder("")

    def test_get_file_info(self, store: Store) -> None:
        before = datetime.now(UTC)
        store.write("info/data.bin", b"12345")
        info = store.get_file_info("info/data.bin")
        assert info.path == "info/data.bin"
        assert info.name == "data.bin"
        assert info.size == 5
        assert not info.is_dir
        assert info.modified is not None
        assert info.modified.tzinfo is not None
        assert (
            before - self.mtime_tolerance
            <= info.modified
            <= datetime.now(UTC) + (self.mtime_tolerance)
        )

    def test_get_file_info_of_missing_file_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFound):
            store.get_file_info("missing")

    def test_get_file_info_of_a_folder_raises_not_found(self, store: Store) -> None:
        store.write("folder/inside.txt", b"x")
        with pytest.raises(NotFound):
            store.get_file_info("folder")

    def test_get_folder_info(self, store: Store) -> None:
        store.write("fi/a.txt", b"aaa")
        store.write("fi/sub/b.txt", b"bb")
        info = store.get_folder_info("fi")
        assert (info.file_count, info.total_size) == (2, 5)
        assert info.modified is not None
        with pytest.raises(NotFound):
            store.get_folder_info("no-such-folder")

    @requires(Capability.CONTENT_TYPE)
    def test_content_type_round_trips(self, store: Store) -> None:
        store.write("page.html", b"<p>", content_type="text/html; charset=utf-8")
        assert store.get_file_info("page.html").content_type == "text/html; charset=utf-8"

    @requires(Capability.USER_METADATA)
    def test_user_metadata_round_trips(self, store: Store) -> None:
        store.write("meta.txt", b"x", metadata={"owner": "team-a", "run": "42"})
        assert dict(store.get_file_info("meta.txt").metadata) == {"owner": "team-a", "run": "42"}

    @requires(Capability.SET_MOD_TIME)
    def test_modification_time_can_be_set(self, store: Store) -> None:
        when = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
        store.write("old.txt", b"x", modified=when)
        assert store.get_file_info("old.txt").modified == when

    def test_unsupported_write_options_fail_before_io(self, store: Store) -> None:
        options: list[tuple[Capability, dict[str, Any]]] = [
            (Capability.CONTENT_TYPE, {"content_type": "text/plain"}),
            (Capability.USER_METADATA, {"metadata": {"k": "v"}}),
            (Capability.SET_MOD_TIME, {"modified": datetime(2020, 1, 1, tzinfo=UTC)}),
        ]
        for capability, kwargs in options:
            if store.supports(capability):
                continue
            with pytest.raises(CapabilityNotSupported):
                store.write("unsupported.txt", b"x", **kwargs)
            assert not store.exists("unsupported.txt")

    @requires(Capability.METADATA)
    def test_reported_hashes_match_the_content(self, store: Store) -> None:
        data = b"hash me, please" * 100
        store.write("hashed.bin", data)
        info = store.get_file_info("hashed.bin")
        for kind in store.features.hash_types:
            assert info.hashes.get(kind) == _hash(kind, data), kind

    # ------------------------------------------------------------ listing

    def _populate(self, store: Store) -> None:
        for key in (
            "top.txt",
            "data/a.csv",
            "data/b.json",
            "data/sub/c.csv",
            "data/sub/deeper/d.csv",
            "database.txt",
            "other/e.txt",
        ):
            store.write(key, key.encode())

    def test_list_files_shallow(self, store: Store) -> None:
        self._populate(store)
        assert sorted(i.path for i in store.list_files("data")) == ["data/a.csv", "data/b.json"]
        assert sorted(i.path for i in store.list_files()) == ["database.txt", "top.txt"]

    def test_list_files_recursive(self, store: Store) -> None:
        self._populate(store)
        found = sorted(i.path for i in store.list_files("data", recursive=True))
        assert found == ["data/a.csv", "data/b.json", "data/sub/c.csv", "data/sub/deeper/d.csv"]
        assert len(list(store.list_files(recursive=True))) == 7

    def test_listing_is_folder_aware(self, store: Store) -> None:
        self._populate(store)
        paths = [i.path for i in store.list_files("data", recursive=True)]
        assert "database.txt" not in paths
        assert all(p.startswith("data/") for p in paths)

    def test_list_files_reports_sizes(self, store: Store) -> None:
        store.write("sized/a", b"123")
        store.write("sized/b", b"")
        assert {i.path: i.size for i in store.list_files("sized")} == {"sized/a": 3, "sized/b": 0}

    def test_list_files_with_pattern(self, store: Store) -> None:
        self._populate(store)
        found = sorted(i.path for i in store.list_files("data", recursive=True, pattern="*.csv"))
        assert found == ["data/a.csv", "data/sub/c.csv", "data/sub/deeper/d.csv"]

    def test_list_files_with_max_depth(self, store: Store) -> None:
        self._populate(store)
        found = sorted(i.path for i in store.list_files("data", recursive=True, max_depth=2))
        assert found == ["data/a.csv", "data/b.json", "data/sub/c.csv"]

    def test_list_folders(self, store: Store) -> None:
        self._populate(store)
        assert sorted(store.list_folders()) == ["data", "other"]
        assert sorted(store.list_folders("data")) == ["data/sub"]
        assert list(store.list_folders("other")) == []

    def test_listing_a_missing_folder_is_empty(self, store: Store) -> None:
        assert list(store.list_files("ghost", recursive=True)) == []
        assert list(store.list_folders("ghost")) == []

    def test_listing_accepts_a_trailing_slash(self, store: Store) -> None:
        self._populate(store)
        assert sorted(i.path for i in store.list_files("data/")) == ["data/a.csv", "data/b.json"]

    def test_glob(self, store: Store) -> None:
        self._populate(store)
        assert sorted(i.path for i in store.glob("data/*.csv")) == ["data/a.csv"]
        assert sorted(i.path for i in store.glob("data/**/*.csv")) == [
            "data/a.csv",
            "data/sub/c.csv",
            "data/sub/deeper/d.csv",
        ]
        assert sorted(i.path for i in store.glob("*/?.txt")) == ["other/e.txt"]
        assert [i.path for i in store.glob("top.txt")] == ["top.txt"]
        assert list(store.glob("nothing/*.x")) == []

    def test_listing_many_keys_pages_through_all(self, store: Store) -> None:
        for i in range(self.many_keys):
            store.write(f"many/{i:05d}", b"")
        found = sorted(i.path for i in store.list_files("many"))
        assert found == [f"many/{i:05d}" for i in range(self.many_keys)]

    # ------------------------------------------------------------ delete

    def test_delete_file(self, store: Store) -> None:
        store.write("del.txt", b"x")
        store.delete("del.txt")
        assert not store.exists("del.txt")

    def test_delete_missing_raises_unless_missing_ok(self, store: Store) -> None:
        with pytest.raises(NotFound):
            store.delete("never.txt")
        store.delete("never.txt", missing_ok=True)

    def test_delete_folder_recursive(self, store: Store) -> None:
        self._populate(store)
        store.delete_folder("data", recursive=True)
        assert not store.exists("data")
        assert sorted(i.path for i in store.list_files(recursive=True)) == [
            "database.txt",
            "other/e.txt",
            "top.txt",
        ]

    def test_delete_non_empty_folder_needs_recursive(self, store: Store) -> None:
        store.write("full/f.txt", b"x")
        with pytest.raises(DirectoryNotEmpty):
            store.delete_folder("full")
        assert store.exists("full/f.txt")

    @requires(Capability.MKDIR)
    def test_folders_are_real_with_mkdir(self, store: Store) -> None:
        if getattr(store.unwrap(), "folders_are_markers", False):
            pytest.skip(
                f"not applicable to {self.backend_name}: its folders are markers, and a "
                "folder whose last file is deleted is gone unless make_folder wrote one"
            )
        store.write("real/only.txt", b"x")
        store.delete("real/only.txt")
        assert store.is_folder("real")
        assert list(store.list_folders()) == ["real"]
        store.delete_folder("real")
        assert not store.exists("real")

    def test_delete_missing_folder(self, store: Store) -> None:
        with pytest.raises(NotFound):
            store.delete_folder("ghost")
        store.delete_folder("ghost", missing_ok=True)

    # ------------------------------------------------------------ copy and move

    @covers(Capability.COPY)
    def test_copy(self, store: Store) -> None:
        store.write("src.txt", b"payload")
        store.copy("src.txt", "copies/dst.txt")
        assert store.read_bytes("copies/dst.txt") == b"payload"
        assert store.read_bytes("src.txt") == b"payload"

    def test_copy_is_create_only_by_default(self, store: Store) -> None:
        store.write("s.txt", b"new")
        store.write("d.txt", b"old")
        with pytest.raises(AlreadyExists):
            store.copy("s.txt", "d.txt")
        assert store.read_bytes("d.txt") == b"old"
        store.copy("s.txt", "d.txt", overwrite=True)
        assert store.read_bytes("d.txt") == b"new"

    def test_copy_missing_source_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFound):
            store.copy("ghost.txt", "x.txt")
        assert not store.exists("x.txt")

    @covers(Capability.MOVE)
    def test_move(self, store: Store) -> None:
        store.write("m/src.txt", b"moving")
        store.move("m/src.txt", "n/dst.txt")
        assert store.read_bytes("n/dst.txt") == b"moving"
        assert not store.exists("m/src.txt")

    def test_move_is_create_only_by_default(self, store: Store) -> None:
        store.write("ms.txt", b"src")
        store.write("md.txt", b"dst")
        with pytest.raises(AlreadyExists):
            store.move("ms.txt", "md.txt")
        assert store.read_bytes("ms.txt") == b"src"
        assert store.read_bytes("md.txt") == b"dst"
        store.move("ms.txt", "md.txt", overwrite=True)
        assert store.read_bytes("md.txt") == b"src"
        assert not store.exists("ms.txt")

    def test_copy_onto_itself(self, store: Store) -> None:
        store.write("self.txt", b"same")
        with pytest.raises(AlreadyExists):
            store.copy("self.txt", "self.txt")
        store.copy("self.txt", "self.txt", overwrite=True)
        assert store.read_bytes("self.txt") == b"same"

    # ------------------------------------------------------------ keys and safety

    @pytest.mark.parametrize("key", HOSTILE_KEYS, ids=repr)
    def test_hostile_keys_are_rejected_before_io(self, store: Store, key: str) -> None:
        for call in (
            lambda: store.write(key, b"x"),
            lambda: store.read_bytes(key),
            lambda: store.delete(key),
            lambda: store.is_file(key),
            lambda: store.open_atomic(key),
            lambda: store.copy("anything", key),
        ):
            with pytest.raises(InvalidPath):
                call()
        assert list(store.list_files(recursive=True)) == []

    def test_special_characters_in_keys_round_trip(self, store: Store) -> None:
        for key in SPECIAL_KEYS:
            store.write(key, key.encode())
        for key in SPECIAL_KEYS:
            assert store.read_bytes(key) == key.encode()
        assert sorted(i.path for i in store.list_files(recursive=True)) == sorted(SPECIAL_KEYS)

    def test_child_store_is_scoped(self, store: Store) -> None:
        child = store.child("scope")
        child.write("inner.txt", b"in")
        store.write("outer.txt", b"out")
        assert store.read_bytes("scope/inner.txt") == b"in"
        assert [i.path for i in child.list_files(recursive=True)] == ["inner.txt"]
        with pytest.raises(InvalidPath):
            child.read_bytes("../outer.txt")
        with pytest.raises(InvalidPath):
            store.child("../up")

    def test_errors_carry_context_and_native_cause(self, store: Store) -> None:
        with pytest.raises(NotFound) as info:
            store.read_bytes("no/such/file")
        error = info.value
        assert error.path == "no/such/file"
        assert error.backend == store.unwrap().name
        assert error.op == "read"
        assert error.temporary is False
        assert isinstance(error, StorageError)
        assert error.__cause__ is not None
        assert not isinstance(error.__cause__, StorageError)

    def test_use_after_close_raises_backend_closed(self, store: Store) -> None:
        store.write("c.txt", b"x")
        store.close()
        with pytest.raises(BackendClosed):
            store.read_bytes("c.txt")
        with pytest.raises(BackendClosed):
            store.write("d.txt", b"x")
        with pytest.raises(BackendClosed):
            list(store.list_files())

    def test_ping(self, store: Store) -> None:
        store.ping()

    def test_resolve_and_native_path(self, store: Store) -> None:
        plan = store.resolve("r/x.txt")
        assert plan.path == "r/x.txt"
        assert plan.key.endswith("r/x.txt")
        assert plan.native_path == store.native_path("r/x.txt")
        assert store.to_key(store.native_path("r/x.txt")) == "r/x.txt"

    def test_declared_capabilities_are_exercised_by_the_suite(self, store: Store) -> None:
        # The basics run in every test; STREAMING (channel) has its own tests.
        untested = {
            Capability.READ,
            Capability.WRITE,
            Capability.DELETE,
            Capability.LIST,
            Capability.STREAMING,
        }
        for capability in store.features.capabilities - untested:
            assert CAPABILITY_TESTS.get(capability), f"no suite test backs {capability}"

    def test_fallbacks_match_the_fast_paths(self, store: Store) -> None:
        self._populate(store)
        basic = Store(BasicOnly(store.unwrap()), store.root)
        for path in ("data/a.csv", "top.txt"):
            fast, slow = store.get_file_info(path), basic.get_file_info(path)
            assert (fast.path, fast.size) == (slow.path, slow.size)
        for path in ("data", "data/sub", "ghost", "top.txt"):
            assert store.is_folder(path) == basic.is_folder(path), path
            assert store.is_file(path) == basic.is_file(path), path
        basic.copy("top.txt", "copied.txt")
        assert store.read_bytes("copied.txt") == b"top.txt"
        basic.move("copied.txt", "moved.txt")
        assert not store.exists("copied.txt")
        assert store.read_bytes("moved.txt") == b"top.txt"
