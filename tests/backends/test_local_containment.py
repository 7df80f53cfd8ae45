"""Containment of the local backend against an attacker who writes inside the root.

Every test runs twice: with ``openat2`` resolution (where the kernel has it)
and with the portable ``openat`` walk, so both paths are proven.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from omnistorage import LocalBackend, NotFound, PermissionDenied, Store
from omnistorage.backends.local import _resolve
from omnistorage.errors import StorageError


@pytest.fixture(params=["openat2", "walk"], autouse=True)
def resolution(request: pytest.FixtureRequest) -> Iterator[str]:
    _resolve.force_walk(request.param == "walk")
    yield str(request.param)
    _resolve.force_walk(False)


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"outside secret")
    (outside / "victim.txt").write_bytes(b"outside victim")
    return root, outside


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def _path_operations(store: Store) -> dict[str, Callable[[], object]]:
    """Every Store method that takes a path, aimed through the folder ``d``."""
    return {
        "read_bytes": lambda: store.read_bytes("d/secret.txt"),
        "read_range": lambda: store.read_range("d/secret.txt", 0, 4),
        "read": lambda: store.read("d/secret.txt").read(),
        "read_seekable": lambda: store.read_seekable("d/secret.txt").read(),
        "get_file_info": lambda: store.get_file_info("d/secret.txt"),
        "get_folder_info": lambda: store.get_folder_info("d"),
        "write": lambda: store.write("d/new.txt", b"planted"),
        "write overwrite": lambda: store.write("d/secret.txt", b"planted", overwrite=True),
        "open_atomic": lambda: _write_with(store.open_atomic("d/atomic.txt")),
        "delete": lambda: store.delete("d/victim.txt"),
        "list_files": lambda: list(store.list_files("d", recursive=True)),
        "list_folders": lambda: list(store.list_folders("d")),
        "glob": lambda: list(store.glob("d/*")),
        "copy from": lambda: store.copy("d/secret.txt", "copied.txt"),
        "copy to": lambda: store.copy("inside.txt", "d/copied.txt"),
        "move from": lambda: store.move("d/victim.txt", "moved.txt"),
        "move to": lambda: store.move("inside2.txt", "d/moved.txt"),
        "make_folder": lambda: store.make_folder("d/sub"),
        "delete_folder": lambda: store.delete_folder("d", recursive=True),
        "child read": lambda: store.child("d").read_bytes("secret.txt"),
        "child write": lambda: store.child("d").write("child.txt", b"planted"),
        "cleanup": lambda: store.cleanup("d", older_than=timedelta(0)),
    }


def _write_with(writer: object) -> None:
    with writer:  # type: ignore[attr-defined]
        writer.write(b"planted")  # type: ignore[attr-defined]


def _leaks(result: object) -> bool:
    """True when a result carries the outside folder's bytes or names."""
    text = repr(result)
    return "outside secret" in text or "victim" in text or "secret.txt" in text


def test_a_folder_swapped_for_a_symlink_after_use_is_refused(
    layout: tuple[Path, Path],
) -> None:
    root, outside = layout
    store = Store(LocalBackend(root))
    store.write("d/secret.txt", b"inside")
    store.write("inside.txt", b"i")
    store.write("inside2.txt", b"i2")
    # Use the folder through the Store first, so any cache of verified folders is warm.
    assert store.read_bytes("d/secret.txt") == b"inside"
    assert [i.path for i in store.list_files("d")] == ["d/secret.txt"]
    # The attacker moves d out of the root and leaves a symlink to it in its place.
    moved = outside / "d"
    os.rename(root / "d", moved)
    (moved / "secret.txt").write_bytes(b"outside secret")
    (moved / "victim.txt").write_bytes(b"outside victim")
    (root / "d").symlink_to(moved)
    before = _snapshot(outside)
    for name, operation in _path_operations(store).items():
        try:
            result = operation()
        except (PermissionDenied, NotFound):
            continue
        assert not _leaks(result), f"{name} reached outside the root: {result!r}"
    assert _snapshot(outside) == before
    assert not store.exists("d/secret.txt")
    assert not store.is_file("d/secret.txt")
    assert not store.is_folder("d")
    assert "d/secret.txt" not in [i.path for i in store.list_files(recursive=True)]


def test_a_symlink_anywhere_is_refused_by_name(layout: tuple[Path, Path]) -> None:
    root, outside = layout
    store = Store(LocalBackend(root))
    store.write("real/data.txt", b"data")
    (root / "inner_alias").symlink_to(root / "real")
    (root / "outer_alias").symlink_to(outside)
    (root / "file_alias").symlink_to(outside / "secret.txt")
    (root / "real" / "file_alias").symlink_to(root / "real" / "data.txt")
    for key in ("inner_alias/data.txt", "outer_alias/secret.txt", "file_alias"):
        with pytest.raises(NotFound, match="symlink"):
            store.read_bytes(key)
        assert not store.exists(key)
    with pytest.raises(NotFound, match="'real/file_alias' is a symlink"):
        store.read_bytes("real/file_alias")
    with pytest.raises(PermissionDenied, match="'outer_alias' is a symlink"):
        store.write("outer_alias/new.txt", b"x")
    assert not (outside / "new.txt").exists()
    listed = [i.path for i in store.list_files(recursive=True)]
    assert listed == ["real/data.txt"]
    assert sorted(store.list_folders()) == ["real"]


def test_overwriting_a_symlink_replaces_the_link_not_its_target(
    layout: tuple[Path, Path],
) -> None:
    root, outside = layout
    store = Store(LocalBackend(root))
    (root / "link.txt").symlink_to(outside / "victim.txt")
    store.write("link.txt", b"ours", overwrite=True)
    assert (outside / "victim.txt").read_bytes() == b"outside victim"
    assert not (root / "link.txt").is_symlink()
    assert store.read_bytes("link.txt") == b"ours"


def test_open_atomic_does_not_publish_through_a_swapped_folder(
    layout: tuple[Path, Path],
) -> None:
    root, outside = layout
    store = Store(LocalBackend(root))
    store.make_folder("d")
    before = _snapshot(outside)
    with pytest.raises(StorageError), store.open_atomic("d/report.txt") as writer:
        writer.write(b"payload")
        os.rename(root / "d", root / "d-old")
        (root / "d").symlink_to(outside)
    assert _snapshot(outside) == before
    assert list((root / "d-old").iterdir()) == []  # nothing landed, no temp left


def test_open_atomic_does_not_publish_into_a_folder_moved_out_of_the_root(
    layout: tuple[Path, Path],
) -> None:
    root, outside = layout
    store = Store(LocalBackend(root))
    store.make_folder("d")
    with pytest.raises(StorageError), store.open_atomic("d/report.txt") as writer:
        writer.write(b"payload")
        os.rename(root / "d", outside / "d")
        (root / "d").symlink_to(outside / "d")
    assert list((outside / "d").iterdir()) == []


_SWAPPER = textwrap.dedent(
    """
    import os, sys
    root, outside, stop = sys.argv[1:4]
    d, parked = os.path.join(root, "d"), os.path.join(root, "parked")
    while not os.path.exists(stop):
        os.rename(d, parked)                 # the real folder steps aside
        os.symlink(outside, d)               # a symlink out of the root takes its place
        os.unlink(d)
        os.rename(parked, d)                 # and back
    """
)


@contextlib.contextmanager
def _swapper(root: Path, outside: Path, tmp_path: Path) -> Iterator[None]:
    stop = tmp_path / "stop"
    proc = subprocess.Popen([sys.executable, "-c", _SWAPPER, str(root), str(outside), str(stop)])
    try:
        time.sleep(0.05)
        yield
    finally:
        stop.write_text("")
        proc.wait(timeout=30)


def test_a_concurrent_swapper_never_lets_a_call_out(
    layout: tuple[Path, Path], tmp_path: Path
) -> None:
    root, outside = layout
    store = Store(LocalBackend(root))
    store.write("d/secret.txt", b"inside")
    store.write("d/victim.txt", b"inside victim")
    before = _snapshot(outside)
    outcomes = {"ok": 0, "refused": 0}
    operations: list[Callable[[int], object]] = [
        lambda i: store.read_bytes("d/secret.txt"),
        lambda i: store.write(f"d/new-{i}.txt", b"planted"),
        lambda i: store.write("d/secret.txt", b"inside", overwrite=True),
        lambda i: store.delete("d/victim.txt") if i % 50 == 0 else None,
        lambda i: [x.path for x in store.list_files("d")],
        lambda i: store.get_file_info("d/secret.txt"),
    ]
    errors: list[str] = []
    with _swapper(root, outside, tmp_path):
        for i in range(1000):
            for operation in operations:
                try:
                    result = operation(i)
                except StorageError as exc:  # refused, or the folder moved during a write
                    errors.append(str(exc))
                    outcomes["refused"] += 1
                    continue
                outcomes["ok"] += 1
                assert "outside" not in repr(result)
                if isinstance(result, bytes):
                    assert result == b"inside"
    assert not [e for e in errors if str(outside) in e]
    assert _snapshot(outside) == before
    assert outcomes["ok"] > 0  # the race was real: some calls got through inside
    assert outcomes["refused"] > 0  # and some met the symlink


def test_a_concurrent_swapper_never_lets_an_atomic_writer_out(
    layout: tuple[Path, Path], tmp_path: Path
) -> None:
    root, outside = layout
    store = Store(LocalBackend(root))
    store.make_folder("d")
    before = _snapshot(outside)
    with _swapper(root, outside, tmp_path):
        for i in range(1000):
            with contextlib.suppress(StorageError), store.open_atomic(f"d/a-{i}.txt") as writer:
                writer.write(b"payload")
    assert _snapshot(outside) == before
