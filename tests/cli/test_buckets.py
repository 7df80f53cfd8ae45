"""Buckets from the command line, against the real servers (moto, the GCS emulator,
Azurite): ``ls s3://`` lists buckets, ``mb`` and ``rmdir`` make and remove them, and a
missing bucket is named as such (with the command that makes it), never "no such file".

The S3 runs take the endpoint from ``AWS_ENDPOINT_URL`` (and the region from
``AWS_DEFAULT_REGION``), as the aws CLI and rclone users set them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnistorage.buckets import open_buckets
from tests.cli.conftest import Isolation, ProcessRunner
from tests.support.servers import server_env

pytestmark = pytest.mark.server


class Account:
    """One test server's account: the scheme, the environment a user would set, and a
    bucket name nobody else uses (removed after the test)."""

    def __init__(self, scheme: str, env: dict[str, str], query: str = "") -> None:
        self.scheme = scheme
        self.env = env
        self.query = query
        self.bucket = f"cli-{uuid.uuid4().hex[:16]}"

    def url(self, bucket: str | None = None, path: str = "") -> str:
        name = self.bucket if bucket is None else bucket
        return f"{self.scheme}://{name}{'/' + path if path else ''}{self.query}"

    def account_url(self) -> str:
        return f"{self.scheme}://{self.query}"


def _s3() -> Account:
    env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
    return Account(
        "s3",
        {
            "AWS_ENDPOINT_URL": env["OMNI_TEST_S3_ENDPOINT"],
            "AWS_DEFAULT_REGION": env["OMNI_TEST_S3_REGION"],
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        },
    )


def _gcs() -> Account:
    endpoint = server_env("OMNI_TEST_GCS_ENDPOINT")["OMNI_TEST_GCS_ENDPOINT"]
    return Account("gs", {}, f"?endpoint_url={endpoint}")


def _azure() -> Account:
    cs = server_env("OMNI_TEST_AZURE_CONNECTION_STRING")["OMNI_TEST_AZURE_CONNECTION_STRING"]
    return Account("az", {"AZURE_STORAGE_CONNECTION_STRING": cs}, "")


ACCOUNTS = {"s3": _s3, "gcs": _gcs, "azure": _azure}


@pytest.fixture(params=sorted(ACCOUNTS))
def account(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    place = ACCOUNTS[request.param]()
    yield place
    for name, value in place.env.items():
        monkeypatch.setenv(name, value)
    with open_buckets(place.account_url()) as buckets:
        if place.bucket in {info.name for info in buckets.list()}:
            from omnistorage import open_store

            with open_store(place.url()) as store:
                for folder in list(store.list_folders()):
                    store.delete_folder(folder, recursive=True)
                for info in list(store.list_files()):
                    store.delete(info.path)
            buckets.remove(place.bucket)


def _names(run: ProcessRunner, account: Account) -> list[str]:
    lines = run("ls", account.account_url(), env=account.env).stdout.decode().splitlines()
    assert all(line.endswith("/") for line in lines), lines
    return [line[:-1] for line in lines]


def test_mb_makes_a_bucket_that_ls_of_the_account_lists(
    run: ProcessRunner, account: Account, tmp_path: Path
) -> None:
    assert account.bucket not in _names(run, account)
    run("mb", account.url(), env=account.env)
    assert account.bucket in _names(run, account)
    listed = json.loads(run("ls", "--json", account.account_url(), env=account.env).stdout)
    assert {"name": account.bucket, "is_dir": True}.items() <= next(
        entry for entry in listed if entry["name"] == account.bucket
    ).items()
    (tmp_path / "a.txt").write_bytes(b"into the new bucket")
    run("cp", str(tmp_path / "a.txt"), account.url(path="in/"), env=account.env)
    assert run("ls", "-R", account.url(), env=account.env).stdout == b"in/a.txt\n"


def test_mb_of_a_bucket_that_exists_fails_unless_parents(
    run: ProcessRunner, account: Account
) -> None:
    run("mb", account.url(), env=account.env)
    result = run("mb", account.url(), env=account.env, expect=1)
    assert b"already exists" in result.stderr
    run("mb", "-p", account.url(), env=account.env)


def test_rmdir_removes_an_empty_bucket_and_refuses_a_full_one(
    run: ProcessRunner, account: Account, tmp_path: Path
) -> None:
    run("mb", account.url(), env=account.env)
    (tmp_path / "keep.txt").write_bytes(b"x")
    run("cp", str(tmp_path / "keep.txt"), account.url(path="keep.txt"), env=account.env)
    result = run("rmdir", account.url(), env=account.env, expect=1)
    assert b"not empty" in result.stderr
    assert account.bucket in _names(run, account)
    run("rm", account.url(path="keep.txt"), env=account.env)
    run("rmdir", account.url(), env=account.env)
    assert account.bucket not in _names(run, account)
    result = run("rmdir", account.url(), env=account.env, expect=1)
    assert f"{account.bucket!r} does not exist".encode() in result.stderr


@pytest.mark.parametrize("command", [("ls",), ("ls", "-l"), ("cat",), ("stat",), ("rm",)])
def test_a_missing_bucket_is_named_with_the_command_that_makes_it(
    run: ProcessRunner, account: Account, command: tuple[str, ...]
) -> None:
    result = run(*command, account.url(path="raw/orders.csv"), env=account.env, expect=1)
    stderr = result.stderr.decode()
    assert f"{account.bucket!r} does not exist" in stderr
    assert f"omnistorage mb {account.scheme}://{account.bucket}" in stderr
    assert "no such file" not in stderr


def test_mb_and_rmdir_of_folders_inside_a_bucket(run: ProcessRunner, account: Account) -> None:
    run("mb", account.url(), env=account.env)
    run("mb", account.url(path="reports/2024"), env=account.env)
    assert run("ls", account.url(path="reports/"), env=account.env).stdout == b"2024/\n"
    result = run("rmdir", account.url(path="reports"), env=account.env, expect=1)
    assert b"not empty" in result.stderr
    run("rmdir", account.url(path="reports/2024"), env=account.env)
    run("rmdir", account.url(path="reports"), env=account.env)
    assert run("ls", account.url(), env=account.env).stdout == b""


def test_mb_of_a_profile_makes_the_bucket_its_backend_names(
    run: ProcessRunner, isolation: Isolation
) -> None:
    place = _s3()
    isolation.config(
        f"""
[backends.lake]
type = "s3"

[backends.lake.options]
bucket = "{place.bucket}"
access_key_id = "${{LAKE_KEY}}"
secret_access_key = "${{LAKE_SECRET}}"

[stores.lake]
backend = "lake"
"""
    )
    env = {**place.env, "LAKE_KEY": "testing", "LAKE_SECRET": "testing"}
    run("mb", "lake:", env=env)
    assert place.bucket in _names(run, place)
    run("rmdir", "lake:", env=env)
    assert place.bucket not in _names(run, place)


def test_mb_and_rmdir_of_local_folders(run: ProcessRunner, tmp_path: Path) -> None:
    run("mb", str(tmp_path / "a" / "b"))
    assert (tmp_path / "a" / "b").is_dir()
    run("mb", str(tmp_path / "a" / "b"), expect=1)
    run("mb", "-p", str(tmp_path / "a" / "b"))
    run("rmdir", str(tmp_path / "a"), expect=1)
    run("rmdir", str(tmp_path / "a" / "b"))
    assert not (tmp_path / "a" / "b").exists()


def test_ls_of_a_scheme_without_buckets_is_a_path_listing(
    run: ProcessRunner, tmp_path: Path
) -> None:
    (tmp_path / "x.txt").write_bytes(b"x")
    assert run("ls", f"file://{tmp_path}").stdout == b"x.txt\n"
