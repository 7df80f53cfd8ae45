"""SFTP pinned reads against the real sshd: one open handle is one version, a
reconnection resumes only on the same version (size and mtime), else ObjectChanged."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import paramiko
import pytest

from omnistorage import Store
from omnistorage.backends.sftp import SFTPBackend
from omnistorage.capabilities import Capability
from omnistorage.errors import ChangedDuringRead, NotFound, ObjectChanged
from tests.backends.test_sftp import _backend, _env

_MiB = 1 << 20


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return _env()


@pytest.fixture
def backend(env: dict[str, str]) -> Iterator[SFTPBackend]:
    name = f"p-{uuid4().hex}"
    made = _backend(env, f"{env['OMNI_TEST_SFTP_ROOT']}/{name}", max_connections=2)
    yield made
    made.close()
    cleaner = _backend(env, env["OMNI_TEST_SFTP_ROOT"])
    Store(cleaner).delete_folder(name, recursive=True, missing_ok=True)
    cleaner.close()


def _drop_connection(backend: SFTPBackend) -> None:
    transport = backend.as_native(paramiko.Transport)
    assert transport is not None
    transport.close()


def test_declares_pinned_read(backend: SFTPBackend) -> None:
    assert backend.features().supports(Capability.PINNED_READ)


def test_pinned_reader_stays_on_one_version_across_overwrite_and_delete(
    backend: SFTPBackend,
) -> None:
    store = Store(backend)
    old = os.urandom(3 * _MiB)
    store.write("v.bin", old)
    pinned = backend.open_pinned("v.bin")
    try:
        assert pinned.size == len(old)
        assert pinned.read_range(0, 1000) == old[:1000]
        store.write("v.bin", os.urandom(2 * _MiB), overwrite=True)
        assert pinned.read_range(_MiB, 2 * _MiB) == old[_MiB:]
        store.delete("v.bin")
        assert pinned.read_range(0, len(old) + 10) == old
        assert pinned.read_range(len(old), 10) == b""
    finally:
        pinned.close()
    pinned.close()  # idempotent


def test_read_seekable_through_the_store_seeks_on_one_version(backend: SFTPBackend) -> None:
    store = Store(backend)
    old = os.urandom(2 * _MiB + 7)
    store.write("s.bin", old)
    with store.read_seekable("s.bin") as reader:
        reader.seek(_MiB)
        tail = reader.read(1000)
        store.write("s.bin", b"new", overwrite=True)
        reader.seek(0)
        head = reader.read(1000)
        reader.seek(-7, os.SEEK_END)
        end = reader.read()
    assert (head, tail, end) == (old[:1000], old[_MiB : _MiB + 1000], old[-7:])


def test_closed_reader_gives_back_its_session(env: dict[str, str], backend: SFTPBackend) -> None:
    store = Store(backend)  # max_connections=2
    store.write("a.bin", b"a" * 100)
    for _ in range(5):
        readers = [backend.open_pinned("a.bin") for _ in range(2)]
        for reader in readers:
            assert reader.read_range(0, 3) == b"aaa"
            reader.close()
    assert store.read_bytes("a.bin") == b"a" * 100


def test_resume_after_a_dropped_connection_on_the_same_version(backend: SFTPBackend) -> None:
    store = Store(backend)
    data = os.urandom(2 * _MiB)
    store.write("r.bin", data)
    pinned = backend.open_pinned("r.bin")
    try:
        assert pinned.read_range(0, 10) == data[:10]
        _drop_connection(backend)
        assert pinned.read_range(_MiB, _MiB) == data[_MiB:]
    finally:
        pinned.close()


def test_resume_after_a_drop_finds_an_overwrite_and_raises(backend: SFTPBackend) -> None:
    store = Store(backend)
    old = os.urandom(8 * _MiB)
    store.write("o.bin", old)
    # Same size, another second: only the modification time tells them apart.
    later = datetime.now(UTC) + timedelta(seconds=5)
    with store.read_seekable("o.bin") as reader:
        assert reader.read(10) == old[:10]
        store.write("o.bin", os.urandom(8 * _MiB), overwrite=True, modified=later)
        _drop_connection(backend)
        reader.seek(6 * _MiB)  # past what the buffered reader holds
        with pytest.raises(ChangedDuringRead):
            reader.read(100)
    pinned = backend.open_pinned("o.bin")
    store.write("o.bin", b"shorter", overwrite=True)
    _drop_connection(backend)
    with pytest.raises(ObjectChanged):
        pinned.read_range(0, 10)
    pinned.close()


def test_resume_after_a_drop_finds_a_delete_and_raises(backend: SFTPBackend) -> None:
    store = Store(backend)
    store.write("d.bin", os.urandom(1000))
    pinned = backend.open_pinned("d.bin")
    try:
        store.delete("d.bin")
        _drop_connection(backend)
        with pytest.raises(ObjectChanged, match="deleted"):
            pinned.read_range(0, 10)
    finally:
        pinned.close()


def test_missing_file_or_folder_is_not_found(backend: SFTPBackend) -> None:
    store = Store(backend)
    store.write("dir/x", b"x")
    with pytest.raises(NotFound):
        store.read_seekable("missing.bin")
    with pytest.raises(NotFound):
        store.read_seekable("dir")
    with pytest.raises(FileNotFoundError):
        backend.open_pinned("missing.bin")
    assert store.read_bytes("dir/x") == b"x"  # the session of the failed opens is back
