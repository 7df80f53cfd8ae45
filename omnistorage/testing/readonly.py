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
  other one is exercised here;
- the driver itself refuses every change with a ``PermissionError`` (for callers
  that bypass the Store), and its class implements a method for every capability
  it may declare and none for a capability it may not
  (:class:`~omnistorage.driver.ExtendedBackend.may_declare`).

Needs pytest and hypothesis (the ``dev`` extra).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from omnistorage import paths
from omnistorage.capabilities import Capability
from omnistorage.errors import (
    BackendClosed,
    CapabilityNotSupported,
    InvalidPath,
)
from omnistorage.store import Store
from omnistorage.testing._driver import DriverClassTests, ReadOnlyDriverTests
from omnistorage.testing._marks import CAPABILITY_TESTS
from omnistorage.testing._readonly_listings import ListingChecks
from omnistorage.testing._readonly_reads import ReadChecks
from omnistorage.testing._tree import (
    READONLY_FIXTURE,
    WRITE_CAPABILITIES,
    folders_of,
)
from omnistorage.testing.conformance import HOSTILE_KEYS

__all__ = ["READONLY_FIXTURE", "WRITE_CAPABILITIES", "ReadOnlyConformance"]

# ---------------------------------------------------------------- the suite


class ReadOnlyConformance(ReadChecks, ListingChecks, DriverClassTests, ReadOnlyDriverTests):
    """Behaviour every read-only backend must show (see the module docstring).

    Subclasses set :attr:`backend_name` and define a ``populated_store``
    fixture returning a store whose root holds :attr:`fixture`. The reads and
    queries are :class:`~omnistorage.testing._readonly_reads.ReadChecks`, the
    listings :class:`~omnistorage.testing._readonly_listings.ListingChecks`;
    the refusals are here.
    """

    # ------------------------------------------------------------ refusals

    def test_declared_features_change_nothing_and_are_exercised(self, store: Store) -> None:
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
