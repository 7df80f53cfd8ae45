"""Shared fixtures of the sync tests: local stores, a private hash cache, rclone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnistorage import LocalBackend, Store


@pytest.fixture(autouse=True)
def _private_hash_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default hash cache goes to a temporary XDG cache folder, not the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture
def src(tmp_path: Path) -> Iterator[Store]:
    store = Store(LocalBackend(tmp_path / "src"))
    yield store
    store.close()


@pytest.fixture
def dst(tmp_path: Path) -> Iterator[Store]:
    store = Store(LocalBackend(tmp_path / "dst"))
    yield store
    store.close()


def rclone_path() -> str:
    """The rclone binary (installed by scripts/servers.sh); fails the test when missing."""
    found = shutil.which("rclone")
    if found is None:
        pytest.fail("rclone is not installed: run 'bash scripts/servers.sh start' as root")
    return found


def rclone(*args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    """Run rclone with a clean config (remotes come from RCLONE_CONFIG_* variables)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
    full_env.pop("AWS_CA_BUNDLE", None)  # rclone refuses a CA bundle with its own transport
    full_env["RCLONE_CONFIG"] = os.devnull
    full_env.update(env or {})
    result = subprocess.run(
        [rclone_path(), *args], capture_output=True, text=True, env=full_env, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"rclone {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def rclone_log(*args: str, env: dict[str, str] | None = None) -> list[dict[str, object]]:
    """Run rclone with ``-v --use-json-log`` and return its log records (it must succeed)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
    full_env.pop("AWS_CA_BUNDLE", None)
    full_env["RCLONE_CONFIG"] = os.devnull
    full_env.update(env or {})
    result = subprocess.run(
        [rclone_path(), *args, "-v", "--use-json-log"],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )
    if result.returncode != 0:
        raise AssertionError(f"rclone {' '.join(args)} failed: {result.stderr}")
    return [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
