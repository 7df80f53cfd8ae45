"""Ctrl-C (SIGINT) on the real command: exit code 130, and nothing partial is published."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.conftest import Isolation, S3Place
from tests.cli.processes import Running, transferred

MiB = 1 << 20


def temp_files(folder: Path) -> list[Path]:
    return [
        Path(top, name)
        for top, _, names in os.walk(folder)
        for name in names
        if "omnistorage-tmp" in name
    ]


def test_ctrl_c_during_a_local_cp_publishes_nothing_and_exits_130(
    isolation: Isolation, tmp_path: Path
) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(24 * MiB))
    target = tmp_path / "out" / "big.bin"
    running = Running(
        ["cp", "--bwlimit", "8M", "--stats", "0.1", str(tmp_path / "big.bin"), str(target)],
        env=isolation.env,
    )
    running.wait_for(lambda line: transferred(line) > 4 * MiB)
    assert len(temp_files(tmp_path / "out")) == 1  # the partial copy exists, unpublished
    code, _, stderr = running.interrupt()
    assert code == 130, stderr
    assert "nothing partial was published" in stderr
    assert not target.exists()
    assert temp_files(tmp_path / "out") == []


@pytest.mark.server
def test_ctrl_c_during_a_multipart_cp_to_s3_aborts_the_upload(
    isolation: Isolation, s3: S3Place, tmp_path: Path
) -> None:
    # 96 MiB at 8 MiB/s: the copy is still running ~10 s after the 11 MiB mark, however
    # slowly the machine runs the checks below (the limit only ever slows it down).
    (tmp_path / "big.bin").write_bytes(os.urandom(96 * MiB))
    target = s3.url("big.bin") + "&part_size=5242880"
    running = Running(
        ["cp", "--bwlimit", "8M", "--stats", "0.1", str(tmp_path / "big.bin"), target],
        env={**isolation.env, **s3.env},
    )
    running.wait_for(lambda line: transferred(line) > 11 * MiB)
    deadline = time.monotonic() + 30
    while not s3.open_uploads() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert s3.open_uploads() == [f"{s3.store.root}/big.bin"]  # an upload is in flight
    code, _, stderr = running.interrupt()
    assert code == 130, stderr
    assert s3.open_uploads() == []
    assert not s3.store.exists("big.bin")


@pytest.mark.server
def test_ctrl_c_during_a_put_from_stdin_publishes_nothing(
    isolation: Isolation, s3: S3Place
) -> None:
    running = Running(
        ["put", "--stats", "0.1", "-", s3.url("streamed.bin") + "&part_size=5242880"],
        env={**isolation.env, **s3.env},
        stdin=subprocess.PIPE,
    )
    assert running.proc.stdin is not None
    running.proc.stdin.write(os.urandom(12 * MiB))
    running.proc.stdin.flush()
    running.wait_for(lambda line: transferred(line) >= 12 * MiB)
    code, _, stderr = running.interrupt()
    assert code == 130, stderr
    assert not s3.store.exists("streamed.bin")
    assert s3.open_uploads() == []


def test_ctrl_c_during_a_sync_publishes_only_whole_files_and_exits_130(
    isolation: Isolation, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    originals = {f"f{i:02d}.bin": os.urandom(2 * MiB) for i in range(16)}
    for name, data in originals.items():
        (src / name).write_bytes(data)
    dst = tmp_path / "dst"
    running = Running(
        ["sync", "--bwlimit", "8M", "--transfers", "2", "--stats", "0.1", str(src), str(dst)],
        env=isolation.env,
    )
    running.wait_for(lambda line: transferred(line) > 5 * MiB)
    code, _, stderr = running.interrupt()
    assert code == 130, stderr
    assert "interrupted" in stderr
    copied = {path.name: path.read_bytes() for path in dst.iterdir()} if dst.exists() else {}
    assert 0 < len(copied) < len(originals)
    for name, data in copied.items():
        assert data == originals[name], name  # every published file is whole
    assert temp_files(dst) == []
