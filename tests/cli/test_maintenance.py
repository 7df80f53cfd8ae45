"""cleanup, features and config show (redacted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from omnistorage import Capability, open_store
from tests.cli.conftest import CliInvoker, Isolation, ProcessRunner


def crash_a_writer(folder: Path, key: str) -> None:
    """A process that dies (os._exit) while writing ``key``: it leaves a temp file."""
    code = (
        "import os, sys, omnistorage; "
        f"w = omnistorage.open_store({str(folder)!r}).open_writer({key!r}); "
        "w.write(b'x' * (3 << 20)); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def temp_files(folder: Path) -> list[Path]:
    return [
        Path(top, name)
        for top, _, names in os.walk(folder)
        for name in names
        if "omnistorage-tmp" in name
    ]


def test_cleanup_removes_what_a_crashed_writer_left(cli: CliInvoker, tmp_path: Path) -> None:
    crash_a_writer(tmp_path, "sub/half.bin")
    [leftover] = temp_files(tmp_path)
    size = leftover.stat().st_size
    result = cli("cleanup", "--older-than", "0", str(tmp_path / "sub"))
    assert temp_files(tmp_path) == []
    assert f"removed temp-file {tmp_path / 'sub'} ({size} bytes" in result.stdout
    assert f"removed 1 leftover(s), {size} bytes" in result.stderr


def test_cleanup_keeps_young_leftovers_by_default(cli: CliInvoker, tmp_path: Path) -> None:
    crash_a_writer(tmp_path, "half.bin")
    report = json.loads(cli("cleanup", "--json", str(tmp_path)).stdout)
    assert (len(report["removed"]), len(report["kept"])) == (0, 1)
    assert len(temp_files(tmp_path)) == 1


def test_cleanup_dry_run_removes_nothing(cli: CliInvoker, tmp_path: Path) -> None:
    crash_a_writer(tmp_path, "half.bin")
    [leftover] = temp_files(tmp_path)
    report = json.loads(
        cli("cleanup", "--dry-run", "--older-than", "0s", "--json", str(tmp_path)).stdout
    )
    assert report["dry_run"] is True
    assert [item["kind"] for item in report["removed"]] == ["temp-file"]
    assert report["bytes_removed"] == leftover.stat().st_size > 0
    assert len(temp_files(tmp_path)) == 1


def test_features_shows_a_capability_matrix_per_store(cli: CliInvoker, tmp_path: Path) -> None:
    out = cli("features", str(tmp_path), "memory://").stdout
    header = out.splitlines()[1]
    assert "(local)" in header
    assert "memory:// (memory)" in header
    row = next(line for line in out.splitlines() if " user_metadata " in line)
    cells = [cell.strip() for cell in row.strip("│┃ ").split("│")]
    assert cells == ["user_metadata", "", "✓"]


def test_features_json_matches_what_the_store_declares(cli: CliInvoker, tmp_path: Path) -> None:
    document = json.loads(cli("features", "--json", str(tmp_path)).stdout)
    entry = document[str(tmp_path)]
    with open_store(str(tmp_path)) as store:
        expected = sorted(str(c) for c in Capability if store.supports(c))
    assert entry["backend"] == "local"
    assert entry["capabilities"] == expected


CONFIG = """
[backends.cloud]
type = "s3"

[backends.cloud.options]
bucket = "acme"
region = "us-east-1"
endpoint_url = "http://user:{password}@127.0.0.1:9000"
access_key_id = "${{CLI_TEST_KEY_ID}}"
secret_access_key = "${{CLI_TEST_SECRET}}"

[backends.box]
type = "sftp"
options = {{ host = "example.invalid", username = "me", password = "{password}" }}

[stores.events]
backend = "cloud"
root_path = "events/${{CLI_TEST_PREFIX}}"
"""
SECRET = "s3cr3t-from-the-environment"
PASSWORD = "literal-passw0rd"


@pytest.fixture
def secret_config(isolation: Isolation) -> Path:
    return isolation.config(CONFIG.format(password=PASSWORD))


@pytest.fixture
def secret_env() -> dict[str, str]:
    return {"CLI_TEST_KEY_ID": "AKIDFROMENV", "CLI_TEST_SECRET": SECRET, "CLI_TEST_PREFIX": "v1"}


def test_config_show_never_prints_a_secret(
    run: ProcessRunner, secret_config: Path, secret_env: dict[str, str]
) -> None:
    for args in (("config", "show"), ("config", "show", "--json")):
        result = run(*args, env=secret_env)
        everything = result.stdout + result.stderr
        for secret in (SECRET, PASSWORD, "AKIDFROMENV"):
            assert secret.encode() not in everything, (args, secret)


def test_config_show_names_the_environment_variables_secrets_come_from(
    cli: CliInvoker, secret_config: Path, secret_env: dict[str, str]
) -> None:
    document = json.loads(cli("config", "show", "--json", env=secret_env).stdout)
    cloud = document["backends"]["cloud"]["options"]
    assert cloud["secret_access_key"] == "${CLI_TEST_SECRET}"
    assert cloud["endpoint_url"] == "http://user:***@127.0.0.1:9000"
    assert cloud["bucket"] == "acme"
    box = document["backends"]["box"]["options"]
    assert box["password"] == "***"
    assert box["username"] == "me"
    assert document["stores"]["events"] == {
        "backend": "cloud",
        "root_path": "events/${CLI_TEST_PREFIX}",
    }
    assert document["chosen_by"] == "default"


def test_config_show_text_lists_every_backend_and_store(
    cli: CliInvoker, secret_config: Path, secret_env: dict[str, str]
) -> None:
    out = cli("config", "show", env=secret_env).stdout
    for needle in (
        "[backends.cloud]",
        "[backends.box]",
        "[stores.events]",
        'options.password = "***"',
    ):
        assert needle in out


def test_config_show_fails_with_exit_2_when_a_variable_is_unset(
    cli: CliInvoker, secret_config: Path
) -> None:
    result = cli("config", "show", expect=2)
    assert "environment variable 'CLI_TEST_KEY_ID' is not set" in result.stderr


def test_config_show_without_any_config_file_says_where_it_looked(cli: CliInvoker) -> None:
    result = cli("config", "show", expect=2)
    assert "no config file" in result.stderr


def test_an_error_from_a_profile_never_prints_its_secret(
    run: ProcessRunner, isolation: Isolation
) -> None:
    isolation.config(
        '[backends.b]\ntype = "sftp"\n'
        'options = { host = "127.0.0.1", port = 1, username = "u", password = "${CLI_PW}" }\n'
        '[stores.s]\nbackend = "b"\n'
    )
    result = run("-vv", "ls", "s:", env={"CLI_PW": "pw-from-env-123"}, expect=1)
    assert b"pw-from-env-123" not in result.stdout + result.stderr
