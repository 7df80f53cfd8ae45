"""Backend types, URLs, options and the missing-dependency hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnistorage import (
    ConfigurationError,
    DependencyMissing,
    LocalBackend,
    MemoryBackend,
    backend_types,
    open_backend,
    open_store,
    register,
)
from omnistorage.registry import BackendType


def test_memory_urls_share_named_spaces_and_set_the_root() -> None:
    a = open_store("memory://reg-space/sub")
    b = open_store("memory://reg-space")
    a.write("x", b"1")
    assert b.read_bytes("sub/x") == b"1"
    assert a.root == "sub"


def test_plain_memory_url_is_private() -> None:
    open_store("memory://").write("k", b"v")
    assert not open_store("memory://").exists("k")


def test_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown URL scheme 'nope'.*memory"):
        open_store("nope://x")


def test_unknown_option_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"unknown option 'colour'.*known: root"):
        open_store(str(tmp_path), colour="blue")
    with pytest.raises(ConfigurationError, match="unknown option 'bogus'"):
        open_store(f"file://{tmp_path}?bogus=1")


def test_query_options_are_converted_to_the_option_type(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}?durable=true")
    assert store.unwrap(LocalBackend).durable is True
    with pytest.raises(ConfigurationError, match="must be a bool"):
        open_store(f"file://{tmp_path}?durable=maybe")


def test_file_urls_need_an_absolute_path() -> None:
    with pytest.raises(ConfigurationError, match="host"):
        open_store("file://relative/x")


def test_register_a_third_party_type() -> None:
    register("mem2", MemoryBackend, schemes=("mem2",))
    store = open_store("mem2://ignored-host/r")
    store.write("a", b"b")
    assert "mem2" in backend_types()
    assert isinstance(open_backend("mem2"), MemoryBackend)


def test_missing_dependency_names_the_extra() -> None:
    register("ghost", "omnistorage_ghost_module:Backend", extra="ghost")
    with pytest.raises(DependencyMissing, match=r"pip install 'omnistorage\[ghost\]'"):
        open_backend("ghost")


def test_unknown_backend_type() -> None:
    with pytest.raises(ConfigurationError, match="unknown backend type 'zzz'"):
        open_backend("zzz")


def test_builtin_remote_types_are_registered_lazily() -> None:
    types = backend_types()
    for name in ("s3", "gcs", "azure", "sftp"):
        assert isinstance(types[name], BackendType)
        assert isinstance(types[name].factory, str)


def test_a_url_password_never_reaches_a_message() -> None:
    with pytest.raises(ConfigurationError) as info:
        open_store("sftpx://bob:Pass%21word@example.invalid/data")
    assert "Pass" not in str(info.value)
    assert "bob:***@" in str(info.value)
