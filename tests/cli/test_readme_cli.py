"""The README's shell sections run as written: the ``sh`` blocks of "Command line" and of
"On S3, beside rclone", each section in one shell (``set -euo pipefail``), in a fresh
folder, with a private HOME and an ``omnistorage`` command on PATH that runs this
checkout's code (``python -m omnistorage``; the installed console script may belong to
another checkout, and is tested in ``test_entry_points.py``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.cli.conftest import REPO, Isolation
from tests.support.servers import server_env

pytestmark = pytest.mark.slow  # minutes: collected first (tests/conftest.py)

_SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.DOTALL | re.MULTILINE)


def readme_section(markdown: str, title: str) -> str:
    """The text of the ``## title`` section (up to the next ``## `` heading)."""
    marker = f"\n## {title}\n"
    assert marker in markdown, f"README.md has no '## {title}' section"
    return markdown.split(marker, 1)[1].split("\n## ", 1)[0]


def command_line_section(markdown: str) -> str:
    """The text of the ``## Command line`` section."""
    return readme_section(markdown, "Command line")


def run_sh_blocks(
    section: str,
    workdir: Path,
    env: Mapping[str, str],
    *,
    least: int = 4,
    base: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run every ``sh`` block of ``section`` in order in one bash, in ``workdir``, with
    ``env`` over ``base`` (default: this process's environment)."""
    blocks = _SH_BLOCK.findall(section)
    assert len(blocks) >= least, "the section lost its examples"
    script = "set -euo pipefail\n" + "\n".join(blocks)
    return subprocess.run(
        ["bash", "-c", script],
        cwd=workdir,
        env={**(os.environ if base is None else base), **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def command_on_path(folder: Path) -> str:
    """A PATH whose ``omnistorage`` runs this checkout (``folder`` holds the shim)."""
    folder.mkdir(exist_ok=True)
    shim = folder / "omnistorage"
    shim.write_text(
        f'#!/bin/sh\nPYTHONPATH="{REPO}${{PYTHONPATH:+:$PYTHONPATH}}" '
        f'exec "{sys.executable}" -m omnistorage "$@"\n'
    )
    shim.chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


def test_the_command_line_section_runs_as_written(isolation: Isolation, tmp_path: Path) -> None:
    section = command_line_section((REPO / "README.md").read_text())
    env = {**isolation.env, "PATH": command_on_path(tmp_path / ".bin")}
    result = run_sh_blocks(section, tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "archive" / "daily" / "hello.txt").read_text() == "hello\n"
    assert (tmp_path / "mirror" / "photos" / "list.txt").read_text() == "one\ntwo\n"
    assert "the trees differ" in result.stdout
    assert "exit 3: the trees differ" in result.stdout
    assert "Total objects: 2\nTotal size: 14 B (14 bytes)\n" in result.stdout
    assert "2\ttotal\n" in result.stdout


@pytest.mark.server
def test_the_s3_and_rclone_section_runs_against_moto_and_rclone(
    isolation: Isolation, tmp_path: Path
) -> None:
    endpoint = server_env("OMNI_TEST_S3_ENDPOINT")["OMNI_TEST_S3_ENDPOINT"]
    if shutil.which("rclone") is None:
        pytest.fail("rclone is not installed: run 'bash scripts/servers.sh start' as root")
    section = readme_section((REPO / "README.md").read_text(), "On S3, beside rclone")
    env = {
        **isolation.env,
        "PATH": command_on_path(tmp_path / ".bin"),
        "AWS_ENDPOINT_URL": endpoint,  # where the README says to point it
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "RCLONE_CONFIG": os.devnull,
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
    clean.pop("AWS_CA_BUNDLE", None)  # rclone refuses a CA bundle with its own transport
    result = run_sh_blocks(section, tmp_path, env, least=2, base=clean)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "omni-readme-cli/" in result.stdout
    assert "exit 1: that bucket does not exist" in result.stdout
    assert "the bucket 'omni-readme-typo' does not exist" in result.stderr
    assert "0 differences found" in result.stderr  # rclone check of omnistorage's upload
    assert "from rclone\n" in result.stdout  # omnistorage reading rclone's upload
    assert "check: 4 match, 0 differ" in result.stderr
