"""What only the local backend must show: containment, atomic publish, racing creators."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnistorage import (
    AlreadyExists,
    InvalidPath,
    LocalBackend,
    NotFound,
    Store,
    open_store,
)
from omnistorage.testing import race_create_only
from omnistorage.testing.conformance import HOSTILE_KEYS


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def store(root: Path) -> Store:
    return Store(LocalBackend(root))


@pytest.mark.parametrize("key", HOSTILE_KEYS, ids=repr)
def test_hostile_keys_create_nothing_outside_the_root(
    tmp_path: Path, store: Store, key: str
) -> None:
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    for call in (
        lambda: store.write(key, b"x"),
        lambda: store.open_atomic(key),
        lambda: store.delete(key),
        lambda: store.copy("a", key),
    ):
        with pytest.raises(InvalidPath):
            call()
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_sixteen_racing_creators_have_exactly_one_winner(store: Store) -> None:
    def payload(i: int) -> bytes:
        return f"writer {i}".encode() * 1000

    for round_ in range(20):
        key = f"race/{round_}.txt"
        race_create_only(store, key, payload, writers=16).assert_one_winner(store, key, payload)
    leftovers = [p for p in Path(store.native_path()).rglob("*") if "omnistorage-tmp" in p.name]
    assert leftovers == []


def test_durable_writes_round_trip(root: Path) -> None:
    store = Store(LocalBackend(root, durable=True))
    store.write("d/durable.txt", b"synced")
    assert store.read_bytes("d/durable.txt") == b"synced"


def test_a_file_where_a_folder_is_needed_is_an_error(store: Store) -> None:
    store.write("a", b"file")
    with pytest.raises(AlreadyExists):
        store.write("a/b", b"x")
    assert store.read_bytes("a") == b"file"


def test_writing_over_a_folder_is_refused(store: Store) -> None:
    store.write("dir/inner", b"x")
    with pytest.raises(AlreadyExists):
        store.write("dir", b"x", overwrite=True)
    with pytest.raises(AlreadyExists):
        store.write("dir", b"x")


def test_empty_folders_exist_and_can_be_deleted(store: Store, root: Path) -> None:
    (root / "empty").mkdir()
    assert store.is_folder("empty")
    assert list(store.list_folders()) == ["empty"]
    store.delete_folder("empty")
    assert not (root / "empty").exists()


def test_missing_root_without_create_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        LocalBackend(tmp_path / "missing", create=False)


def test_open_store_with_a_path_and_a_file_url(root: Path) -> None:
    by_path = open_store(str(root))
    by_path.write("x.txt", b"1")
    by_url = open_store(f"file://{root}")
    assert by_url.read_bytes("x.txt") == b"1"
    assert by_url.to_key(str(root / "x.txt")) == "x.txt"
    with pytest.raises(InvalidPath):
        by_url.to_key("/etc/passwd")


def test_read_of_a_folder_is_not_found(store: Store) -> None:
    store.write("folder/f", b"x")
    with pytest.raises(NotFound):
        store.read_bytes("folder")
