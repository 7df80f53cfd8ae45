"""How the local backend finds whether its root folds names (case, Unicode forms)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from omnistorage import LocalBackend, Store
from omnistorage.backends.local._probe import folding, probe_folding


def test_opening_a_store_writes_nothing_into_its_root(tmp_path: Path) -> None:
    (tmp_path / "kept.txt").write_bytes(b"x")
    before = os.stat(tmp_path).st_mtime_ns
    os.utime(tmp_path, ns=(before - 10**9, before - 10**9))
    before = os.stat(tmp_path).st_mtime_ns
    store = Store(LocalBackend(tmp_path))
    assert store.features.case_insensitive is False
    assert os.stat(tmp_path).st_mtime_ns == before
    assert sorted(os.listdir(tmp_path)) == ["kept.txt"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the no-write path is Linux's")
def test_what_linux_reports_agrees_with_asking_the_file_system(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert folding(fd) == probe_folding(fd)
    finally:
        os.close(fd)
    assert os.listdir(tmp_path) == []  # the probe removed its file


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_a_folder_where_nothing_can_be_created_is_taken_as_folding_nothing() -> None:
    # /proc refuses new files even to root.
    fd = os.open("/proc/self", os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert probe_folding(fd) == (False, False)
    finally:
        os.close(fd)
