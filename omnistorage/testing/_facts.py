"""Conformance tests of the facts a backend declares in :class:`~omnistorage.Features`
besides its capability flags, and of where it says it points (DESIGN §5b).

A fact is declared exactly when these tests pass: key case and Unicode folding,
mtime precision, whether a native copy keeps the mtime, what an ETag means,
whether ``stat``'s ETag is a strong version (and the pinned reader's version is
the same token), and :class:`~omnistorage.models.Location` identity.
"""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest

from omnistorage import paths
from omnistorage._times import from_ns
from omnistorage.capabilities import Capability, ETagKind
from omnistorage.store import Store
from omnistorage.testing._marks import requires

__all__ = ["FactTests", "multipart_etag"]

_WHEN = datetime(2021, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
_US = timedelta(microseconds=1)
_STAMPS_NS = (
    1_614_834_367_123_456_789,  # 2021-03-04T05:06:07.123456789Z
    1_795_441_226_342_743_850,  # issue 26's: microseconds would round it up by 150 ns
    1_614_834_367_000_000_001,
    1_614_834_367_999_999_999,
)


def multipart_etag(data: bytes, lengths: list[int]) -> str:
    """The ETag S3 lists for ``data`` uploaded in parts of ``lengths``."""
    digests, offset = [], 0
    for length in lengths:
        digests.append(hashlib.md5(data[offset : offset + length]).digest())
        offset += length
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(lengths)}"


class FactTests:
    """The facts every backend declares, checked against what it does."""

    large_size: ClassVar[int] = 6 * 1024 * 1024

    def second_handle(self, store: Store) -> Store | None:
        """A store on the same place as ``store`` through a backend opened separately (a
        second ``open_store``), or ``None`` when the harness cannot make one. Harnesses
        override this so the suite proves that overlap is judged by location."""
        return None

    # ------------------------------------------------------------ keys

    def test_declared_case_folding_holds(self, store: Store) -> None:
        store.write("CaseName.txt", b"upper")
        assert store.exists("casename.txt") is store.features.case_insensitive

    def test_declared_unicode_normalization_holds(self, store: Store) -> None:
        composed = unicodedata.normalize("NFC", "caf\u00e9.txt")
        decomposed = unicodedata.normalize("NFD", composed)
        store.write(composed, b"nfc")
        assert store.exists(decomposed) is store.features.normalizes_unicode

    # ------------------------------------------------------------ times

    @requires(Capability.SET_MOD_TIME, Capability.METADATA)
    def test_mtime_survives_to_the_declared_precision(self, store: Store) -> None:
        precision = store.features.mtime_precision_ns
        assert precision >= 1
        store.write("t.txt", b"t", modified=_WHEN)
        kept = store.get_file_info("t.txt").modified
        assert kept is not None
        assert abs(kept - _WHEN) < max(timedelta(microseconds=precision / 1000), _US)
        for stamp in _STAMPS_NS:  # nanoseconds, as a local file's st_mtime_ns gives them
            store.write("n.txt", b"n", modified=stamp, overwrite=True)
            info = store.get_file_info("n.txt")
            assert info.modified_ns is not None
            assert abs(info.modified_ns - stamp) < precision, (stamp, info.modified_ns)
            assert info.modified == from_ns(info.modified_ns)  # one time, seen two ways
            if store.supports(Capability.LIST):
                (listed,) = [i for i in store.list_files() if i.path == "n.txt"]
                assert listed.modified_ns == info.modified_ns

    @requires(Capability.COPY, Capability.METADATA)
    def test_copy_keeps_the_mtime_as_declared(self, store: Store) -> None:
        settable = store.supports(Capability.SET_MOD_TIME)
        if not settable and not store.supports(Capability.USER_METADATA):
            pytest.skip("neither settable mtimes nor metadata: nothing a copy could keep")
        if settable:
            store.write("src.txt", b"copy me", modified=_WHEN)
        else:
            store.write("src.txt", b"copy me", metadata={"mtime": "1614834367.123456"})
        store.copy("src.txt", "dst.txt")
        info = store.get_file_info("dst.txt")
        if settable:
            assert info.modified is not None
            precision = timedelta(microseconds=max(1, store.features.mtime_precision_ns / 1000))
            kept = abs(info.modified - _WHEN) < max(precision, timedelta(seconds=1))
        else:
            kept = dict(info.metadata).get("mtime") == "1614834367.123456"
        assert kept is store.features.copy_keeps_mtime

    # ------------------------------------------------------------ ETags and versions

    @requires(Capability.METADATA)
    def test_etag_means_what_is_declared(self, store: Store) -> None:
        data = b"etag me" * 100
        store.write("e.bin", data)
        etag = store.get_file_info("e.bin").etag
        kind = store.features.etag
        md5 = hashlib.md5(data).hexdigest()
        if kind in (ETagKind.MD5, ETagKind.MD5_OR_MULTIPART):
            assert etag is not None
            assert etag.strip('"').lower() == md5
        elif kind is ETagKind.OPAQUE:
            assert etag
        layout = store.features.multipart
        if kind is ETagKind.MD5_OR_MULTIPART and layout is not None:
            big = bytes(range(256)) * (self.large_size // 256)
            lengths = layout.lengths(len(big))
            if lengths is None:
                pytest.skip(f"{len(big)} bytes fit in one part of {layout.part_size}")
            store.write("big.bin", big)
            listed = store.get_file_info("big.bin").etag
            assert listed is not None
            assert listed.strip('"').lower() == multipart_etag(big, lengths)

    @requires(Capability.METADATA)
    def test_a_strong_version_changes_with_every_write(self, store: Store) -> None:
        if not store.features.strong_version:
            pytest.skip("the backend declares no strong version")
        settable = store.supports(Capability.SET_MOD_TIME)
        extra = {"modified": _WHEN} if settable else {}
        store.write("v.bin", b"a" * 100, **extra)  # type: ignore[arg-type]
        first = store.get_file_info("v.bin").etag
        # Same size, same mtime where it can be set: only a real version tells them apart.
        store.write("v.bin", b"b" * 100, overwrite=True, **extra)  # type: ignore[arg-type]
        second = store.get_file_info("v.bin").etag
        assert first
        assert second
        assert first != second
        assert store.get_file_info("v.bin").etag == second  # stable while unchanged

    @requires(Capability.METADATA, Capability.PINNED_READ)
    def test_a_pinned_readers_version_is_stats_etag(self, store: Store) -> None:
        if not store.features.strong_version:
            pytest.skip("the backend declares no strong version")
        ext = store.unwrap()
        store.write("p.bin", b"pinned" * 10)
        pinned = ext.open_pinned(paths.join(store.root, "p.bin"))
        try:
            assert pinned.version == store.get_file_info("p.bin").etag
        finally:
            pinned.close()

    # ------------------------------------------------------------ what a read tells

    @requires(Capability.READ_INFO, Capability.METADATA)
    @pytest.mark.parametrize("size", [0, 5_000])
    def test_a_read_carries_the_info_stat_gives(self, store: Store, size: int) -> None:
        options: dict[str, object] = {}
        if store.supports(Capability.CONTENT_TYPE):
            options["content_type"] = "text/x-read-info"
        if store.supports(Capability.USER_METADATA):
            options["metadata"] = {"color": "blue"}
        if store.supports(Capability.SET_MOD_TIME):
            options["modified"] = _STAMPS_NS[0]
        data = bytes(range(256)) * (size // 256) + b"r" * (size % 256)
        store.write("ri/f.txt", data, **options)  # type: ignore[arg-type]
        expected = store.get_file_info("ri/f.txt")
        with store.read("ri/f.txt") as stream:
            assert stream.read() == data
            info = stream.info  # type: ignore[attr-defined]
        assert info is not None
        assert info == expected

    # ------------------------------------------------------------ location

    def test_a_store_overlaps_its_children_and_not_its_siblings(self, store: Store) -> None:
        assert store.locations
        assert store.overlaps(store)
        assert store.child("a").overlaps(store)
        assert store.overlaps(store.child("a/b"))
        assert not store.child("a").overlaps(store.child("b"))
        assert not store.child("a").overlaps(store.child("ab"))

    def test_locations_carry_no_secret(self, store: Store) -> None:
        shown = " ".join(str(place) for place in store.locations)
        for secret in store.unwrap().secret_values:
            if secret:
                assert secret not in shown

    def test_a_second_handle_on_the_same_place_overlaps(self, store: Store) -> None:
        # A wrapper variant opens its second handle beside the backend it wraps.
        other = self.second_handle(getattr(self, "_harness_store", None) or store)
        if other is None:
            pytest.skip("the harness opens no second handle")
        try:
            assert other.unwrap() is not store.unwrap()
            assert other.overlaps(store)
            assert other.child("x").overlaps(store)
            assert store.child("x").overlaps(other)
            assert not other.child("x").overlaps(store.child("y"))
        finally:
            other.close()
