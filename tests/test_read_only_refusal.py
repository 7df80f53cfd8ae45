"""Read-only refusal, written once: every read-only driver (HTTP, SQL query, the
read-only layer) refuses every change through :class:`~omnistorage.driver.ReadOnlyBackend`,
with each driver's error type and one message form, and no read-only class can even
declare a capability that changes data."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from omnistorage import MemoryBackend, Store
from omnistorage._bound import capability_methods
from omnistorage.capabilities import MUTATING_CAPABILITIES, Capability
from omnistorage.driver import ExtendedBackend, ReadOnlyBackend, WriteOptions
from omnistorage.ext import Layer, ReadOnlyLayer

# ------------------------------------------------------------ read-only refusal, written once


def _read_only_drivers() -> list[Callable[[], ExtendedBackend]]:
    from omnistorage.backends.http import HTTPBackend
    from omnistorage.backends.sql import SQLQueryBackend

    return [
        lambda: HTTPBackend(base_url="http://127.0.0.1:1/"),
        lambda: SQLQueryBackend("sqlite://", queries={"one.csv": "SELECT 1 AS one"}),
        lambda: ReadOnlyLayer(MemoryBackend()),
    ]


@pytest.mark.parametrize("make", _read_only_drivers(), ids=["http", "sql-query", "layer"])
def test_every_read_only_driver_refuses_with_the_one_mixin(
    make: Callable[[], ExtendedBackend],
) -> None:
    driver = make()
    assert isinstance(driver, ReadOnlyBackend)
    assert not driver.features().capabilities & MUTATING_CAPABILITIES
    assert not type(driver).may_declare & MUTATING_CAPABILITIES
    refusals = {
        name
        for name in dir(ReadOnlyBackend)
        if getattr(getattr(ReadOnlyBackend, name), "_omnistorage_refusal", False)
    }
    # Every method bound to a capability that changes data, and the two changes bound
    # to none (batched deletes, leftover removal).
    changing = {
        method
        for capability, methods in capability_methods(ExtendedBackend).items()
        if capability in MUTATING_CAPABILITIES
        for method in methods
    }
    assert {
        "new_writer",
        "delete",
        "copy",
        "move",
        "mkdir",
        "rmdir",
        "delete_version",
        "publish_staged",
        "abort_staged",
    } == (changing)
    assert refusals == changing | {"delete_many", "remove_leftover"}
    for name in refusals:
        assert getattr(type(driver), name) is getattr(ReadOnlyBackend, name), name
    driver.close()


def test_the_refusals_keep_each_drivers_error_type_and_message() -> None:
    from omnistorage.backends.http import HTTPBackend
    from omnistorage.backends.http._errors import ReadOnlyError
    from omnistorage.backends.sql import SQLQueryBackend

    http = HTTPBackend(base_url="http://127.0.0.1:1/")
    with pytest.raises(ReadOnlyError, match=r"^write 'k': the http backend is read-only$"):
        http.new_writer("k", WriteOptions())
    with pytest.raises(PermissionError, match=r"^delete 'k': the store is read-only$"):
        ReadOnlyLayer(MemoryBackend()).delete("k")
    query = SQLQueryBackend("sqlite://", queries={"one.csv": "SELECT 1 AS one"})
    try:
        with pytest.raises(PermissionError, match=r"^move 'k': the sql-query backend is read"):
            query.move("k", "m", overwrite=True)
    finally:
        query.close()


def test_a_read_only_class_cannot_declare_a_change() -> None:
    for capability in sorted(MUTATING_CAPABILITIES):
        with pytest.raises(
            TypeError, match=f"read-only but may declare Capability.{capability.name}"
        ):
            type("_Writes", (ReadOnlyBackend,), {"may_declare": frozenset({capability})})


def test_a_layer_may_declare_whatever_its_inner_backend_does() -> None:
    assert Layer.may_declare == frozenset(Capability)
    assert ReadOnlyLayer.may_declare == frozenset(Capability) - MUTATING_CAPABILITIES
    Store(Layer(MemoryBackend()))
