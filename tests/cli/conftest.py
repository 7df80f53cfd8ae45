"""Fixtures of the CLI tests: the command in-process (Click's runner) and as a real process.

Every run gets a private HOME, XDG config and cache folder and no
``OMNISTORAGE_CONFIG``, so the user's configuration and hash cache are never
read or written. In-process runs share ``memory://`` spaces with the test (a
space lives while someone holds a backend of its name); real processes do not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from omnistorage import Store
from omnistorage.cli import app
from tests.support import remote
from tests.support.servers import server_env

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Isolation:
    """The private environment of one test's command runs."""

    env: dict[str, str]
    home: Path

    def config(self, text: str) -> Path:
        """Write the default config file (``$XDG_CONFIG_HOME/omnistorage/config.toml``)."""
        path = Path(self.env["XDG_CONFIG_HOME"]) / "omnistorage" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path


@pytest.fixture
def isolation(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Isolation:
    home = tmp_path_factory.mktemp("home")
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OMNISTORAGE_CONFIG", raising=False)
    return Isolation(env, home)


@pytest.fixture
def cli(isolation: Isolation) -> CliInvoker:
    return CliInvoker(isolation)


class CliInvoker:
    """Runs ``omnistorage ARGS`` in this process through Click's ``CliRunner``."""

    def __init__(self, isolation: Isolation) -> None:
        self.isolation = isolation

    def __call__(
        self,
        *args: str,
        input: bytes | str | None = None,
        env: Mapping[str, str] | None = None,
        expect: int | None = 0,
    ) -> Result:
        runner = CliRunner(env={**self.isolation.env, **(env or {})})
        result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, (
                f"exit {result.exit_code}, expected {expect}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result


def run_process(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    input: bytes | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[bytes]:
    """``python -m omnistorage ARGS`` as a real process (not a terminal)."""
    full_env = {**os.environ, **env}
    if "OMNISTORAGE_CONFIG" not in env:
        full_env.pop("OMNISTORAGE_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "omnistorage", *args],
        input=input,
        capture_output=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def run(isolation: Isolation) -> ProcessRunner:
    return ProcessRunner(isolation)


class ProcessRunner:
    """Runs ``python -m omnistorage ARGS`` as a real process with the private environment."""

    def __init__(self, isolation: Isolation) -> None:
        self.isolation = isolation

    def __call__(
        self,
        *args: str,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        expect: int | None = 0,
    ) -> subprocess.CompletedProcess[bytes]:
        result = run_process(args, env={**self.isolation.env, **(env or {})}, input=input, cwd=cwd)
        if expect is not None:
            assert result.returncode == expect, (
                f"exit {result.returncode}, expected {expect}\n"
                f"stdout: {result.stdout!r}\nstderr: {result.stderr!r}"
            )
        return result


@dataclass(frozen=True)
class S3Place:
    """A unique folder in the moto test bucket, addressed by URL (credentials come from
    the environment, as they would for a real user)."""

    store: Store
    endpoint: str
    region: str

    @property
    def bucket(self) -> str:
        return remote.S3_BUCKET

    @property
    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

    def url(self, path: str = "") -> str:
        """``s3://bucket/<unique root>/<path>?endpoint_url=…&region=…``."""
        query = f"endpoint_url={self.endpoint}&region={self.region}"
        return f"s3://{self.bucket}/{self.store.root}/{path}?{query}"

    def client(self) -> object:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def open_uploads(self) -> list[str]:
        """Keys of incomplete multipart uploads below this folder."""
        client = self.client()
        reply = client.list_multipart_uploads(  # type: ignore[attr-defined]
            Bucket=self.bucket, Prefix=self.store.root + "/"
        )
        return [upload["Key"] for upload in reply.get("Uploads", [])]


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Place]:
    env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    store = remote.s3_store()
    try:
        yield S3Place(store, env["OMNI_TEST_S3_ENDPOINT"], env["OMNI_TEST_S3_REGION"])
    finally:
        remote.wipe(store)
