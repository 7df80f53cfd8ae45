"""SFTP temp files against the real sshd: fork-safe names and sessions, kept modes,
long names, crash leftovers found and removed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from uuid import uuid4

import paramiko
import pytest

from omnistorage import Store
from omnistorage._tempname import TEMP_MARK
from omnistorage.backends.sftp import SFTPBackend
from tests.backends.test_sftp import _backend, _env
from tests.support.forked import race_forked


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return _env()


@pytest.fixture
def root(env: dict[str, str]) -> Iterator[str]:
    path = f"{env['OMNI_TEST_SFTP_ROOT']}/w-{uuid4().hex}"
    yield path
    cleaner = _backend(env, env["OMNI_TEST_SFTP_ROOT"])
    Store(cleaner).delete_folder(path.rsplit("/", 1)[1], recursive=True, missing_ok=True)
    cleaner.close()


@pytest.fixture
def store(env: dict[str, str], root: str) -> Iterator[Store]:
    backend = _backend(env, root)
    yield Store(backend)
    backend.close()


def _raw(store: Store) -> paramiko.SFTPClient:
    return store.unwrap(paramiko.SFTPClient)


def _temp_names(store: Store, folder: str) -> list[str]:
    sftp = _raw(store)
    try:
        path = f"{store.unwrap(SFTPBackend).root}/{folder}"
        return [n for n in sftp.listdir(path) if n.startswith(TEMP_MARK)]
    finally:
        sftp.close()


# ------------------------------------------------------------ fork


def test_forked_writers_never_collide(store: Store, root: str) -> None:
    store.write("shared/warm.txt", b"x")  # a live pooled connection exists before the fork
    rounds = 30
    wins, failures = race_forked(store, workers=8, rounds=rounds)
    assert failures == []
    assert wins == rounds
    assert store.read_bytes("shared/warm.txt") == b"x"  # the parent's pool still works
    assert _temp_names(store, "shared") == []


def test_a_fork_the_hook_missed_is_caught_by_the_pid(store: Store) -> None:
    """A pool whose recorded pid is not the current process (a fork made outside
    ``os.fork``) connects afresh and leaves the inherited connection alone."""
    backend = store.unwrap(SFTPBackend)
    store.write("a.txt", b"x")
    inherited = backend.as_native(paramiko.Transport)
    assert inherited is not None
    backend._pool._pid = -1  # as seen from a child the hook did not reach
    assert store.read_bytes("a.txt") == b"x"
    fresh = backend.as_native(paramiko.Transport)
    assert fresh is not None
    assert fresh is not inherited
    assert inherited.is_active()  # never closed: in a real child it is the parent's
    inherited.close()


# ------------------------------------------------------------ modes


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_overwrite_keeps_the_mode(store: Store, mode: int) -> None:
    store.write("private.txt", b"old")
    sftp = _raw(store)
    path = f"{store.unwrap(SFTPBackend).root}/private.txt"
    try:
        sftp.chmod(path, mode)
        store.write("private.txt", b"new", overwrite=True)
        assert (sftp.stat(path).st_mode or 0) & 0o7777 == mode
    finally:
        sftp.close()
    assert store.read_bytes("private.txt") == b"new"


# ------------------------------------------------------------ names


@pytest.mark.parametrize(
    "name", ["漢" * 80, "🙂" * 63, "a" * 255], ids=["cjk-240", "emoji-252", "ascii-255"]
)
def test_long_names_write_overwrite_and_list(store: Store, name: str) -> None:
    store.write(f"long/{name}", b"data")
    store.write(f"long/{name}", b"again", overwrite=True)
    assert store.read_bytes(f"long/{name}") == b"again"
    assert [i.path for i in store.list_files("long")] == [f"long/{name}"]


def test_a_key_ending_like_the_old_temp_suffix_is_listed(store: Store) -> None:
    store.write("notes.omnistorage-tmp", b"mine")
    assert [i.path for i in store.list_files()] == ["notes.omnistorage-tmp"]


# ------------------------------------------------------------ crash leftovers

_KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from tests.backends.test_sftp import _backend, _env
    from omnistorage import Store
    store = Store(_backend(_env(), sys.argv[1]))
    writer = store.open_atomic("logs/big.bin")
    chunk = b"x" * (1 << 20)
    for _ in range(4):
        writer.write(chunk)
    writer.flush()
    print("ready", flush=True)
    sys.stdin.readline()
    """
)


def test_a_sigkilled_writer_leaves_a_temp_file_that_cleanup_removes(
    store: Store, root: str
) -> None:
    store.write("logs/keep.txt", b"keep")
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, root],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert len(_temp_names(store, "logs")) == 1
    assert [i.path for i in store.list_files(recursive=True)] == ["logs/keep.txt"]
    leftovers = list(store.unwrap(SFTPBackend).list_leftovers(""))
    assert [(x.key, x.kind) for x in leftovers] == [("logs", "temp-file")]
    assert (leftovers[0].size or 0) > 0
    assert store.cleanup().removed == ()  # young: a live writer may own it
    report = store.cleanup(older_than=timedelta(0))
    assert [item.key for item in report.removed] == ["logs"]
    assert _temp_names(store, "logs") == []
    assert store.read_bytes("logs/keep.txt") == b"keep"


def test_new_files_get_the_servers_default_mode(store: Store) -> None:
    """A new file gets what the server gives any new file (its umask), like ``sftp put``."""
    store.write("fresh.txt", b"x")
    store.write("fresh-over.txt", b"x", overwrite=True)  # nothing to copy from
    sftp = _raw(store)
    root = store.unwrap(SFTPBackend).root
    try:
        with sftp.open(f"{root}/by-hand.txt", "wb") as handle:
            handle.write(b"x")
        expected = (sftp.stat(f"{root}/by-hand.txt").st_mode or 0) & 0o7777
        for name in ("fresh.txt", "fresh-over.txt"):
            assert (sftp.stat(f"{root}/{name}").st_mode or 0) & 0o7777 == expected
    finally:
        sftp.close()
