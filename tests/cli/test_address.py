"""Addresses: URLs, local paths and ``profile:path`` resolve to a base store and a path."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnistorage import ConfigurationError, InvalidPath, LocalBackend
from omnistorage.cli._address import Addresses, ConfigSource, find_config
from tests.cli.conftest import CliInvoker, Isolation

_SEGMENT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\?#%"),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", "..") and not s.startswith(".omnistorage-tmp-"))


@pytest.fixture
def addresses(tmp_path: Path) -> Iterator[Addresses]:
    resolver = Addresses(ConfigSource(tmp_path / "no-config.toml", "default"))
    yield resolver
    resolver.close()


@given(st.lists(_SEGMENT, min_size=1, max_size=5))
@settings(max_examples=60)
def test_a_memory_url_names_its_last_segment_inside_the_folder_above(
    segments: list[str],
) -> None:
    resolver = Addresses(ConfigSource(Path("/nonexistent/config.toml"), "default"))
    try:
        location = resolver.resolve("memory://space/" + "/".join(segments))
        assert location.path == segments[-1]
        assert location.store.root == "/".join(segments[:-1])
        assert location.full_key() == "/".join(segments)
        assert location.in_memory
    finally:
        resolver.close()


def test_urls_on_one_bucket_share_one_backend(addresses: Addresses) -> None:
    a = addresses.resolve("memory://space/a/x.txt")
    b = addresses.resolve("memory://space/b/c/y.txt")
    other = addresses.resolve("memory://elsewhere/x.txt")
    assert a.same_backend(b)
    assert not a.same_backend(other)


def test_a_trailing_slash_marks_a_folder(addresses: Addresses) -> None:
    assert addresses.resolve("memory://space/dir/").folder_hint
    assert not addresses.resolve("memory://space/dir").folder_hint


def test_an_existing_local_folder_is_named_inside_its_parent(
    addresses: Addresses, tmp_path: Path
) -> None:
    (tmp_path / "dir").mkdir()
    location = addresses.resolve(str(tmp_path / "dir"))
    assert location.path == "dir"
    assert location.store.unwrap(LocalBackend).root == str(tmp_path.resolve())


def test_a_local_path_that_does_not_exist_hangs_below_the_nearest_existing_folder(
    addresses: Addresses, tmp_path: Path
) -> None:
    location = addresses.resolve(str(tmp_path / "new" / "deeper" / "file.txt"))
    assert location.path == "new/deeper/file.txt"
    assert location.store.unwrap(LocalBackend).root == str(tmp_path.resolve())
    assert not (tmp_path / "new").exists()  # resolving creates nothing


def test_a_symlink_named_on_the_command_line_is_followed(
    addresses: Addresses, tmp_path: Path
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f.txt").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    location = addresses.resolve(str(tmp_path / "link" / "f.txt"))
    assert location.store.read_bytes(location.path) == b"x"


def test_a_relative_path_is_taken_from_the_working_directory(
    addresses: Addresses, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.txt").write_text("here")
    location = addresses.resolve("a.txt")
    assert location.store.read_bytes(location.path) == b"here"


def test_a_file_url_is_a_local_path(addresses: Addresses, tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    location = addresses.resolve(f"file://{tmp_path}/f.txt")
    assert location.kind == "local"
    assert location.store.read_bytes(location.path) == b"x"


def test_two_local_locations_can_share_one_backend(addresses: Addresses, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "f.txt").write_text("x")
    src, dst = addresses.share_local(
        addresses.resolve(str(tmp_path / "a" / "f.txt")),
        addresses.resolve(str(tmp_path / "b" / "g.txt")),
    )
    assert src.same_backend(dst)
    assert src.store.read_bytes(src.path) == b"x"
    assert dst.full_key().endswith("b/g.txt")


def test_an_unknown_url_scheme_is_a_configuration_error(addresses: Addresses) -> None:
    with pytest.raises(ConfigurationError, match="unknown URL scheme 'nope'"):
        addresses.resolve("nope://x/y")


def test_a_url_path_that_breaks_the_key_grammar_is_refused_naming_it(
    addresses: Addresses,
) -> None:
    with pytest.raises(InvalidPath, match=re.escape("memory://space/a\\b: invalid key")):
        addresses.resolve("memory://space/a\\b")


def test_a_url_password_never_shows_in_the_location_text(addresses: Addresses) -> None:
    with pytest.raises(ConfigurationError) as caught:
        addresses.resolve("nope://user:hunter22@host/x")
    assert "hunter22" not in str(caught.value)


PROFILES = """
[backends.mem]
type = "memory"
options = { name = "profile-space" }

[stores.box]
backend = "mem"
root_path = "inbox"
"""


def test_a_profile_address_is_a_path_in_the_profile_store(tmp_path: Path) -> None:
    config = tmp_path / "omni.toml"
    config.write_text(PROFILES)
    resolver = Addresses(ConfigSource(config, "--config"))
    try:
        location = resolver.resolve("box:a/b.txt")
        assert (location.store.root, location.path, location.kind) == (
            "inbox",
            "a/b.txt",
            "profile",
        )
        assert resolver.resolve("box:").path == ""
    finally:
        resolver.close()


def test_an_unknown_profile_lists_the_known_ones_and_the_local_spelling(tmp_path: Path) -> None:
    config = tmp_path / "omni.toml"
    config.write_text(PROFILES)
    resolver = Addresses(ConfigSource(config, "--config"))
    with pytest.raises(ConfigurationError, match=r"known: box.*write ./other:x"):
        resolver.resolve("other:x")


def test_a_dot_slash_path_with_a_colon_is_local(addresses: Addresses, tmp_path: Path) -> None:
    (tmp_path / "a:b").write_text("colon")
    location = addresses.resolve(f"{tmp_path}/a:b")
    assert location.store.read_bytes(location.path) == b"colon"


def test_a_profile_without_a_config_file_says_where_it_looked(addresses: Addresses) -> None:
    with pytest.raises(ConfigurationError, match="no config file: looked at --config"):
        addresses.resolve("box:x")


def test_a_named_config_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    resolver = Addresses(ConfigSource(tmp_path / "missing.toml", "--config"))
    with pytest.raises(ConfigurationError, match="does not exist"):
        resolver.resolve("box:x")


def test_the_config_option_wins_over_the_environment_and_the_default() -> None:
    env = {"OMNISTORAGE_CONFIG": "/env.toml", "XDG_CONFIG_HOME": "/xdg"}
    assert find_config("/opt.toml", env) == ConfigSource(Path("/opt.toml"), "--config")
    assert find_config(None, env) == ConfigSource(Path("/env.toml"), "$OMNISTORAGE_CONFIG")
    assert find_config(None, {"XDG_CONFIG_HOME": "/xdg"}).path == Path(
        "/xdg/omnistorage/config.toml"
    )
    home = os.path.expanduser("~")
    assert find_config(None, {}).path == Path(home, ".config", "omnistorage", "config.toml")


def test_the_default_config_file_serves_profile_addresses(
    cli: CliInvoker, isolation: Isolation, tmp_path: Path
) -> None:
    isolation.config(PROFILES.replace("profile-space", "default-config-space"))
    (tmp_path / "f.txt").write_text("hi")
    from omnistorage import open_store

    with open_store("memory://default-config-space") as space:
        cli("cp", str(tmp_path / "f.txt"), "box:f.txt")
        assert space.read_bytes("inbox/f.txt") == b"hi"


def test_the_environment_variable_names_the_config_file(cli: CliInvoker, tmp_path: Path) -> None:
    config = tmp_path / "env.toml"
    config.write_text(PROFILES.replace("profile-space", "env-config-space"))
    result = cli("config", "show", env={"OMNISTORAGE_CONFIG": str(config)})
    assert str(config) in result.stdout
    assert "chosen by $OMNISTORAGE_CONFIG" in result.stdout


def test_a_broken_config_file_is_a_usage_error_naming_the_line(
    cli: CliInvoker, tmp_path: Path
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[backends.x]\ntype = \n")
    result = cli("--config", str(config), "ls", "box:", expect=2)
    assert "bad TOML" in result.stderr
    assert "line 2" in result.stderr


def test_a_broken_config_file_does_not_break_commands_that_do_not_use_it(
    cli: CliInvoker, isolation: Isolation, tmp_path: Path
) -> None:
    isolation.config("this is not toml")
    (tmp_path / "f.txt").write_text("fine")
    assert cli("cat", str(tmp_path / "f.txt")).stdout == "fine"


def test_a_name_joined_to_a_url_folder_goes_before_the_query(addresses: Addresses) -> None:
    folder = addresses.resolve("memory://space/dir/?name=space")
    assert folder.join("a.txt").text == "memory://space/dir/a.txt?name=space"
    assert addresses.resolve("memory://space/dir").join("b").text == "memory://space/dir/b"
