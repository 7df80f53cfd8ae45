"""Folder markers on GCS (``MKDIR``): zero-size ``name/`` objects, against gcp-storage-emulator.

The conformance suite runs the ``MKDIR`` tests; these check the markers themselves: one
written by another tool is an empty folder, ``delete_folder`` leaves none behind (raw
object names read with the SDK), and an ``x/`` object that holds bytes is no marker.
"""

from __future__ import annotations

import pytest

from omnistorage import AlreadyExists, NotFound, Store
from tests.backends.test_gcs import BUCKET, _admin_client, _backend, root

__all__ = ["root"]  # the fixture, imported for pytest


def _raw_names(root: str) -> list[str]:
    """Every object name below ``root``, as the SDK lists it (relative to ``root``)."""
    client = _admin_client()
    return sorted(
        blob.name[len(root) + 1 :] for blob in client.list_blobs(BUCKET, prefix=f"{root}/")
    )


def _put_raw(root: str, name: str, data: bytes) -> None:
    _admin_client().bucket(BUCKET).blob(f"{root}/{name}").upload_from_string(data)


def test_a_marker_written_by_another_tool_is_an_empty_folder(root: str) -> None:
    _put_raw(root, "emptyfolder/", b"")
    store = Store(_backend(), root)
    assert store.is_folder("emptyfolder")
    assert not store.is_file("emptyfolder")
    assert list(store.list_folders("")) == ["emptyfolder"]
    assert list(store.list_files("", recursive=True)) == []
    info = store.get_folder_info("emptyfolder")
    assert (info.path, info.file_count, info.total_size) == ("emptyfolder", 0, 0)
    store.delete_folder("emptyfolder")
    assert not store.is_folder("emptyfolder")
    assert _raw_names(root) == []
    store.close()


def test_make_folder_writes_markers_and_recursive_delete_leaves_none(root: str) -> None:
    store = Store(_backend(), root)
    store.make_folder("a/b/c")
    # Every parent gets its marker, the store root's own ("") and those above it included.
    assert _raw_names(root) == ["", "a/", "a/b/", "a/b/c/"]
    store.write("a/b/f.txt", b"data")
    store.make_folder("a/b/c")  # an existing folder is fine, its marker left alone
    assert _raw_names(root) == ["", "a/", "a/b/", "a/b/c/", "a/b/f.txt"]
    assert sorted(store.list_folders("a/b")) == ["a/b/c"]
    assert [i.path for i in store.list_files("a", recursive=True)] == ["a/b/f.txt"]
    store.delete_folder("a", recursive=True)
    assert _raw_names(root) == [""]
    assert not store.is_folder("a")
    store.close()


def test_an_object_named_like_a_marker_that_holds_bytes_is_a_foreign_key(root: str) -> None:
    _put_raw(root, "x/", b"!")
    store = Store(_backend(), root)
    seen: list[str] = []
    listing = store.list_files("", recursive=True, on_invalid=seen.append)
    assert list(listing) == []
    assert listing.invalid_count == 1
    assert seen == [f"{root}/x/"]
    assert not store.is_folder("x")
    assert not store.is_file("x")
    with pytest.raises(NotFound):
        store.get_folder_info("x")
    store.delete_folder("x", missing_ok=True)
    assert _raw_names(root) == ["x/"]  # never touched: it is not ours
    store.close()


def test_make_folder_through_a_file_raises_already_exists(root: str) -> None:
    store = Store(_backend(), root)
    store.write("f", b"file")
    with pytest.raises(AlreadyExists):
        store.make_folder("f")
    with pytest.raises(AlreadyExists):
        store.make_folder("f/sub")
    assert _raw_names(root) == ["f"]
    store.close()
