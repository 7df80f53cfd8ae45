"""The SFTP backend against the OpenSSH sshd that ``scripts/servers.sh`` starts.

Every test works in its own folder below ``OMNI_TEST_SFTP_ROOT`` and logs in
with the test key, verifying the server against the test known_hosts file.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import paramiko
import pytest

from omnistorage import Store
from omnistorage._tempname import temp_name
from omnistorage.backends.sftp import (
    SFTPAuthenticationError,
    SFTPBackend,
    SFTPConnectionError,
    UnknownHostKeyError,
    parse_url,
)
from omnistorage.errors import (
    AlreadyExists,
    BackendUnavailable,
    ConfigurationError,
    DirectoryNotEmpty,
    ErrorKind,
    NotFound,
    PermissionDenied,
    StorageError,
)
from omnistorage.registry import open_store
from omnistorage.testing import (
    SLOW_SERVER_WRAPPER_VARIANTS,
    StoreConformance,
    make_state_machine,
    race,
)
from omnistorage.testing._integrity import driver_of
from tests.support.proxy import CuttingProxy
from tests.support.servers import server_env

ENV_NAMES = (
    "OMNI_TEST_SFTP_HOST",
    "OMNI_TEST_SFTP_PORT",
    "OMNI_TEST_SFTP_USER",
    "OMNI_TEST_SFTP_KEY_FILE",
    "OMNI_TEST_SFTP_KNOWN_HOSTS",
    "OMNI_TEST_SFTP_ROOT",
)


def _env() -> dict[str, str]:
    return server_env(*ENV_NAMES)


def _backend(env: dict[str, str], root: str, **overrides: Any) -> SFTPBackend:
    options: dict[str, Any] = {
        "host": env["OMNI_TEST_SFTP_HOST"],
        "port": int(env["OMNI_TEST_SFTP_PORT"]),
        "username": env["OMNI_TEST_SFTP_USER"],
        "key_filename": env["OMNI_TEST_SFTP_KEY_FILE"],
        "known_hosts": env["OMNI_TEST_SFTP_KNOWN_HOSTS"],
        "root": root,
    }
    options.update(overrides)
    return SFTPBackend(**options)


@pytest.fixture(scope="module")
def sftp_env() -> dict[str, str]:
    return _env()


@pytest.fixture(scope="module")
def base(sftp_env: dict[str, str]) -> Iterator[Store]:
    """A store over the whole test root: sets up and removes the per-test folders."""
    backend = _backend(sftp_env, sftp_env["OMNI_TEST_SFTP_ROOT"])
    yield Store(backend)
    backend.close()


@pytest.fixture
def folder(base: Store) -> Iterator[str]:
    """A fresh, unique remote folder name below the test root (removed afterwards)."""
    name = f"t-{uuid4().hex}"
    yield name
    base.delete_folder(name, recursive=True, missing_ok=True)


@pytest.fixture
def backend(sftp_env: dict[str, str], base: Store, folder: str) -> Iterator[SFTPBackend]:
    made = _backend(sftp_env, f"{sftp_env['OMNI_TEST_SFTP_ROOT']}/{folder}")
    yield made
    made.close()


def _raw_names(base: Store, folder: str) -> list[str]:
    """Every name in a remote folder, temporary files included (a direct listing)."""
    sftp = base.unwrap(paramiko.SFTPClient)
    try:
        return sorted(sftp.listdir(f"{base.unwrap(SFTPBackend).root}/{folder}"))
    finally:
        sftp.close()


def _is_dir(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        sftp.stat(path)
    except FileNotFoundError:
        return False
    return True


def _host_key_line(env: dict[str, str], port: int) -> str:
    """The server's known_hosts entry, rewritten for another port (a proxy)."""
    line = Path(env["OMNI_TEST_SFTP_KNOWN_HOSTS"]).read_text().split("\n")[0]
    _, key_type, key = line.split()[:3]
    return f"[127.0.0.1]:{port} {key_type} {key}\n"


# ---------------------------------------------------------------- the shared suite


class TestSFTPConformance(StoreConformance):
    crash_leaves_leftovers = True
    backend_name = "sftp"
    variants = (*StoreConformance.variants, *SLOW_SERVER_WRAPPER_VARIANTS)
    # The names a POSIX server can hold as one file name (``a//b``, ``../x`` … cannot be).
    foreign_names = ("back\\slash.txt", "tab\there.txt", "new\nline.txt")

    def plant_foreign(self, store: Store, name: str, data: bytes) -> None:
        backend = driver_of(store)
        assert isinstance(backend, SFTPBackend)
        folder = f"{backend.root}/{store.root}" if store.root else backend.root
        sftp = backend.as_native(paramiko.SFTPClient)
        assert sftp is not None
        try:
            if not _is_dir(sftp, folder):
                sftp.mkdir(folder)
            with sftp.open(f"{folder}/{name}", "wb") as handle:
                handle.write(data)
            self._planted.append(f"{folder}/{name}")
        finally:
            sftp.close()

    def second_handle(self, store: Store) -> Store:
        first = driver_of(store)
        assert isinstance(first, SFTPBackend)
        # The root spelled with a trailing slash and a dot segment: one place all the same.
        return Store(_backend(self._env, f"{first.root}/./"), store.root)

    @pytest.fixture
    def empty_store(self, sftp_env: dict[str, str], base: Store) -> Iterator[Store]:
        name = f"conf-{uuid4().hex}"
        made = _backend(sftp_env, f"{sftp_env['OMNI_TEST_SFTP_ROOT']}/{name}")
        self._planted: list[str] = []
        self._env = sftp_env
        yield Store(made)
        if self._planted:  # names no Store can delete: removed as another tool would
            sftp = made.as_native(paramiko.SFTPClient)
            assert sftp is not None
            try:
                for path in self._planted:
                    sftp.remove(path)
            finally:
                sftp.close()
        made.close()
        base.delete_folder(name, recursive=True, missing_ok=True)


_model_backend: list[SFTPBackend] = []


def _model_store() -> Store:
    env = _env()
    if not _model_backend or _model_backend[0].closed:
        _model_backend[:] = [_backend(env, env["OMNI_TEST_SFTP_ROOT"])]
    return Store(_model_backend[0], f"model-{uuid4().hex}")


@pytest.fixture(scope="module", autouse=True)
def _close_model_backend() -> Iterator[None]:
    yield
    for made in _model_backend:
        made.close()


TestSFTPModel = make_state_machine(_model_store).TestCase


# ---------------------------------------------------------------- host keys and credentials


def test_unknown_host_is_refused_by_default(sftp_env: dict[str, str], tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    store = Store(_backend(sftp_env, "/tmp", known_hosts=str(known_hosts)))
    with pytest.raises(PermissionDenied) as info:
        store.write("x.txt", b"x")
    message = str(info.value)
    assert "unknown SFTP host" in message
    assert f"[127.0.0.1]:{sftp_env['OMNI_TEST_SFTP_PORT']}" in message
    assert str(known_hosts) in message
    assert "host_key_policy='auto_add'" in message
    assert info.value.temporary is False
    assert isinstance(info.value.__cause__, UnknownHostKeyError)
    store.close()


def test_missing_known_hosts_file_is_named(sftp_env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "nothing" / "known_hosts"
    store = Store(_backend(sftp_env, "/tmp", known_hosts=str(missing)))
    with pytest.raises(PermissionDenied, match="missing"):
        store.exists("x")
    store.close()


def test_auto_add_trusts_on_first_use_without_writing_known_hosts(
    sftp_env: dict[str, str], base: Store, folder: str, tmp_path: Path
) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    root = f"{sftp_env['OMNI_TEST_SFTP_ROOT']}/{folder}"
    backend = _backend(sftp_env, root, known_hosts=str(known_hosts), host_key_policy="auto_add")
    with Store(backend) as store:
        store.write("tofu.txt", b"trusted")
        # The key is pinned: a reconnection must meet the same key.
        transport = backend.as_native(paramiko.Transport)
        assert transport is not None
        transport.close()
        assert store.read_bytes("tofu.txt") == b"trusted"
    assert known_hosts.read_text() == ""


def test_warn_policy_logs_and_connects(
    sftp_env: dict[str, str], folder: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    root = f"{sftp_env['OMNI_TEST_SFTP_ROOT']}/{folder}"
    with caplog.at_level(logging.WARNING, logger="omnistorage.backends.sftp"):
        with Store(
            _backend(sftp_env, root, known_hosts=str(known_hosts), host_key_policy="warn")
        ) as store:
            assert not store.exists("nothing")
    assert any("trusting unknown SFTP host" in r.getMessage() for r in caplog.records)


def test_changed_host_key_is_refused(sftp_env: dict[str, str], tmp_path: Path) -> None:
    # Another ed25519 key (the client's) listed for the server: a mismatch.
    other = Path(sftp_env["OMNI_TEST_SFTP_KEY_FILE"] + ".pub").read_text().split()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sftp_env['OMNI_TEST_SFTP_PORT']} {other[0]} {other[1]}\n")
    for policy in ("reject", "auto_add"):
        store = Store(
            _backend(sftp_env, "/tmp", known_hosts=str(known_hosts), host_key_policy=policy)
        )
        with pytest.raises(PermissionDenied) as info:
            store.exists("x")
        assert isinstance(info.value.__cause__, paramiko.BadHostKeyException)
        store.close()


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa-pem"])
def test_wrong_key_is_permission_denied(
    sftp_env: dict[str, str], tmp_path: Path, kind: str
) -> None:
    key_file = tmp_path / "wrong_key"
    if kind == "ed25519":  # OpenSSH's own format
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key_file)], check=True
        )
    else:
        paramiko.ECDSAKey.generate().write_private_key_file(str(key_file))
    store = Store(_backend(sftp_env, "/tmp", key_filename=str(key_file)))
    with pytest.raises(PermissionDenied) as info:
        store.read_bytes("x")
    assert sftp_env["OMNI_TEST_SFTP_USER"] in str(info.value)
    assert isinstance(info.value.__cause__, SFTPAuthenticationError)
    assert not info.value.temporary
    store.close()


def test_password_never_appears_in_repr_or_errors(sftp_env: dict[str, str]) -> None:
    secret = "correct-horse-battery-staple"
    backend = _backend(sftp_env, "/tmp", key_filename=None, password=secret, passphrase=secret)
    store = Store(backend)
    assert secret in backend.secret_values
    with pytest.raises(PermissionDenied) as info:  # the server takes keys only
        store.write("x.txt", b"x")
    error = info.value
    for text in (str(error), repr(error), repr(store), repr(backend), store.native_path("x")):
        assert secret not in text
    cause: BaseException | None = error
    while cause is not None:
        assert secret not in str(cause)
        cause = cause.__cause__
    store.close()
    port = sftp_env["OMNI_TEST_SFTP_PORT"]
    known = sftp_env["OMNI_TEST_SFTP_KNOWN_HOSTS"]
    url_store = open_store(f"sftp://omnisftp:{secret}@127.0.0.1:{port}/tmp?known_hosts={known}")
    assert secret not in repr(url_store)
    assert secret not in repr(url_store.unwrap())
    with pytest.raises(PermissionDenied) as url_info:
        url_store.exists("x")
    assert secret not in str(url_info.value)
    url_store.close()


# ---------------------------------------------------------------- atomicity under failure


def test_connection_cut_mid_upload_publishes_nothing(
    sftp_env: dict[str, str], base: Store, folder: str, tmp_path: Path
) -> None:
    host = sftp_env["OMNI_TEST_SFTP_HOST"]
    with CuttingProxy(host, int(sftp_env["OMNI_TEST_SFTP_PORT"])) as proxy:
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(_host_key_line(sftp_env, proxy.port))
        root = f"{sftp_env['OMNI_TEST_SFTP_ROOT']}/{folder}"
        backend = _backend(
            sftp_env, root, host="127.0.0.1", port=proxy.port, known_hosts=str(known_hosts)
        )
        store = Store(backend)
        store.write("before.txt", b"ok")
        proxy.cut_after(upstream_bytes=1_000_000)
        block = os.urandom(64 * 1024)
        with pytest.raises(StorageError) as info:
            store.write("big.bin", (block for _ in range(64)))  # 4 MiB
        assert isinstance(info.value, BackendUnavailable), repr(info.value)
        assert info.value.temporary
        assert proxy.cuts >= 1
        proxy.cut_after(None)
        # Nothing at the key, nothing listed; the next call reconnects and cleans up.
        assert not store.exists("big.bin")
        assert [i.path for i in store.list_files(recursive=True)] == ["before.txt"]
        assert _raw_names(base, folder) == ["before.txt"]
        store.write("after.bin", block)
        assert store.read_bytes("after.bin") == block
        store.close()


def test_connection_cut_mid_read_is_temporary_and_recovers(
    sftp_env: dict[str, str], folder: str, tmp_path: Path
) -> None:
    with CuttingProxy(
        sftp_env["OMNI_TEST_SFTP_HOST"], int(sftp_env["OMNI_TEST_SFTP_PORT"])
    ) as proxy:
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(_host_key_line(sftp_env, proxy.port))
        root = f"{sftp_env['OMNI_TEST_SFTP_ROOT']}/{folder}"
        store = Store(
            _backend(
                sftp_env, root, host="127.0.0.1", port=proxy.port, known_hosts=str(known_hosts)
            )
        )
        data = os.urandom(8 << 20)
        store.write("big.bin", data)
        with store.read("big.bin") as stream:
            assert stream.read(1000) == data[:1000]
            proxy.cut_after(upstream_bytes=0)
            with pytest.raises(BackendUnavailable):
                while stream.read(1 << 20):
                    pass
        proxy.cut_after(None)
        assert store.read_range("big.bin", 5, 10) == data[5:15]
        store.close()


def test_reconnects_after_the_connection_drops(backend: SFTPBackend) -> None:
    store = Store(backend)
    store.write("k.txt", b"value")
    transport = backend.as_native(paramiko.Transport)
    assert transport is not None
    sock = transport.sock
    assert isinstance(sock, socket.socket)
    sock.shutdown(socket.SHUT_RDWR)
    assert store.read_bytes("k.txt") == b"value"
    transport2 = backend.as_native(paramiko.Transport)
    assert transport2 is not None
    transport2.close()
    assert store.exists("k.txt")
    store.write("k2.txt", b"again")
    assert sorted(i.path for i in store.list_files()) == ["k.txt", "k2.txt"]


def test_exception_inside_open_atomic_leaves_no_temp_file(
    backend: SFTPBackend, base: Store, folder: str
) -> None:
    store = Store(backend)
    store.write("keep.txt", b"old")
    with pytest.raises(RuntimeError), store.open_atomic("sub/new.bin") as writer:
        writer.write(os.urandom(300_000))
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError), store.open_atomic("keep.txt", overwrite=True) as writer:
        writer.write(b"new")
        raise RuntimeError("boom")
    assert store.read_bytes("keep.txt") == b"old"
    assert not store.exists("sub/new.bin")
    assert _raw_names(base, folder) == ["keep.txt", "sub"]
    assert _raw_names(base, f"{folder}/sub") == []


def test_sixteen_racing_create_only_writers_have_one_winner(
    sftp_env: dict[str, str], base: Store, folder: str
) -> None:
    threads = 16
    root = f"{sftp_env['OMNI_TEST_SFTP_ROOT']}/{folder}"
    store = Store(_backend(sftp_env, root, max_connections=threads))

    def payload(i: int) -> bytes:
        return f"writer {i} ".encode() * 5000

    for attempt in range(3):
        key = f"race-{attempt}.bin"

        def publish(i: int, barrier: threading.Barrier, key: str = key) -> None:
            writer = store.open_atomic(key)
            writer.write(payload(i))
            barrier.wait()  # race the publish itself, not the upload
            writer.close()

        race(publish, threads=threads).assert_one_winner(store, key, payload)
    assert _raw_names(base, folder) == ["race-0.bin", "race-1.bin", "race-2.bin"]
    store.close()


def test_sixteen_racing_create_only_moves_have_one_winner(
    sftp_env: dict[str, str], folder: str
) -> None:
    threads = 16
    root = f"{sftp_env['OMNI_TEST_SFTP_ROOT']}/{folder}"
    store = Store(_backend(sftp_env, root, max_connections=threads))
    for i in range(threads):
        store.write(f"src/{i}", str(i).encode())

    def move(i: int, barrier: threading.Barrier) -> None:
        barrier.wait()
        store.move(f"src/{i}", "dst")

    winner = race(move, threads=threads).winner
    assert store.read_bytes("dst") == str(winner).encode()
    assert len(list(store.list_files("src"))) == threads - 1
    store.close()


# ---------------------------------------------------------------- URLs and options


def test_open_store_from_a_url(sftp_env: dict[str, str], folder: str) -> None:
    root = f"{sftp_env['OMNI_TEST_SFTP_ROOT']}/{folder}"
    url = (
        f"sftp://{sftp_env['OMNI_TEST_SFTP_USER']}@127.0.0.1:{sftp_env['OMNI_TEST_SFTP_PORT']}"
        f"{root}?key_filename={sftp_env['OMNI_TEST_SFTP_KEY_FILE']}"
        f"&known_hosts={sftp_env['OMNI_TEST_SFTP_KNOWN_HOSTS']}&timeout=20&max_connections=2"
    )
    with open_store(url) as store:
        store.write("from-url.txt", b"hi")
        assert store.read_bytes("from-url.txt") == b"hi"
        backend = store.unwrap(SFTPBackend)
        assert backend.root == root
        native = store.native_path("from-url.txt")
        assert native == f"{url.split('?')[0]}/from-url.txt"
        assert store.to_key(native) == "from-url.txt"
        assert store.to_key(f"{root}/from-url.txt") == "from-url.txt"
        assert "sftp://omnisftp@127.0.0.1" in repr(backend)


def test_unknown_option_is_a_configuration_error(sftp_env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="bogus"):
        open_store("sftp://u@127.0.0.1/tmp?bogus=1")
    with pytest.raises(ConfigurationError, match="host_key_policy"):
        open_store("sftp://u@127.0.0.1/tmp?host_key_policy=yes-please")
    with pytest.raises(ConfigurationError, match="absolute"):
        SFTPBackend(host="127.0.0.1", root="relative/dir")
    with pytest.raises(ConfigurationError, match="key file"):
        SFTPBackend(host="127.0.0.1", key_filename="/no/such/key")


def test_parse_url() -> None:
    options, root = parse_url(urlsplit("sftp://alice@files.example.com:2222/srv/data/"))
    assert root == ""
    assert options == {
        "host": "files.example.com",
        "port": 2222,
        "username": "alice",
        "root": "/srv/data/",
    }
    options, _ = parse_url(urlsplit("sftp://bob:p%40ss@[::1]/"))
    assert options == {"host": "::1", "username": "bob", "password": "p@ss", "root": "/"}
    options, _ = parse_url(urlsplit("sftp://host"))
    assert options == {"host": "host", "root": "/"}
    options, _ = parse_url(urlsplit("sftp://u@h/with%20space"))
    assert options["root"] == "/with space"
    with pytest.raises(ConfigurationError):
        parse_url(urlsplit("sftp:///no/host"))
    with pytest.raises(ConfigurationError):
        parse_url(urlsplit("sftp://u@h:notaport/x"))


def test_native_paths_without_a_connection() -> None:
    backend = SFTPBackend(host="files.example.com", username="alice", root="/srv/data/")
    assert backend.root == "/srv/data"
    assert backend.native_path("a/b.txt") == "sftp://alice@files.example.com/srv/data/a/b.txt"
    assert backend.key_from_native("sftp://alice@files.example.com:22/srv/data/a") == "a"
    assert backend.key_from_native("/srv/data/x/y") == "x/y"
    assert backend.key_from_native("/srv/database/x") is None
    assert backend.key_from_native("sftp://eve@files.example.com/srv/data/a") is None
    root_backend = SFTPBackend(host="h", port=2022)
    assert root_backend.native_path("k") == "sftp://h:2022/k"
    assert root_backend.key_from_native("sftp://h:2022/k") == "k"
    assert repr(root_backend) == "SFTPBackend('sftp://h:2022/')"


def test_errors_are_classified() -> None:
    backend = SFTPBackend(host="files.example.com")
    cases: list[tuple[BaseException, ErrorKind, bool]] = [
        (FileNotFoundError(errno.ENOENT, "No such file"), ErrorKind.NOT_FOUND, False),
        (PermissionError(errno.EACCES, "Permission denied"), ErrorKind.PERMISSION_DENIED, False),
        (IsADirectoryError(errno.EISDIR, "folder"), ErrorKind.NOT_FOUND, False),
        (FileExistsError(errno.EEXIST, "exists"), ErrorKind.ALREADY_EXISTS, False),
        (OSError(errno.ENOTEMPTY, "not empty"), ErrorKind.DIRECTORY_NOT_EMPTY, False),
        (OSError("Failure"), ErrorKind.UNKNOWN, False),
        (paramiko.SSHException("Server connection dropped"), ErrorKind.UNAVAILABLE, True),
        (EOFError(), ErrorKind.UNAVAILABLE, True),
        (SFTPConnectionError("lost"), ErrorKind.UNAVAILABLE, True),
        (TimeoutError("timed out"), ErrorKind.UNAVAILABLE, True),
        (ConnectionResetError(errno.ECONNRESET, "reset"), ErrorKind.UNAVAILABLE, True),
        (paramiko.AuthenticationException("no"), ErrorKind.PERMISSION_DENIED, False),
        (UnknownHostKeyError("unknown"), ErrorKind.PERMISSION_DENIED, False),
    ]
    for exc, kind, temporary in cases:
        classification = backend.classify_error(exc)
        assert (classification.kind, classification.temporary) == (kind, temporary), exc


# ---------------------------------------------------------------- folders, symlinks, sessions


def test_real_folders(backend: SFTPBackend) -> None:
    store = Store(backend)
    backend.mkdir("empty/sub")
    backend.mkdir("empty/sub")  # an existing folder is fine
    assert store.is_folder("empty/sub")
    assert list(store.list_folders("empty")) == ["empty/sub"]
    assert list(store.list_files("empty", recursive=True)) == []
    store.write("full/f.txt", b"x")
    with pytest.raises(OSError, match="not empty") as info:
        backend.rmdir("full")
    assert info.value.errno == errno.ENOTEMPTY
    assert backend.classify_error(info.value).kind is ErrorKind.DIRECTORY_NOT_EMPTY
    store.delete_folder("empty", recursive=True)
    assert not store.exists("empty")
    with pytest.raises(AlreadyExists):
        store.write("full/f.txt/below", b"x")  # a file stands where a folder is needed
    with pytest.raises(AlreadyExists):
        store.write("full", b"x", overwrite=True)  # a folder stands at the key
    with pytest.raises(NotFound):
        store.read_bytes("full")
    with pytest.raises(NotFound):
        store.get_file_info("full/f.txt/below")
    assert not store.is_file("full/f.txt/below")


def test_leftover_temp_files_are_hidden_and_removed_with_their_folder(
    backend: SFTPBackend, base: Store, folder: str
) -> None:
    store = Store(backend)
    backend.mkdir("crashed")
    sftp = base.unwrap(paramiko.SFTPClient)
    try:
        with sftp.open(f"{backend.root}/crashed/{temp_name('data.bin')}", "wx") as f:
            f.write(b"partial")
    finally:
        sftp.close()
    assert list(store.list_files("crashed")) == []
    store.delete_folder("crashed")
    assert not store.is_folder("crashed")
    assert _raw_names(base, folder) == []


def test_symlinks(backend: SFTPBackend, base: Store) -> None:
    store = Store(backend)
    store.write("real/file.txt", b"target")
    backend.mkdir("links")
    sftp = base.unwrap(paramiko.SFTPClient)
    root = backend.root
    try:
        sftp.symlink(f"{root}/real/file.txt", f"{root}/links/file-link")
        sftp.symlink(f"{root}/real", f"{root}/links/folder-link")
        sftp.symlink(f"{root}/nowhere", f"{root}/links/dangling")
    finally:
        sftp.close()
    assert {i.path: i.size for i in store.list_files("links")} == {"links/file-link": 6}
    assert store.read_bytes("links/file-link") == b"target"
    assert store.get_file_info("links/file-link").size == 6
    assert sorted(store.list_folders("links")) == []
    assert not store.is_folder("links/folder-link")
    assert not store.exists("links/dangling")
    store.delete("links/file-link")
    assert store.read_bytes("real/file.txt") == b"target"
    # Symlinks that are not files are not the store's: they keep their folder.
    with pytest.raises(DirectoryNotEmpty):
        store.delete_folder("links", recursive=True)
    sftp = base.unwrap(paramiko.SFTPClient)
    try:
        sftp.remove(f"{root}/links/folder-link")
        sftp.remove(f"{root}/links/dangling")
    finally:
        sftp.close()
    store.delete_folder("links")


def test_nested_use_in_one_thread_never_waits(sftp_env: dict[str, str], folder: str) -> None:
    root = f"{sftp_env['OMNI_TEST_SFTP_ROOT']}/{folder}"
    store = Store(_backend(sftp_env, root, max_connections=1))
    store.write("a.bin", os.urandom(200_000))
    store.copy("a.bin", "b.bin")  # a reader and a writer at once
    assert store.read_bytes("b.bin") == store.read_bytes("a.bin")
    with store.read("a.bin") as stream, store.open_atomic("c.bin") as writer:
        writer.write(stream.read())
        assert store.exists("b.bin")
    assert store.get_file_info("c.bin").size == 200_000
    store.close()


class _WatchedCondition(threading.Condition):
    """The pool's condition, telling the test when a thread waits on it for a session."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()
        return super().wait(timeout)


def test_other_threads_wait_for_a_free_session(sftp_env: dict[str, str], folder: str) -> None:
    root = f"{sftp_env['OMNI_TEST_SFTP_ROOT']}/{folder}"
    store = Store(_backend(sftp_env, root, max_connections=1, timeout=60.0))
    store.write("a.txt", b"a")
    pool = store.unwrap(SFTPBackend)._pool
    pool._cond = watched = _WatchedCondition()  # before any thread waits on the old one
    results: list[Any] = []

    def check(on: Store) -> None:
        try:
            results.append(on.exists("a.txt"))
        except StorageError as exc:
            results.append(exc)

    stream = store.read("a.txt")  # holds the only session
    worker = threading.Thread(target=check, args=(store,))
    worker.start()
    assert watched.waiting.wait(60), "the other thread never waited for the session"
    assert not results  # it waits, however long the machine takes
    stream.close()
    worker.join(60)
    assert results == [True]
    store.close()

    # No session comes free within the pool's timeout: a typed, temporary error.
    short = Store(_backend(sftp_env, root, max_connections=1, timeout=0.5))
    held = short.read("a.txt")
    worker = threading.Thread(target=check, args=(short,))
    worker.start()
    worker.join(60)
    held.close()
    assert isinstance(results[1], BackendUnavailable)
    assert results[1].temporary
    assert "max_connections=1" in str(results[1])
    short.close()


def test_durable_writes_and_mtimes(sftp_env: dict[str, str], folder: str) -> None:
    root = f"{sftp_env['OMNI_TEST_SFTP_ROOT']}/{folder}"
    store = Store(_backend(sftp_env, root, durable=True))
    when = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
    store.write("d.bin", b"durable", modified=when)
    assert store.read_bytes("d.bin") == b"durable"
    info = store.get_file_info("d.bin")
    assert info.modified == when
    assert [i.modified for i in store.list_files()] == [when]
    with pytest.raises(StorageError):
        store.write("old.bin", b"x", modified=datetime(1960, 1, 1, tzinfo=UTC))
    assert not store.exists("old.bin")
    store.close()


def test_create_root_false_needs_an_existing_root(sftp_env: dict[str, str], folder: str) -> None:
    root = f"{sftp_env['OMNI_TEST_SFTP_ROOT']}/{folder}/missing"
    store = Store(_backend(sftp_env, root, create_root=False))
    with pytest.raises(NotFound, match="does not exist"):
        store.exists("x")
    store.close()


def test_delete_many_pipelines_and_ignores_missing(backend: SFTPBackend) -> None:
    store = Store(backend)
    for i in range(150):
        store.write(f"many/{i:03d}", b"x")
    backend.mkdir("many/folder")
    backend.delete_many([f"many/{i:03d}" for i in range(0, 150)] + ["many/ghost", "many/folder"])
    assert list(store.list_files("many")) == []
    assert list(store.list_folders("many")) == ["many/folder"]


def test_ranged_and_seekable_reads(backend: SFTPBackend) -> None:
    store = Store(backend)
    data = os.urandom(3 * 261120 + 17)
    store.write("r.bin", data)
    assert store.read_range("r.bin", 261000, 300_000) == data[261000:561000]
    assert store.read_range("r.bin", len(data) - 5, 100) == data[-5:]
    assert store.read_range("r.bin", len(data) + 10, 100) == b""
    with store.read_seekable("r.bin") as f:
        f.seek(500_000)
        assert f.read(10) == data[500_000:500_010]
    with store.read("r.bin") as stream:  # closing a stream early is fine
        assert stream.read(10) == data[:10]
    assert store.read_bytes("r.bin") == data
