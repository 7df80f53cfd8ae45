"""Local temp files: fork-safe names, kept modes, name edge cases, crash leftovers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest

from omnistorage import AlreadyExists, InvalidPath, LocalBackend, NotFound, Store
from omnistorage._tempname import TEMP_MARK
from tests.support.forked import race_forked


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def store(root: Path) -> Store:
    return Store(LocalBackend(root))


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(TEMP_MARK)]


# ------------------------------------------------------------ fork


def test_forked_writers_never_collide_on_temp_names(root: Path) -> None:
    store = Store(LocalBackend(root))
    store.write("warm.txt", b"x")  # module state exists before the fork
    rounds = 30
    wins, failures = race_forked(store, workers=8, rounds=rounds)
    assert failures == []
    assert wins == rounds  # one winner per create-only round
    for round_ in range(rounds):
        body = store.read_bytes(f"shared/create-{round_}.bin")
        assert body == body[: len(body) // 500] * 500
    assert _temp_files(root) == []


# ------------------------------------------------------------ modes


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755, 0o400])
def test_overwrite_keeps_the_mode(store: Store, root: Path, mode: int) -> None:
    store.write("private.txt", b"old")
    os.chmod(root / "private.txt", mode)
    store.write("private.txt", b"new", overwrite=True)
    assert (root / "private.txt").stat().st_mode & 0o7777 == mode
    assert store.read_bytes("private.txt") == b"new"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may give a file away")
def test_overwrite_keeps_the_owner_where_permitted(store: Store, root: Path) -> None:
    store.write("owned.txt", b"old")
    os.chown(root / "owned.txt", 4321, 4322)
    store.write("owned.txt", b"new", overwrite=True)
    info = (root / "owned.txt").stat()
    assert (info.st_uid, info.st_gid) == (4321, 4322)


def test_new_files_follow_the_umask(store: Store, root: Path) -> None:
    old = os.umask(0o077)
    try:
        store.write("fresh.txt", b"x")
    finally:
        os.umask(old)
    assert (root / "fresh.txt").stat().st_mode & 0o777 == 0o600


# ------------------------------------------------------------ names


@pytest.mark.parametrize(
    "name",
    ["漢" * 80, "🙂" * 63, "a" * 255, "é" * 127],
    ids=["cjk-240-bytes", "emoji-252-bytes", "ascii-255-bytes", "latin-254-bytes"],
)
def test_long_names_up_to_name_max_bytes_write_and_list(store: Store, name: str) -> None:
    assert len(name.encode()) <= 255
    store.write(f"long/{name}", b"data")
    store.write(f"long/{name}", b"again", overwrite=True)
    assert store.read_bytes(f"long/{name}") == b"again"
    assert [i.path for i in store.list_files("long")] == [f"long/{name}"]


def test_a_key_ending_like_the_old_temp_suffix_is_listed(store: Store) -> None:
    store.write("notes.omnistorage-tmp", b"mine")
    assert [i.path for i in store.list_files()] == ["notes.omnistorage-tmp"]


def test_the_temp_prefix_is_reserved_in_keys(store: Store) -> None:
    with pytest.raises(InvalidPath):
        store.write(f"{TEMP_MARK}0123456789abcdef-x", b"x")


def test_temp_files_are_hidden_and_removed_on_abort(store: Store, root: Path) -> None:
    writer = store.open_atomic("hidden.txt")
    writer.write(b"x" * 100_000)
    assert len(_temp_files(root)) == 1
    assert list(store.list_files(recursive=True)) == []
    writer.abort()
    assert list(root.rglob("*")) == []


def test_a_failed_create_only_publish_removes_only_its_own_temp(store: Store, root: Path) -> None:
    store.write("taken.txt", b"first")
    other = store.open_atomic("taken.txt", overwrite=True)
    other.write(b"other writer, still open")
    with pytest.raises(AlreadyExists):
        store.write("taken.txt", b"second")
    assert len(_temp_files(root)) == 1  # the other writer's temp file is untouched
    other.close()
    assert store.read_bytes("taken.txt") == b"other writer, still open"


# ------------------------------------------------------------ a file used as a folder


def test_a_file_used_as_a_folder_is_not_found(store: Store) -> None:
    store.write("f", b"file")
    assert not store.exists("f/x")
    assert not store.is_file("f/x")
    assert not store.is_folder("f/x")
    for call in (
        lambda: store.read_bytes("f/x"),
        lambda: store.read_range("f/x", 0, 1),
        lambda: store.get_file_info("f/x"),
        lambda: store.read_seekable("f/x"),
    ):
        with pytest.raises(NotFound):
            call()
    with pytest.raises(AlreadyExists):
        store.write("f/x", b"x")
    with pytest.raises(AlreadyExists):
        store.make_folder("f/x")


# ------------------------------------------------------------ crash leftovers

_KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from omnistorage import LocalBackend, Store
    store = Store(LocalBackend(sys.argv[1]))
    writer = store.open_atomic("logs/big.bin")
    chunk = b"x" * (1 << 20)
    for _ in range(8):
        writer.write(chunk)
    writer.flush()
    print("ready", flush=True)
    while True:
        writer.write(chunk)
        sys.stdin.readline()
    """
)


def test_a_sigkilled_writer_leaves_a_temp_file_that_cleanup_removes(
    store: Store, root: Path
) -> None:
    store.write("logs/keep.txt", b"keep")
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    leftovers = _temp_files(root)
    assert len(leftovers) == 1
    assert leftovers[0].stat().st_size >= 8 << 20
    assert [i.path for i in store.list_files(recursive=True)] == ["logs/keep.txt"]
    young = store.cleanup()
    assert young.removed == ()
    assert len(young.kept) == 1
    report = store.cleanup(older_than=timedelta(0))
    assert [item.key for item in report.removed] == ["logs"]
    assert _temp_files(root) == []
    assert store.read_bytes("logs/keep.txt") == b"keep"


def test_delete_folder_recursive_removes_a_killed_writers_temp(store: Store, root: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    proc.kill()
    proc.wait(timeout=30)
    time.sleep(0.01)
    store.delete_folder("logs", recursive=True)
    assert not (root / "logs").exists()
