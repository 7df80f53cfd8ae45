"""The README's "Command line" section runs as written: its ``sh`` blocks, in order, in
one shell (``set -euo pipefail``), in a fresh folder, with the installed ``omnistorage``
command on PATH and a private HOME."""

from __future__ import annotations

import os
import re
import subprocess
import sysconfig
from collections.abc import Mapping
from pathlib import Path

from tests.cli.conftest import REPO, Isolation

_SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.DOTALL | re.MULTILINE)


def command_line_section(markdown: str) -> str:
    """The text of the ``## Command line`` section (up to the next ``## `` heading)."""
    marker = "\n## Command line\n"
    assert marker in markdown, "README.md has no '## Command line' section"
    return markdown.split(marker, 1)[1].split("\n## ", 1)[0]


def run_sh_blocks(
    section: str, workdir: Path, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run every ``sh`` block of ``section`` in order in one bash, in ``workdir``."""
    blocks = _SH_BLOCK.findall(section)
    assert len(blocks) >= 4, "the section lost its examples"
    script = "set -euo pipefail\n" + "\n".join(blocks)
    return subprocess.run(
        ["bash", "-c", script],
        cwd=workdir,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_command_line_section_runs_as_written(isolation: Isolation, tmp_path: Path) -> None:
    section = command_line_section((REPO / "README.md").read_text())
    scripts = sysconfig.get_path("scripts")
    env = {**isolation.env, "PATH": f"{scripts}{os.pathsep}{os.environ['PATH']}"}
    result = run_sh_blocks(section, tmp_path, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "archive" / "daily" / "hello.txt").read_text() == "hello\n"
    assert (tmp_path / "mirror" / "photos" / "list.txt").read_text() == "one\ntwo\n"
    assert "the trees differ" in result.stdout
