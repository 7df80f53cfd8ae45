"""Capabilities bound to their methods: a driver class that may declare a capability
without implementing its methods fails when it is defined; an instance whose
``features()`` declares more than its class may fails whenever it answers; a method
without its capability is flagged by the conformance suites."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, BinaryIO

import pytest

from omnistorage import MemoryBackend, Store
from omnistorage._bound import capability_methods, check_class, refusal, undeclared_methods
from omnistorage.aio import AsyncBackend, AsyncStore, SyncBackendAdapter
from omnistorage.capabilities import (
    BASIC_FEATURES,
    Capability,
    Features,
)
from omnistorage.driver import ExtendedBackend, WriteOptions, Writer
from omnistorage.ext import RetryLayer
from omnistorage.models import Leftover, ObjectInfo

SYNC_METHODS = capability_methods(ExtendedBackend)
ASYNC_METHODS = capability_methods(AsyncBackend)


def _is_basic(methods: Sequence[str]) -> bool:
    return bool({"new_writer", "new_reader", "delete", "list"} & set(methods))


PAIRS = sorted((cap, method) for cap, names in SYNC_METHODS.items() for method in names)
ASYNC_PAIRS = sorted((cap, method) for cap, names in ASYNC_METHODS.items() for method in names)


def test_every_optional_method_of_the_contract_is_bound_to_its_capability() -> None:
    expected = {
        Capability.READ: ("new_reader",),
        Capability.WRITE: ("new_writer",),
        Capability.DELETE: ("delete",),
        Capability.LIST: ("list",),
        Capability.METADATA: ("stat",),
        Capability.MKDIR: ("mkdir", "rmdir"),
        Capability.COPY: ("copy",),
        Capability.MOVE: ("move",),
        Capability.CONDITIONAL_DELETE: ("delete_version",),
        Capability.PINNED_READ: ("open_pinned",),
        Capability.DEFERRED_PUBLISH: ("publish_staged", "abort_staged"),
    }
    assert expected == SYNC_METHODS
    # The two contracts bind the same pairs, but for staged publishing: a token is
    # published through a sync Store (omnistorage.staged), never an async one.
    del expected[Capability.DEFERRED_PUBLISH]
    assert expected == ASYNC_METHODS


# Capabilities that are a behaviour of methods every driver has (how a write, a read or
# a listing behaves), not a method of their own. A new capability is either bound to a
# method (``@needs``) or added here with its reason.
BEHAVIOURS = {
    Capability.ATOMIC_WRITE: "how new_writer publishes",
    Capability.CONDITIONAL_WRITE: "how new_writer's create-only publish races",
    Capability.RANGE_READ: "how new_reader serves an offset",
    Capability.GLOB: "how list filters",
    Capability.SET_MOD_TIME: "what new_writer stores (WriteOptions.modified)",
    Capability.USER_METADATA: "what new_writer stores and stat returns",
    Capability.CONTENT_TYPE: "what new_writer stores and stat returns",
    Capability.STREAMING: "when new_reader may start",
    Capability.READ_INFO: "what new_reader's stream carries",
}


def test_every_capability_is_bound_to_a_method_or_is_a_behaviour_of_one() -> None:
    assert set(SYNC_METHODS).isdisjoint(BEHAVIOURS)
    assert set(SYNC_METHODS) | set(BEHAVIOURS) == set(Capability)


# ------------------------------------------------------------ a driver that has it all


class _Everything(ExtendedBackend):
    """Implements every method of the contract (over memory), so a subclass can take one
    away; it declares only the basics."""

    def __init__(self) -> None:
        self.inner = MemoryBackend()

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return self.inner.new_writer(key, options)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        return self.inner.new_reader(key, offset=offset, length=length)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        return self.inner.list(prefix, recursive=recursive)

    def stat(self, key: str) -> ObjectInfo:
        return self.inner.stat(key)

    def mkdir(self, key: str) -> None:
        return None

    def rmdir(self, key: str) -> None:
        return None

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        self.inner.copy(src, dst, overwrite=overwrite)

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        self.inner.move(src, dst, overwrite=overwrite)

    def delete_version(self, key: str, version: str) -> None:
        self.inner.delete_version(key, version)

    def publish_staged(self, key: str, staged: Mapping[str, Any], *, overwrite: bool) -> str | None:
        return self.inner.publish_staged(key, staged, overwrite=overwrite)

    def abort_staged(self, key: str, staged: Mapping[str, Any]) -> None:
        self.inner.abort_staged(key, staged)

    def open_pinned(self, key: str) -> Any:
        return self.inner.open_pinned(key)


def _without(base: type, method: str, *, refused: bool) -> dict[str, Any]:
    """A class body that takes ``method`` of ``base`` away: back to the contract's
    stand-in, or a refusal."""
    if refused:

        def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
            raise PermissionError("refused")

        return {method: refusal(refuse)}
    for cls in base.__mro__[1:]:
        if method in vars(cls) and cls.__module__ != __name__:
            return {method: vars(cls)[method]}  # the contract's own (stand-in or abstract)
    raise AssertionError(method)


@pytest.mark.parametrize(("capability", "method"), PAIRS, ids=lambda v: str(v))
@pytest.mark.parametrize("refused", [False, True], ids=["missing", "refused"])
def test_declaring_a_capability_without_its_method_fails_at_definition(
    capability: Capability, method: str, refused: bool
) -> None:
    body = _without(_Everything, method, refused=refused)
    abstract = getattr(next(iter(body.values())), "__isabstractmethod__", False)
    body["may_declare"] = BASIC_FEATURES.capabilities | {capability}
    if abstract:
        # A basic method left abstract: the class is abstract, and abc refuses to build
        # it; the concrete subclass is checked when it is defined.
        cls = type("_Lacks", (_Everything,), body)
        with pytest.raises(TypeError, match="abstract"):
            cls()
        return
    with pytest.raises(TypeError) as info:
        type("_Lacks", (_Everything,), body)
    message = str(info.value)
    assert "_Lacks" in message
    assert f"Capability.{capability.name}" in message
    assert f"{method}()" in message
    assert ("only refuses" if refused else "does not implement") in message


@pytest.mark.parametrize(("capability", "method"), PAIRS, ids=lambda v: str(v))
def test_a_method_without_its_capability_is_flagged(capability: Capability, method: str) -> None:
    everything = frozenset(SYNC_METHODS)
    cls = type("_Undeclared", (_Everything,), {"may_declare": everything - {capability}})
    flagged = undeclared_methods(cls, cls.may_declare)
    assert [line for line in flagged if f"{method}()" in line], flagged
    assert all(f"Capability.{capability.name}" in line for line in flagged)
    assert undeclared_methods(_Everything, everything) == []


def test_declaring_every_capability_with_every_method_is_accepted() -> None:
    cls = type("_All", (_Everything,), {"may_declare": frozenset(Capability)})
    check_class(cls, cls.may_declare)
    assert undeclared_methods(cls, cls.may_declare) == []


def test_a_class_statement_fails_at_import_not_at_first_use() -> None:
    with pytest.raises(TypeError, match=r"_CopiesNothing may declare Capability\.COPY"):

        class _CopiesNothing(MemoryBackend):
            may_declare = MemoryBackend.may_declare
            copy = ExtendedBackend.copy  # back to the contract's stand-in


# ------------------------------------------------------------ leftovers go in pairs


def test_listing_leftovers_without_removing_them_fails_at_definition() -> None:
    def list_leftovers(self: Any, prefix: str) -> Iterator[Leftover]:
        return iter(())

    with pytest.raises(TypeError, match=r"implements list_leftovers\(\) but not remove_leftover"):
        type("_ListsOnly", (_Everything,), {"list_leftovers": list_leftovers})

    def remove_leftover(self: Any, leftover: Leftover) -> None:
        return None

    type(
        "_Both",
        (_Everything,),
        {"list_leftovers": list_leftovers, "remove_leftover": remove_leftover},
    )
    refused = refusal(remove_leftover)
    type("_Refuses", (_Everything,), {"list_leftovers": list_leftovers, "remove_leftover": refused})


# ------------------------------------------------------------ instances within their class


class _ClaimsCopy(_Everything):
    """Implements copy but its class never said it may declare COPY."""

    def features(self) -> Features:
        return Features.of([*BASIC_FEATURES.capabilities, Capability.COPY])


def test_an_instance_declaring_more_than_its_class_may_is_refused_however_reached() -> None:
    claims = r"_ClaimsCopy\.features\(\) declares Capability\.COPY"
    with pytest.raises(TypeError, match=claims):
        _ClaimsCopy().features()
    with pytest.raises(TypeError, match=claims):
        Store(_ClaimsCopy())
    with pytest.raises(TypeError, match=claims):  # through a layer's forwarding
        Store(RetryLayer(_ClaimsCopy()))
    with pytest.raises(TypeError, match=claims):  # through the async adapter
        SyncBackendAdapter(_ClaimsCopy())


def test_a_subclass_that_narrows_what_it_may_declare_is_held_to_it() -> None:
    class _NoCopies(MemoryBackend):
        may_declare = MemoryBackend.may_declare - {Capability.COPY}

    with pytest.raises(TypeError, match=r"_NoCopies\.features\(\) declares Capability\.COPY"):
        Store(_NoCopies())

    class _Fixed(_NoCopies):
        def features(self) -> Features:
            inner = super().features()  # memory's answer, checked against memory's class
            return inner.with_capabilities(inner.capabilities - {Capability.COPY})

    assert not Store(_Fixed()).supports(Capability.COPY)


OPTIONAL = sorted(c for c, names in SYNC_METHODS.items() if not _is_basic(names))


def _library_drivers() -> list[type[ExtendedBackend]]:
    for module in (  # every module that defines a driver class, for its classes
        "omnistorage.backends.azure",
        "omnistorage.backends.channel",
        "omnistorage.backends.gcs",
        "omnistorage.backends.http._backend",
        "omnistorage.backends.local",
        "omnistorage.backends.s3",
        "omnistorage.backends.sftp",
        "omnistorage.backends.sql",
        "omnistorage.backends.sql._query",
        "omnistorage.composite",
        "omnistorage.ext",
        "omnistorage.multi",
        "omnistorage.testing",
    ):
        importlib.import_module(module)

    found: list[type[ExtendedBackend]] = []
    pending: list[type[ExtendedBackend]] = [ExtendedBackend]
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("omnistorage.") and sub not in found:
                found.append(sub)
    return found


@pytest.mark.parametrize("capability", OPTIONAL, ids=str)
def test_every_library_driver_class_is_bound(capability: Capability) -> None:
    # Every driver class the package defines passed the check at import; taking the
    # capability's methods back to the contract's stand-ins makes each of them fail.
    drivers = _library_drivers()
    assert {
        "AzureBackend",
        "GCSBackend",
        "HTTPBackend",
        "LocalBackend",
        "MemoryBackend",
        "MirrorBackend",
        "ReadOnlyLayer",
        "RetryLayer",
        "S3Backend",
        "SFTPBackend",
        "SQLBlobBackend",
        "SQLQueryBackend",
    } <= {cls.__name__ for cls in drivers}
    stand_ins = {name: vars(ExtendedBackend)[name] for name in SYNC_METHODS[capability]}
    for cls in drivers:
        assert undeclared_methods(cls, cls.may_declare) == [], cls
        if capability in cls.may_declare:
            with pytest.raises(TypeError, match=f"Capability.{capability.name}"):
                type(cls.__name__, (cls,), dict(stand_ins))


# ------------------------------------------------------------ the async contract


class _AsyncEverything(AsyncBackend):
    async def new_writer(self, key: str, options: WriteOptions) -> Any:
        raise AssertionError

    async def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> Any:
        raise AssertionError

    async def exists(self, key: str) -> bool:
        return False

    async def delete(self, key: str) -> None:
        return None

    async def list(self, prefix: str, *, recursive: bool = True) -> AsyncIterator[ObjectInfo]:
        for info in ():
            yield info

    async def stat(self, key: str) -> ObjectInfo:
        return ObjectInfo(key)

    async def mkdir(self, key: str) -> None:
        return None

    async def rmdir(self, key: str) -> None:
        return None

    async def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        return None

    async def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        return None

    async def delete_version(self, key: str, version: str) -> None:
        return None

    async def open_pinned(self, key: str) -> Any:
        raise AssertionError


@pytest.mark.parametrize(("capability", "method"), ASYNC_PAIRS, ids=lambda v: str(v))
def test_async_drivers_are_bound_the_same_way(capability: Capability, method: str) -> None:
    body = _without(_AsyncEverything, method, refused=True)
    body["may_declare"] = BASIC_FEATURES.capabilities | {capability}
    with pytest.raises(TypeError, match=rf"Capability\.{capability.name} but only refuses"):
        type("_AsyncLacks", (_AsyncEverything,), body)
    if method in {"new_writer", "new_reader", "delete", "list"}:
        return
    body = _without(_AsyncEverything, method, refused=False)
    body["may_declare"] = BASIC_FEATURES.capabilities | {capability}
    with pytest.raises(TypeError, match=rf"does not implement {method}\(\)"):
        type("_AsyncLacks", (_AsyncEverything,), body)


def test_an_async_store_refuses_an_instance_beyond_its_class() -> None:
    class _Claims(_AsyncEverything):
        def features(self) -> Features:
            return Features.of([*BASIC_FEATURES.capabilities, Capability.MOVE])

    with pytest.raises(TypeError, match=r"Capability\.MOVE"):
        AsyncStore(_Claims())
    asyncio.run(_Claims().close())
