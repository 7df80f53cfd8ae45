"""Suite tests for the integrity guarantees: one version per reader, folders and
markers, crash leftovers, listings inside the grammar.

Mixed into :class:`omnistorage.testing.StoreConformance`; they use its
``store`` fixture (and ``variant``) and the hooks declared here.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any, ClassVar

import pytest

from omnistorage import paths
from omnistorage.capabilities import Capability
from omnistorage.driver import WriteOptions, Writer
from omnistorage.errors import AlreadyExists, CapabilityNotSupported, ChangedDuringRead, NotFound
from omnistorage.store import Store
from omnistorage.testing._marks import covers, requires
from omnistorage.testing.basic import BasicOnly

__all__ = ["FOREIGN_CANDIDATES", "IntegrityTests", "driver_of"]

FOREIGN_CANDIDATES = (
    "../up.txt",
    "./dot.txt",
    "/leading.txt",
    "a//b.txt",
    "back\\slash.txt",
    "tab\there.txt",
    "new\nline.txt",
    "dir/../x.txt",
)
"""Names other tools can write that the key grammar refuses."""

_MiB = 1 << 20


def driver_of(store: Store) -> Any:
    """The store's driver, looking through the suite's :class:`BasicOnly` view."""
    backend = store.unwrap()
    return backend.inner if isinstance(backend, BasicOnly) else backend


def _versions(size: int) -> tuple[bytes, bytes]:
    old = bytes(range(256)) * (size // 256)
    new = bytes(reversed(range(256))) * (size // 256)
    return old, new


class IntegrityTests:
    """Integrity tests shared by every backend (see the module docstring)."""

    abandoned_write_size: ClassVar[int] = _MiB
    """Bytes an abandoned writer sends before it is dropped; backends whose writers keep
    data client-side below some size (S3 parts) set this above that size."""
    crash_leaves_leftovers: ClassVar[bool] = False
    """True where an abandoned writer leaves something ``cleanup`` must find (temp
    files, multipart uploads, staged rows): the tests then require that it was found."""
    leftover_times_are_real: ClassVar[bool] = True
    """False where the server reports made-up start times for leftovers (moto dates
    every multipart upload 2010-11-10), so "young" leftovers cannot be told apart."""
    foreign_names: ClassVar[tuple[str, ...]] = ()
    """The names of :data:`FOREIGN_CANDIDATES` this backend can hold (see :meth:`plant_foreign`)."""

    def plant_foreign(self, store: Store, name: str, data: bytes) -> None:
        """Store ``data`` under the raw native name ``<store root>/<name>``, bypassing the key
        grammar, the way another tool would. Backends that list names in
        :attr:`foreign_names` override this."""
        raise NotImplementedError

    def _name(self) -> str:
        return str(getattr(self, "backend_name", type(self).__name__))

    def _skip_basic(self, variant: str) -> None:
        if variant == "basic":
            pytest.skip(
                f"not applicable to {self._name()}: leftovers and cleanup need the extended "
                "interface, which the basic view hides"
            )

    # ------------------------------------------------------------ one version per reader

    @covers(Capability.PINNED_READ)
    def test_read_seekable_never_mixes_versions(self, store: Store) -> None:
        old, new = _versions(3 * _MiB)
        store.write("v.bin", old)
        with store.read_seekable("v.bin") as reader:
            first = reader.read(_MiB)
            store.write("v.bin", new, overwrite=True)
            try:
                rest = reader.read()
            except ChangedDuringRead:
                return
        assert first + rest == old

    @covers(Capability.PINNED_READ)
    def test_read_seekable_seek_back_after_overwrite_stays_on_one_version(
        self, store: Store
    ) -> None:
        old, new = _versions(2 * _MiB)
        store.write("w.bin", old)
        with store.read_seekable("w.bin") as reader:
            reader.seek(_MiB)
            tail = reader.read(1000)
            store.write("w.bin", new, overwrite=True)
            reader.seek(0)
            try:
                head = reader.read(1000)
            except ChangedDuringRead:
                return
        assert (head, tail) == (old[:1000], old[_MiB : _MiB + 1000])

    @covers(Capability.PINNED_READ)
    def test_read_seekable_of_a_deleted_object_fails_typed_or_stays_old(self, store: Store) -> None:
        old, _ = _versions(2 * _MiB)
        store.write("d.bin", old)
        with store.read_seekable("d.bin") as reader:
            first = reader.read(4096)
            store.delete("d.bin")
            try:
                rest = reader.read()
            except ChangedDuringRead:
                return
        assert first + rest == old

    def test_read_seekable_of_a_missing_file_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFound):
            store.read_seekable("nope.bin")

    # ------------------------------------------------------------ folders and markers

    @requires(Capability.MKDIR)
    def test_make_folder_creates_an_empty_folder(self, store: Store) -> None:
        store.make_folder("empty/inner")
        assert store.is_folder("empty/inner")
        assert store.is_folder("empty")
        assert store.exists("empty/inner")
        assert "empty" in list(store.list_folders())
        assert list(store.list_folders("empty")) == ["empty/inner"]
        assert list(store.list_files("empty", recursive=True)) == []
        assert store.get_folder_info("empty").file_count == 0
        store.make_folder("empty/inner")  # an existing folder is fine
        store.delete_folder("empty/inner")
        assert not store.is_folder("empty/inner")
        store.delete_folder("empty")
        assert not store.exists("empty")
        assert "empty" not in list(store.list_folders())

    @requires(Capability.MKDIR)
    def test_delete_folder_recursive_removes_empty_sub_folders(self, store: Store) -> None:
        store.make_folder("tree/a/b")
        store.write("tree/c.txt", b"x")
        store.write("tree/a/d.txt", b"y")
        store.delete_folder("tree", recursive=True)
        assert not store.is_folder("tree")
        assert not store.exists("tree/a/b")
        assert "tree" not in list(store.list_folders())

    @requires(Capability.MKDIR)
    def test_make_folder_where_a_file_stands_fails(self, store: Store) -> None:
        store.write("file", b"x")
        with pytest.raises(AlreadyExists):
            store.make_folder("file")
        assert store.read_bytes("file") == b"x"

    def test_make_folder_without_mkdir_fails_before_io(self, store: Store) -> None:
        if store.supports(Capability.MKDIR):
            pytest.skip(f"not applicable to {self._name()}: it declares mkdir")
        with pytest.raises(CapabilityNotSupported):
            store.make_folder("f")

    # ------------------------------------------------------------ crash leftovers

    def _abandon_writer(self, store: Store, path: str) -> Writer:
        """Start a write through the driver and drop it without close or abort (a crash)."""
        backend = store.unwrap()
        writer = backend.new_writer(store.resolve(path).key, WriteOptions(overwrite=True))
        chunk = b"\xab" * _MiB
        for _ in range(max(1, self.abandoned_write_size // _MiB)):
            writer.write(chunk)
        writer.flush()  # parts or blocks staged in the background are held now
        return writer

    def _leftovers(self, store: Store, folder: str = "") -> list[Any]:
        ext = store.unwrap()
        prefix = paths.folder_prefix(store.resolve(folder).key if folder else store.root)
        return list(ext.list_leftovers(prefix))

    def test_cleanup_removes_what_an_abandoned_writer_left(
        self, store: Store, variant: str
    ) -> None:
        self._skip_basic(variant)
        writer = self._abandon_writer(store, "crash/big.bin")
        try:
            report = store.cleanup(older_than=timedelta(0))
            assert report.errors == ()
            if self.crash_leaves_leftovers:
                assert report.removed, "the abandoned write left nothing cleanup could find"
            for item in report.removed:
                assert item.key == "crash" or paths.is_within(item.key, "crash"), item
            assert self._leftovers(store) == []
            assert store.cleanup(older_than=timedelta(0)).removed == ()
            assert not store.is_file("crash/big.bin")
            assert list(store.list_files(recursive=True)) == []
        finally:
            with contextlib.suppress(Exception):
                writer.abort()

    def test_cleanup_keeps_young_leftovers_and_dry_run_removes_nothing(
        self, store: Store, variant: str
    ) -> None:
        self._skip_basic(variant)
        writer = self._abandon_writer(store, "young/big.bin")
        try:
            before = self._leftovers(store)
            if self.leftover_times_are_real:
                kept = store.cleanup()  # the default age keeps what a live writer may own
                assert kept.removed == ()
                assert len(kept.kept) == len(before)
            dry = store.cleanup(older_than=timedelta(0), dry_run=True)
            assert len(dry.removed) == len(before)
            assert len(self._leftovers(store)) == len(before)
            store.cleanup(older_than=timedelta(0))
            assert self._leftovers(store) == []
        finally:
            with contextlib.suppress(Exception):
                writer.abort()

    def test_delete_folder_removes_crash_leftovers(self, store: Store, variant: str) -> None:
        self._skip_basic(variant)
        store.write("crashdir/keep.txt", b"x")
        writer = self._abandon_writer(store, "crashdir/sub/big.bin")
        try:
            store.delete_folder("crashdir", recursive=True)
            assert not store.exists("crashdir")
            assert self._leftovers(store) == []
        finally:
            with contextlib.suppress(Exception):
                writer.abort()

    # ------------------------------------------------------------ listings inside the grammar

    def test_listings_skip_and_count_foreign_keys(self, store: Store) -> None:
        if not self.foreign_names:
            pytest.skip(f"not applicable to {self._name()}: the test plants no foreign names")
        store.write("ok/valid.txt", b"v")
        # A wrapper variant plants through the backend it wraps, under the same root.
        planting = getattr(self, "_harness_store", None) or store
        for name in self.foreign_names:
            self.plant_foreign(planting, name, b"foreign")
        seen: list[str] = []
        listing = store.list_files(recursive=True, on_invalid=seen.append)
        assert [info.path for info in listing] == ["ok/valid.txt"]
        assert listing.invalid_count == len(self.foreign_names)
        assert seen == listing.invalid
        assert [info.path for info in store.glob("**/*.txt")] == ["ok/valid.txt"]
        assert [info.path for info in store.glob("*.txt")] == []
        for folder in store.list_folders():
            assert paths.is_valid_key(folder), folder
            assert store.is_folder(folder)
        assert store.get_folder_info("").file_count == 1
