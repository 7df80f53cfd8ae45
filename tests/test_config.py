"""Declarative configuration and the Registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnistorage import (
    BackendClosed,
    ConfigurationError,
    MemoryBackend,
    Registry,
    RegistryConfig,
)

TOML = """
[backends.mem]
type = "memory"
options = { name = "config-space" }

[backends.disk]
type = "local"
options = { root = "${OMNI_CFG_ROOT}" }

[stores.events]
backend = "mem"
root_path = "events/v1"

[stores.files]
backend = "disk"
"""


def test_from_toml_builds_lazily_shares_and_closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNI_CFG_ROOT", str(tmp_path / "files"))
    registry = Registry(RegistryConfig.from_toml(TOML))
    events = registry.store("events")
    events.write("e.json", b"{}")
    assert registry.store("events").read_bytes("e.json") == b"{}"
    assert registry.backend("mem") is events.unwrap()
    registry.store("files").write("f.txt", b"x")
    assert (tmp_path / "files" / "f.txt").read_bytes() == b"x"
    registry.close()
    with pytest.raises(BackendClosed):
        events.read_bytes("e.json")


def test_from_toml_reads_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNI_CFG_ROOT", str(tmp_path))
    path = tmp_path / "omni.toml"
    path.write_text(TOML)
    with Registry(RegistryConfig.from_toml(path)) as registry:
        assert isinstance(registry.backend("mem"), MemoryBackend)


def test_missing_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMNI_CFG_ROOT", raising=False)
    with pytest.raises(ConfigurationError, match="OMNI_CFG_ROOT"):
        RegistryConfig.from_toml(TOML)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"backendz": {}}, "unknown key 'backendz' in config"),
        ({"backends": {"b": {"type": "memory", "opts": {}}}}, "unknown key 'opts' in backends.b"),
        ({"backends": {"b": {"options": {}}}}, "backends.b.type"),
        ({"stores": {"s": {"backend": "nope"}}}, "names backend 'nope'"),
        (
            {"backends": {"b": {"type": "memory"}}, "stores": {"s": {"backend": "b", "x": 1}}},
            "unknown key 'x' in stores.s",
        ),
        (
            {
                "backends": {"b": {"type": "memory"}},
                "stores": {"s": {"backend": "b", "root_path": "../up"}},
            },
            "root_path",
        ),
    ],
)
def test_bad_config_names_what_is_wrong(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RegistryConfig.from_dict(data)


def test_unknown_backend_option_fails_when_built() -> None:
    config = RegistryConfig.from_dict(
        {"backends": {"b": {"type": "memory", "options": {"size": 3}}}}
    )
    with pytest.raises(ConfigurationError, match="unknown option 'size'"):
        Registry(config).backend("b")


def test_backend_config_repr_hides_option_values() -> None:
    config = RegistryConfig.from_dict(
        {"backends": {"b": {"type": "s3", "options": {"secret_access_key": "abc123secret"}}}}
    )
    assert "abc123secret" not in repr(config)


def test_bad_toml_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="bad TOML"):
        RegistryConfig.from_toml("this is = = not toml\n")
