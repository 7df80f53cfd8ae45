"""The key grammar: one validator, with a message naming the rule broken."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnistorage import InvalidPath
from omnistorage.paths import (
    MAX_KEY_BYTES,
    basename,
    folder_prefix,
    is_within,
    join,
    parent,
    relative_to,
    validate_folder,
    validate_key,
)


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("../x", "'..' segments"),
        ("a/../../x", "'..' segments"),
        ("/etc/passwd", "no leading '/'"),
        ("a\\..\\x", "backslashes"),
        ("a\x00b", "control characters"),
        ("tab\there", "control characters"),
        ("", "cannot be empty"),
        ("a//b", "empty segments"),
        ("a/", "empty segments"),
        (".", "'.' segments"),
        ("a/./b", "'.' segments"),
        ("\ud800", "UTF-8"),
        ("\u00e9" * 513, "1024 bytes"),
    ],
)
def test_invalid_keys_name_the_rule(key: str, rule: str) -> None:
    with pytest.raises(InvalidPath, match="invalid key") as info:
        validate_key(key)
    assert rule in str(info.value)


def test_non_string_keys_are_rejected() -> None:
    with pytest.raises(InvalidPath, match="keys are str"):
        validate_key(b"bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "key", ["a", "a/b/c.txt", "...", "%2e%2e", "caf\u00e9", "x" * MAX_KEY_BYTES, ".hidden"]
)
def test_valid_keys_pass_unchanged(key: str) -> None:
    assert validate_key(key) == key


def test_folder_paths_allow_root_and_one_trailing_slash() -> None:
    assert validate_folder("") == ""
    assert validate_folder("data/") == "data"
    with pytest.raises(InvalidPath):
        validate_folder("data//")
    with pytest.raises(InvalidPath):
        validate_folder("/")


def test_helpers() -> None:
    assert join("", "a") == "a"
    assert join("r", "a/b") == "r/a/b"
    assert folder_prefix("") == ""
    assert folder_prefix("d") == "d/"
    assert parent("a/b/c") == "a/b"
    assert parent("a") == ""
    assert basename("a/b/c") == "c"
    assert is_within("data/x", "data")
    assert not is_within("database.txt", "data")
    assert relative_to("data/x/y", "data") == "x/y"
    with pytest.raises(InvalidPath):
        relative_to("database", "data")


segments = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
    min_size=1,
    max_size=8,
).filter(lambda s: s not in (".", ".."))


@given(st.lists(segments, min_size=1, max_size=5))
def test_joined_valid_segments_always_validate(parts: list[str]) -> None:
    key = "/".join(parts)
    if len(key.encode()) <= MAX_KEY_BYTES:
        assert validate_key(key) == key


@given(st.text(max_size=40))
def test_validator_never_accepts_escapes(key: str) -> None:
    try:
        validate_key(key)
    except InvalidPath:
        return
    assert not key.startswith("/")
    assert ".." not in key.split("/")
    assert "\\" not in key
    assert "\x00" not in key
