"""SFTP error classification against the real sshd: a file used as a folder is
not found, SFTP status codes map to one kind each wherever they come from."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from uuid import uuid4

import paramiko
import pytest
from paramiko.sftp import CMD_EXTENDED

from omnistorage import Store
from omnistorage.backends.sftp import SFTPBackend, SFTPConnectionError
from omnistorage.backends.sftp._errors import classify, is_failure, status_of
from omnistorage.backends.sftp._protocol import Pipe
from omnistorage.errors import AlreadyExists, ErrorKind, NotFound
from tests.backends.test_sftp import _backend, _env


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return _env()


@pytest.fixture
def backend(env: dict[str, str]) -> Iterator[SFTPBackend]:
    name = f"e-{uuid4().hex}"
    made = _backend(env, f"{env['OMNI_TEST_SFTP_ROOT']}/{name}")
    yield made
    made.close()
    cleaner = _backend(env, env["OMNI_TEST_SFTP_ROOT"])
    Store(cleaner).delete_folder(name, recursive=True, missing_ok=True)
    cleaner.close()


def test_a_file_used_as_a_folder_is_not_found(backend: SFTPBackend) -> None:
    store = Store(backend)
    store.write("f", b"data")
    assert store.exists("f/x") is False
    assert store.is_folder("f/x") is False
    assert store.is_file("f/x") is False
    assert not backend.exists("f/x")
    for read in (
        lambda: store.read_bytes("f/x"),
        lambda: store.read_range("f/x", 0, 2),
        lambda: store.get_file_info("f/x"),
        lambda: store.read_seekable("f/x"),
        lambda: store.read_bytes("f/x/y"),
    ):
        with pytest.raises(NotFound):
            read()
    with pytest.raises(FileNotFoundError):
        backend.stat("f/x")
    with pytest.raises(FileNotFoundError):
        backend.new_reader("f/x").read()
    backend.delete("f/x")  # deleting what is not there is fine
    assert list(backend.list("f/")) == []
    assert list(backend.list("f/", recursive=False)) == []
    # Writing below a file: a file is in the way (nothing is created).
    with pytest.raises(AlreadyExists, match="a file stands where a folder is needed"):
        store.write("f/x", b"y")
    assert store.read_bytes("f") == b"data"


def test_unsupported_request_is_not_supported(backend: SFTPBackend) -> None:
    sftp = backend.as_native(paramiko.SFTPClient)
    assert sftp is not None
    try:
        pipe = Pipe(sftp)
        with pytest.raises(OSError, match=r"(?i)unsupported") as info:
            pipe.status(pipe.send(CMD_EXTENDED, "no-such-extension@example.com"))
    finally:
        sftp.close()
    assert status_of(info.value) == "unsupported"
    assert not is_failure(info.value)
    assert classify(info.value).kind is ErrorKind.NOT_SUPPORTED


@pytest.mark.parametrize(
    ("exc", "kind", "temporary"),
    [
        (FileNotFoundError(errno.ENOENT, "No such file"), ErrorKind.NOT_FOUND, False),
        (NotADirectoryError(errno.ENOTDIR, "f is a file"), ErrorKind.NOT_FOUND, False),
        (IsADirectoryError(errno.EISDIR, "a folder"), ErrorKind.NOT_FOUND, False),
        (PermissionError(errno.EACCES, "Permission denied"), ErrorKind.PERMISSION_DENIED, False),
        (FileExistsError(errno.EEXIST, "exists"), ErrorKind.ALREADY_EXISTS, False),
        (OSError(errno.ENOTEMPTY, "not empty"), ErrorKind.DIRECTORY_NOT_EMPTY, False),
        (OSError("Failure"), ErrorKind.UNKNOWN, False),
        (OSError("Bad message"), ErrorKind.UNKNOWN, False),
        (OSError("Operation unsupported"), ErrorKind.NOT_SUPPORTED, False),
        (OSError("No connection"), ErrorKind.UNAVAILABLE, True),
        (OSError("Connection lost"), ErrorKind.UNAVAILABLE, True),
        (paramiko.SSHException("gone"), ErrorKind.UNAVAILABLE, True),
        (EOFError(), ErrorKind.UNAVAILABLE, True),
        (SFTPConnectionError("dropped"), ErrorKind.UNAVAILABLE, True),
        (TimeoutError("slow"), ErrorKind.UNAVAILABLE, True),
    ],
)
def test_classification_table(exc: BaseException, kind: ErrorKind, temporary: bool) -> None:
    got = classify(exc)
    assert (got.kind, got.temporary) == (kind, temporary)


def test_only_generic_failures_are_failures() -> None:
    assert is_failure(OSError("Failure"))
    assert is_failure(OSError("some server's own words"))
    assert not is_failure(OSError("Operation unsupported"))
    assert not is_failure(FileNotFoundError(errno.ENOENT, "No such file"))
    assert status_of(PermissionError(errno.EACCES, "x")) is None


def test_listings_yield_raw_names_and_the_store_skips_them(backend: SFTPBackend) -> None:
    store = Store(backend)
    store.write("d/ok.txt", b"ok")
    raw = ["back\\slash.txt", "tab\there.txt", "new\nline.txt", " lead space", "trail."]
    sftp = backend.as_native(paramiko.SFTPClient)
    assert sftp is not None
    try:
        for name in raw:
            with sftp.open(f"{backend.root}/d/{name}", "wb") as handle:
                handle.write(b"foreign")
        listed = sorted(info.path for info in backend.list("", recursive=True))
        assert listed == sorted(["d/ok.txt"] + [f"d/{name}" for name in raw])
        shallow = sorted(info.path for info in backend.list("d/", recursive=False))
        assert shallow == sorted(["d/ok.txt"] + [f"d/{name}" for name in raw])
        listing = store.list_files("d", recursive=True)
        kept = sorted(info.path for info in listing)
        invalid = {"d/back\\slash.txt", "d/tab\there.txt", "d/new\nline.txt"}
        assert listing.invalid_count == len(invalid)
        assert set(listing.invalid) == invalid
        assert kept == sorted({"d/ok.txt"} | {f"d/{n}" for n in raw} - invalid)
    finally:
        for name in raw:
            sftp.remove(f"{backend.root}/d/{name}")
        sftp.close()
