"""AsyncStore and Store stay twins: same methods, same parameters, async where the sync
one does I/O; ``omnistorage.aio`` exports what it lists; ``import omnistorage`` pays
nothing for it."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import omnistorage.aio
from omnistorage import Store
from omnistorage.aio import AsyncStore

# Every public Store member, by what its async twin is. A new Store method fails
# test_every_store_member_is_classified until it is placed here (and then implemented).
COROUTINES = frozenset(
    {
        "close",
        "cleanup",
        "copy",
        "delete",
        "delete_folder",
        "exists",
        "get_file_info",
        "get_folder_info",
        "is_file",
        "is_folder",
        "make_folder",
        "move",
        "ping",
        "read_bytes",
        "read_range",
        "read_text",
        "write",
        "write_atomic",
        "write_text",
    }
)
"""Sync methods that do I/O and return a value: ``async def`` on AsyncStore."""
STREAMS = {
    "read": "AsyncReadStream",
    "read_seekable": "AsyncSeekableReader",
    "open_atomic": "AsyncAtomicWriter",
    "open_writer": "AsyncAtomicWriter",
    "list_files": "AsyncListing",
    "list_folders": "AsyncListing",
    "glob": "AsyncListing",
}
"""Sync methods that hand out a stream or a listing: plain methods on AsyncStore that check
at once and return an async object opened by ``async with``, ``await`` or first use."""
PLAIN = frozenset({"child", "native_path", "overlaps", "resolve", "supports", "to_key", "unwrap"})
"""No I/O: plain on both."""
PROPERTIES = frozenset({"features", "locations", "root"})


def public_members(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_every_store_member_is_classified() -> None:
    classified = COROUTINES | set(STREAMS) | PLAIN | PROPERTIES
    assert public_members(Store) == classified


def test_async_store_has_no_member_the_store_lacks() -> None:
    assert public_members(AsyncStore) == public_members(Store)


@pytest.mark.parametrize("name", sorted(COROUTINES | set(STREAMS) | PLAIN))
def test_every_method_takes_the_same_parameters(name: str) -> None:
    sync = inspect.signature(getattr(Store, name))
    twin = inspect.signature(getattr(AsyncStore, name))
    shape = [(p.name, p.kind, p.default) for p in sync.parameters.values()]
    assert [(p.name, p.kind, p.default) for p in twin.parameters.values()] == shape


@pytest.mark.parametrize("name", sorted(COROUTINES))
def test_methods_that_do_io_are_coroutines(name: str) -> None:
    assert not inspect.iscoroutinefunction(getattr(Store, name))
    assert inspect.iscoroutinefunction(getattr(AsyncStore, name))


@pytest.mark.parametrize(("name", "kind"), sorted(STREAMS.items()))
def test_methods_that_hand_out_streams_return_async_objects(name: str, kind: str) -> None:
    method = getattr(AsyncStore, name)
    assert not inspect.iscoroutinefunction(method)
    assert str(inspect.signature(method).return_annotation).startswith(kind)
    assert hasattr(getattr(omnistorage.aio, kind), "__aiter__") or hasattr(
        getattr(omnistorage.aio, kind), "__aenter__"
    )


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_methods_without_io_stay_plain(name: str) -> None:
    assert not inspect.iscoroutinefunction(getattr(AsyncStore, name))


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_properties_stay_properties(name: str) -> None:
    assert isinstance(inspect.getattr_static(AsyncStore, name), property)


def test_the_context_manager_is_async() -> None:
    assert hasattr(Store, "__enter__")
    assert hasattr(Store, "__exit__")
    assert inspect.iscoroutinefunction(AsyncStore.__aenter__)
    assert inspect.iscoroutinefunction(AsyncStore.__aexit__)
    assert not hasattr(AsyncStore, "__enter__")


def test_aio_exports_what_it_lists_and_lists_what_it_exports() -> None:
    for name in omnistorage.aio.__all__:
        assert hasattr(omnistorage.aio, name), name
    public = {
        name
        for name, value in vars(omnistorage.aio).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public <= set(omnistorage.aio.__all__), public - set(omnistorage.aio.__all__)


@pytest.mark.parametrize("module", ["omnistorage", "omnistorage.records"])
def test_importing_the_sync_api_imports_no_asyncio(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "bad = sorted(m for m in sys.modules if m == 'asyncio' or m.startswith('asyncio.') "
        "or m.startswith('omnistorage.aio')); print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
