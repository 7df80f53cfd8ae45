"""fsspec's own abstract test suite (copy, get, put, open, pipe) against OmniFileSystem,
over a memory store (no empty folders) and a local store (real folders)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("fsspec")

from fsspec.tests.abstract import (
    AbstractCopyTests,
    AbstractFixtures,
    AbstractGetTests,
    AbstractOpenTests,
    AbstractPipeTests,
    AbstractPutTests,
)

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.capabilities import Capability
from omnistorage.ext.fsspec import OmniFileSystem


class _OmniFixtures(AbstractFixtures):  # type: ignore[misc]
    def make_store(self, tmp: Path) -> Store:
        raise NotImplementedError

    @pytest.fixture
    def fs(self, tmp_path: Path) -> OmniFileSystem:
        return OmniFileSystem(self.make_store(tmp_path / "store"))

    @pytest.fixture
    def fs_path(self) -> str:
        return "base"

    @pytest.fixture
    def fs_join(self) -> Callable[..., str]:
        def join(*parts: str) -> str:
            if len(parts) == 1:
                return parts[0]
            head = [parts[0].rstrip("/")] + [p.strip("/") for p in parts[1:-1] if p.strip("/")]
            return "/".join([*head, parts[-1].lstrip("/")])

        return join

    @pytest.fixture
    def supports_empty_directories(self, fs: OmniFileSystem) -> bool:
        store = fs._store
        assert store is not None
        return store.supports(Capability.MKDIR)


class _MemoryFixtures(_OmniFixtures):
    def make_store(self, tmp: Path) -> Store:
        return Store(MemoryBackend())


class _LocalFixtures(_OmniFixtures):
    def make_store(self, tmp: Path) -> Store:
        return Store(LocalBackend(tmp))


class TestMemoryCopy(AbstractCopyTests, _MemoryFixtures):  # type: ignore[misc]
    pass


class TestMemoryGet(AbstractGetTests, _MemoryFixtures):  # type: ignore[misc]
    pass


class TestMemoryPut(AbstractPutTests, _MemoryFixtures):  # type: ignore[misc]
    pass


class TestMemoryOpen(AbstractOpenTests, _MemoryFixtures):  # type: ignore[misc]
    pass


class TestMemoryPipe(AbstractPipeTests, _MemoryFixtures):  # type: ignore[misc]
    pass


class TestLocalCopy(AbstractCopyTests, _LocalFixtures):  # type: ignore[misc]
    pass


class TestLocalGet(AbstractGetTests, _LocalFixtures):  # type: ignore[misc]
    pass


class TestLocalPut(AbstractPutTests, _LocalFixtures):  # type: ignore[misc]
    pass


class TestLocalOpen(AbstractOpenTests, _LocalFixtures):  # type: ignore[misc]
    pass


class TestLocalPipe(AbstractPipeTests, _LocalFixtures):  # type: ignore[misc]
    pass


# fsspec.tests.abstract.mv holds no abstract class: its two module-level tests are bound
# to fsspec's own local filesystem ("file"). Their behaviours, checked here on ours:
# - a move into a read-only destination raises PermissionError and leaves both sides
#   as they were (the ReadOnlyLayer stands in for the read-only folder: the tests run
#   as root, for whom chmod 0555 refuses nothing);
# - a move into a folder that does not exist: fsspec's local filesystem raises
#   FileNotFoundError; omnistorage creates parent folders on write (as object stores
#   do), so the move succeeds. That difference is by design.


@pytest.fixture(params=["memory", "local"])
def mv_fs(request: pytest.FixtureRequest, tmp_path: Path) -> OmniFileSystem:
    if request.param == "memory":
        return OmniFileSystem(Store(MemoryBackend()))
    return OmniFileSystem(Store(LocalBackend(tmp_path / "store")))


def test_mv_moves_a_file(mv_fs: OmniFileSystem) -> None:
    mv_fs.pipe_file("a/source.txt", b"content")
    mv_fs.mv("a/source.txt", "b/dest.txt")
    assert mv_fs.cat_file("b/dest.txt") == b"content"
    assert not mv_fs.exists("a/source.txt")


def test_mv_recursive_moves_a_tree(mv_fs: OmniFileSystem) -> None:
    for name in ("x/1.txt", "x/sub/2.txt", "x/sub/deeper/3.txt"):
        mv_fs.pipe_file(name, name.encode())
    mv_fs.mv("x", "y", recursive=True)
    assert sorted(mv_fs.find("y")) == ["y/1.txt", "y/sub/2.txt", "y/sub/deeper/3.txt"]
    assert mv_fs.cat_file("y/sub/deeper/3.txt") == b"x/sub/deeper/3.txt"
    assert mv_fs.find("x") == []


def test_mv_into_a_missing_folder_creates_it(mv_fs: OmniFileSystem) -> None:
    mv_fs.pipe_file("source.txt", b"content")
    mv_fs.mv("source.txt", "non_existent_directory/destination_file.txt")
    assert mv_fs.cat_file("non_existent_directory/destination_file.txt") == b"content"


@pytest.mark.parametrize("recursive", [True, False])
def test_mv_in_a_read_only_store_raises_permission_error_and_changes_nothing(
    tmp_path: Path, recursive: bool
) -> None:
    from omnistorage.ext import ReadOnlyLayer

    folder = tmp_path / "store"
    Store(LocalBackend(folder)).write("source_file.txt", b"content")
    fs = OmniFileSystem(Store(ReadOnlyLayer(LocalBackend(folder))))
    with pytest.raises(PermissionError):
        fs.mv("source_file.txt", "protected/destination_file.txt", recursive=recursive)
    assert (folder / "source_file.txt").read_bytes() == b"content"
    assert not (folder / "protected").exists()
