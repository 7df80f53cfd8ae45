"""Folder markers on Azure (``MKDIR``, flat namespace): zero-size ``name/`` blobs, on Azurite.

The conformance suite runs the ``MKDIR`` tests; these check the markers themselves: one
written by another tool is an empty folder, ``delete_folder`` leaves none behind (raw
blob names read with the SDK), and a ``x/`` blob that holds bytes is no marker. A
hierarchical-namespace account declares no ``MKDIR`` (its directories are real).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure.storage.blob import ContainerClient

from omnistorage import AlreadyExists, NotFound, Store
from omnistorage.backends.azure import AzureBackend
from omnistorage.capabilities import Capability
from tests.backends.test_azure import (
    _FakeService,
    backend,
    drop_container,
    make_container,
    unique_root,
)

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def container() -> Iterator[str]:
    name = make_container()
    yield name
    drop_container(name)


@pytest.fixture
def store(container: str) -> Iterator[Store]:
    with Store(backend(container), unique_root()) as store:
        yield store


def _client(store: Store) -> ContainerClient:
    client = store.unwrap().as_native(ContainerClient)
    assert client is not None
    return client


def _raw_names(store: Store) -> list[str]:
    """Every blob name below the store's root, as the SDK lists it (relative to the root)."""
    root = store.root
    blobs = _client(store).list_blobs(name_starts_with=f"{root}/")
    return sorted(props.name[len(root) + 1 :] for props in blobs)


def _put_raw(store: Store, name: str, data: bytes, **options: Any) -> None:
    _client(store).upload_blob(f"{store.root}/{name}", data, **options)


def test_a_marker_written_by_another_tool_is_an_empty_folder(store: Store) -> None:
    _put_raw(store, "emptyfolder/", b"")
    assert store.is_folder("emptyfolder")
    assert not store.is_file("emptyfolder")
    assert list(store.list_folders("")) == ["emptyfolder"]
    assert list(store.list_files("", recursive=True)) == []
    info = store.get_folder_info("emptyfolder")
    assert (info.path, info.file_count, info.total_size) == ("emptyfolder", 0, 0)
    store.delete_folder("emptyfolder")
    assert not store.is_folder("emptyfolder")
    assert _raw_names(store) == []


def test_make_folder_writes_markers_and_recursive_delete_leaves_none(store: Store) -> None:
    store.make_folder("a/b/c")
    # Every parent gets its marker, the store root's own ("") and those above it included.
    assert _raw_names(store) == ["", "a/", "a/b/", "a/b/c/"]
    store.write("a/b/f.txt", b"data")
    store.make_folder("a/b/c")  # an existing folder is fine, its marker left alone
    assert _raw_names(store) == ["", "a/", "a/b/", "a/b/c/", "a/b/f.txt"]
    assert sorted(store.list_folders("a/b")) == ["a/b/c"]
    assert [i.path for i in store.list_files("a", recursive=True)] == ["a/b/f.txt"]
    store.delete_folder("a", recursive=True)
    assert _raw_names(store) == [""]
    assert not store.is_folder("a")


def test_a_blob_named_like_a_marker_that_holds_bytes_is_a_foreign_key(store: Store) -> None:
    _put_raw(store, "x/", b"!")
    seen: list[str] = []
    listing = store.list_files("", recursive=True, on_invalid=seen.append)
    assert list(listing) == []
    assert listing.invalid_count == 1
    assert seen == [f"{store.root}/x/"]
    assert not store.is_folder("x")
    assert not store.is_file("x")
    with pytest.raises(NotFound):
        store.get_folder_info("x")
    store.delete_folder("x", missing_ok=True)
    store.make_folder("x")  # the marker is written create-only: the blob keeps its byte
    assert _client(store).download_blob(f"{store.root}/x/").readall() == b"!"
    assert "x/" in _raw_names(store)


def test_make_folder_through_a_file_raises_already_exists(store: Store) -> None:
    store.write("f", b"file")
    with pytest.raises(AlreadyExists):
        store.make_folder("f")
    with pytest.raises(AlreadyExists):
        store.make_folder("f/sub")
    assert _raw_names(store) == ["f"]


def test_a_blobfuse_directory_blob_is_an_empty_folder_delete_folder_removes(
    store: Store,
) -> None:
    _put_raw(store, "bf", b"", metadata={"hdi_isfolder": "true"})
    assert store.is_folder("bf")
    assert not store.is_file("bf")
    store.delete_folder("bf")
    assert not store.is_folder("bf")
    assert _raw_names(store) == []


def test_hierarchical_namespace_declares_no_markers() -> None:
    fake: Any = _FakeService("https://acct.blob.core.windows.net/", True)
    driver = AzureBackend(container="c", service_client=fake)
    assert not driver.features().supports(Capability.MKDIR)
    assert driver.folders_are_markers is False
    flat = AzureBackend(container="c", service_client=fake, detect_hierarchical_namespace=False)
    assert flat.features().supports(Capability.MKDIR)
    assert flat.folders_are_markers is True
