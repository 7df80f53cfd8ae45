"""Conformance tests of the driver itself: capabilities bound to their methods
(:mod:`omnistorage._bound`) and the refusals of a read-only driver."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from omnistorage._bound import check_class, undeclared_methods
from omnistorage.driver import WriteOptions
from omnistorage.errors import ErrorKind
from omnistorage.models import Leftover
from omnistorage.store import Store

__all__ = ["DriverClassTests", "ReadOnlyDriverTests"]


class DriverClassTests:
    """Mixed into both suites; they provide the ``store`` fixture."""

    def test_every_method_has_its_capability(self, store: Store) -> None:
        # The class was checked when it was defined: nothing it may declare lacks its
        # method. The converse is flagged here: a method the Store never calls, because
        # the class never declares its capability (dead code, or a capability the suite
        # has never checked because nobody declared it).
        driver = store.unwrap()
        cls = type(driver)
        check_class(cls, cls.may_declare)
        flagged = undeclared_methods(cls, cls.may_declare)
        assert not flagged, "; ".join(flagged)
        assert store.features.capabilities <= cls.may_declare


class ReadOnlyDriverTests:
    """Mixed into the read-only suite: the driver itself refuses every change."""

    def test_the_driver_itself_refuses_every_change(
        self, store: Store, files: Mapping[str, bytes]
    ) -> None:
        driver = store.unwrap()
        key = store.resolve(sorted(files)[0]).key
        other = store.resolve("refused-target.txt").key
        leftover = Leftover(kind="temp-file", key=key, native="refused-leftover")
        changes: dict[str, Callable[[], object]] = {
            "new_writer": lambda: driver.new_writer(other, WriteOptions(overwrite=True)),
            "delete": lambda: driver.delete(key),
            "delete_many": lambda: driver.delete_many([key]),
            "delete_version": lambda: driver.delete_version(key, "any-version"),
            "copy": lambda: driver.copy(key, other, overwrite=True),
            "move": lambda: driver.move(key, other, overwrite=True),
            "mkdir": lambda: driver.mkdir(other),
            "rmdir": lambda: driver.rmdir(key),
            "remove_leftover": lambda: driver.remove_leftover(leftover),
        }
        for what, change in changes.items():
            with pytest.raises(PermissionError, match="read-only") as info:
                change()
            kind = driver.classify_error(info.value).kind
            assert kind is ErrorKind.PERMISSION_DENIED, (what, kind)
        for path, data in files.items():
            assert store.read_bytes(path) == data
        assert not store.is_file("refused-target.txt")
