"""The public surface of omnistorage.sync: the pinned names exist and __all__ is complete."""

from __future__ import annotations

import inspect

import omnistorage.sync as sync_module

PINNED = {
    "sync",
    "copy",
    "move",
    "check",
    "bisync",
    "plan",
    "execute",
    "copy_file",
    "move_file",
    "Filters",
    "SyncReport",
    "CheckReport",
    "BisyncReport",
    "Plan",
    "Action",
    "Progress",
    "SyncError",
}


def test_the_pinned_names_are_exported() -> None:
    assert set(sync_module.__all__) >= PINNED
    for name in sync_module.__all__:
        assert hasattr(sync_module, name), name


def test_every_public_name_is_in_all() -> None:
    public = {
        name
        for name, value in vars(sync_module).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public <= set(sync_module.__all__), public - set(sync_module.__all__)


def test_sync_error_is_a_storage_error() -> None:
    from omnistorage import StorageError

    assert issubclass(sync_module.SyncError, StorageError)


def test_the_pinned_parameters_are_keyword_options() -> None:
    for name in ("sync", "copy", "move"):
        parameters = inspect.signature(getattr(sync_module, name)).parameters
        assert parameters["dry_run"].kind is inspect.Parameter.KEYWORD_ONLY
    check = inspect.signature(sync_module.check).parameters
    for option in ("one_way", "download", "filters", "checkers", "cancel", "progress"):
        assert check[option].kind is inspect.Parameter.KEYWORD_ONLY
    bisync = inspect.signature(sync_module.bisync).parameters
    assert {"state", "conflict", "dry_run"} <= set(bisync)
