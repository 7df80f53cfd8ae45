"""Temp names: unique per attempt and across fork, within NAME_MAX bytes, reserved."""

from __future__ import annotations

import os
import random

import pytest

from omnistorage import InvalidPath, paths
from omnistorage._tempname import NAME_MAX, TEMP_MARK, is_temp_name, temp_name


def test_names_are_unique_and_marked() -> None:
    names = {temp_name("data.bin") for _ in range(20_000)}
    assert len(names) == 20_000
    assert all(is_temp_name(n) and n.endswith("-data.bin") for n in names)


def test_a_forked_child_draws_other_names_than_its_parent() -> None:
    random.seed(7)  # a user's seeding of the global generator must not matter
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        random.seed(7)
        os.write(write_end, "\n".join(temp_name("x") for _ in range(50)).encode())
        os._exit(0)
    os.close(write_end)
    mine = {temp_name("x") for _ in range(50)}
    with os.fdopen(read_end, "rb") as pipe:
        theirs = set(pipe.read().decode().split("\n"))
    os.waitpid(pid, 0)
    assert len(theirs) == 50
    assert mine.isdisjoint(theirs)


@pytest.mark.parametrize("name", ["漢" * 90, "🙂" * 70, "a" * 300, "é" * 200])
def test_names_fit_name_max_bytes_and_cut_on_a_character(name: str) -> None:
    made = temp_name(name)
    assert len(made.encode()) <= NAME_MAX
    assert made.encode().decode() == made  # valid UTF-8: no half character


def test_the_mark_is_reserved_in_keys() -> None:
    with pytest.raises(InvalidPath):
        paths.validate_key(f"a/{TEMP_MARK}0123-x")
    paths.validate_key("a/x.omnistorage-tmp")  # a suffix alone is an ordinary name
