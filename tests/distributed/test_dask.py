"""Dask-only parts of distributed sync (the shared ones are in test_engines.py): a cluster
profile of the configuration file naming a Dask scheduler, and the command's refusal of
--cluster without --state."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import ROOT, make_tree, omnistorage_command

pytestmark = pytest.mark.server


def test_cluster_without_state_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    refused = omnistorage_command(
        "sync", str(tmp_path / "src"), str(tmp_path / "dst"), "--cluster", "local:1", timeout=60
    )
    assert refused.returncode == 2
    assert "--state" in refused.stderr


def test_the_command_takes_a_cluster_profile_of_the_config_file(
    client: Any, tmp_path: Path
) -> None:
    make_tree(tmp_path / "src", 12)
    config = tmp_path / "config.toml"
    config.write_text(f'[clusters.etl]\nengine = "dask"\naddress = "{client.scheduler.address}"\n')

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "omnistorage", "--config", str(config), *args],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=str(ROOT),
        )

    done = run(
        "copy",
        str(tmp_path / "src"),
        str(tmp_path / "dst"),
        "--cluster",
        "etl",
        "--state",
        str(tmp_path / "state"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert any(line.startswith("chunk ") for line in done.stderr.splitlines())
    assert len(list((tmp_path / "dst").rglob("*.bin"))) == 12
    unknown = run(
        "copy",
        str(tmp_path / "src"),
        str(tmp_path / "dst"),
        "--cluster",
        "nightly",
        "--state",
        str(tmp_path / "state"),
    )
    assert unknown.returncode == 2
    assert "no cluster profile of that name" in unknown.stderr
    assert "(known: etl)" in unknown.stderr
