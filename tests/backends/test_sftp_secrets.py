"""SFTP secrets: a full session logged at DEBUG (paramiko and the root logger)
carries no password or key passphrase; neither do errors, reprs or URL errors."""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from omnistorage import Store
from omnistorage._redact import scrub
from omnistorage.backends.sftp import SFTPBackend
from omnistorage.errors import ConfigurationError, PermissionDenied, StorageError
from omnistorage.registry import open_store
from tests.backends.test_sftp import _backend, _env

PASSWORD = "pw-Sw0rdfish-1781"
PASSPHRASE = "pp-Tr0ub4dor-3579"


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return _env()


@pytest.fixture
def encrypted_key(env: dict[str, str], tmp_path: Path) -> Path:
    """The test client key, re-encrypted with :data:`PASSPHRASE` (the server accepts it)."""
    key = tmp_path / "client_key"
    shutil.copyfile(env["OMNI_TEST_SFTP_KEY_FILE"], key)
    key.chmod(0o600)
    subprocess.run(
        ["ssh-keygen", "-q", "-p", "-f", str(key), "-P", "", "-N", PASSPHRASE], check=True
    )
    return key


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG anywhere (root and paramiko), formatted."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    paramiko_log = logging.getLogger("paramiko")
    saved = (root.level, paramiko_log.level)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    paramiko_log.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        paramiko_log.setLevel(saved[1])


def test_a_debug_logged_session_carries_no_secret(
    env: dict[str, str], encrypted_key: Path, debug_log: io.StringIO
) -> None:
    name = f"x-{uuid4().hex}"
    root = f"{env['OMNI_TEST_SFTP_ROOT']}/{name}"
    # A full session on the passphrase-protected key.
    backend = _backend(env, root, key_filename=str(encrypted_key), passphrase=PASSPHRASE)
    assert PASSPHRASE in backend.secret_values
    with Store(backend) as store:
        store.write("a/b.txt", b"hello")
        assert store.read_bytes("a/b.txt") == b"hello"
        assert [i.path for i in store.list_files(recursive=True)] == ["a/b.txt"]
        with store.read_seekable("a/b.txt") as reader:
            assert reader.read() == b"hello"
        store.delete_folder("a", recursive=True)
    # A refused password (the server takes keys only), through a URL.
    port = env["OMNI_TEST_SFTP_PORT"]
    url = (
        f"sftp://{env['OMNI_TEST_SFTP_USER']}:{PASSWORD}@127.0.0.1:{port}/tmp"
        f"?known_hosts={env['OMNI_TEST_SFTP_KNOWN_HOSTS']}&retries=0"
    )
    refused = open_store(url)
    with pytest.raises(PermissionDenied) as info:
        refused.exists("x")
    refused.close()
    logging.getLogger("paramiko.transport").debug("echo %s and %s", PASSWORD, PASSPHRASE)
    logged = debug_log.getvalue()
    assert "paramiko" in logged
    assert "Authentication (publickey) successful" in logged
    assert "echo *** and ***" in logged  # the scrubber saw paramiko's records
    for secret in (PASSWORD, PASSPHRASE):
        assert secret not in logged
        assert secret not in str(info.value)
        assert secret not in repr(refused)
        assert secret not in repr(refused.unwrap())
    cleaner = _backend(env, env["OMNI_TEST_SFTP_ROOT"])
    Store(cleaner).delete_folder(name, recursive=True, missing_ok=True)
    cleaner.close()


def test_secrets_are_registered_at_construction() -> None:
    password, passphrase = "pw-registered-4411", "pp-registered-9902"
    backend = SFTPBackend(host="127.0.0.1", password=password, passphrase=passphrase)
    assert set(backend.secret_values) == {password, passphrase}
    assert scrub(f"x {password} y {passphrase}") == "x *** y ***"
    backend.close()


@pytest.mark.parametrize(
    "url",
    [
        "sftp://bob:{pw}@127.0.0.1:99999/tmp",
        "sftp://bob:{pw}@/tmp",
        "sftp://bob:{pw}@127.0.0.1/tmp?bogus=1",
        "sftp://bob:{pw}@127.0.0.1/relative?retries=-1",
        "sftp://bob:{pw}@127.0.0.1/tmp?host_key_policy=nope",
        "sftpx://bob:{pw}@127.0.0.1/tmp",
    ],
)
def test_url_errors_never_show_the_password(url: str) -> None:
    encoded = "Pa%24s-url-secret-77"
    with pytest.raises(ConfigurationError) as info:
        open_store(url.format(pw=encoded))
    for text in (str(info.value), repr(info.value)):
        assert encoded not in text
        assert "Pa$s-url-secret-77" not in text


def test_auth_failure_with_password_and_passphrase_shows_neither(env: dict[str, str]) -> None:
    backend = _backend(
        env, "/tmp", key_filename=None, password=PASSWORD, passphrase=PASSPHRASE, retries=0
    )
    store = Store(backend)
    with pytest.raises(StorageError) as info:
        store.write("x", b"x")
    chain: BaseException | None = info.value
    while chain is not None:
        for secret in (PASSWORD, PASSPHRASE):
            assert secret not in str(chain)
            assert secret not in repr(chain)
        chain = chain.__cause__ or chain.__context__
    store.close()
