"""Declarative configuration and the Registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnistorage import (
    BackendClosed,
    BackendConfig,
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


def test_unknown_backend_option_fails_when_the_config_is_read() -> None:
    with pytest.raises(ConfigurationError, match=r"backends\.b: unknown option 'size'"):
        RegistryConfig.from_dict({"backends": {"b": {"type": "memory", "options": {"size": 3}}}})


def test_a_config_built_by_hand_is_checked_by_the_registry() -> None:
    config = RegistryConfig(backends={"b": BackendConfig("memory", {"size": 3})})
    with pytest.raises(ConfigurationError, match="unknown option 'size'"):
        Registry(config)


def test_typo_in_an_option_name_fails_at_from_toml() -> None:
    toml = '[backends.s]\ntype = "s3"\noptions = { bucket = "b", secret_acces_key = "x" }\n'
    with pytest.raises(ConfigurationError, match="unknown option 'secret_acces_key'"):
        RegistryConfig.from_toml(toml)


def test_typo_in_a_backend_type_fails_at_from_toml_with_a_suggestion() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown backend type 's4'.*did you mean 's3'"):
        RegistryConfig.from_toml('[backends.s]\ntype = "s4"\n')


def test_option_of_the_wrong_type_fails_at_from_dict() -> None:
    with pytest.raises(ConfigurationError, match="'durable' of the local backend must be a bool"):
        RegistryConfig.from_dict(
            {"backends": {"d": {"type": "local", "options": {"root": "/tmp/x", "durable": 3}}}}
        )


def test_missing_required_option_fails_at_from_dict() -> None:
    with pytest.raises(ConfigurationError, match=r"needs option.*'root'"):
        RegistryConfig.from_dict({"backends": {"d": {"type": "local"}}})


def test_env_value_never_appears_in_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNI_SECRETISH", "s3cr3t-value-from-env")
    with pytest.raises(ConfigurationError) as info:
        RegistryConfig.from_dict(
            {
                "backends": {
                    "d": {
                        "type": "local",
                        "options": {"root": "/tmp/x", "durable": "${OMNI_SECRETISH}"},
                    }
                }
            }
        )
    assert "s3cr3t-value-from-env" not in str(info.value)
    assert "durable" in str(info.value)


def test_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "omni.toml"
    path.write_text('[backends.a]\ntype = "memory"\noptions = { name = }\n')
    with pytest.raises(ConfigurationError, match=r"omni\.toml.*line 3"):
        RegistryConfig.from_toml(path)


def test_backend_config_repr_hides_option_values() -> None:
    config = RegistryConfig.from_dict(
        {"backends": {"b": {"type": "memory", "options": {"name": "abc123secret"}}}}
    )
    assert "abc123secret" not in repr(config)


def test_bad_toml_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="bad TOML"):
        RegistryConfig.from_toml("this is = = not toml\n")


@pytest.mark.parametrize(
    ("engine", "address", "cluster"),
    [
        ("dask", "tcp://scheduler:8786", "tcp://scheduler:8786"),
        ("dask", "tls://10.0.0.1:8786", "tls://10.0.0.1:8786"),
        ("dask", "local:4", "local:4"),
        ("ray", "ray://head:10001", "ray://head:10001"),
        ("ray", "auto", "ray:auto"),
        ("ray", "local", "ray:local"),
    ],
)
def test_a_cluster_profile_names_its_engine_and_address(
    engine: str, address: str, cluster: str
) -> None:
    config = RegistryConfig.from_dict({"clusters": {"etl": {"engine": engine, "address": address}}})
    assert config.clusters["etl"].engine == engine
    assert config.clusters["etl"].cluster == cluster


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"engine": "spark", "address": "x"}, "engine must be 'dask' or 'ray'"),
        ({"engine": "dask", "address": "scheduler:8786"}, "tcp://HOST:PORT"),
        ({"engine": "dask", "address": "local:0"}, "local:N"),
        ({"engine": "dask", "address": "tcp://"}, "tcp://HOST:PORT"),
        ({"engine": "ray", "address": "tcp://head:8786"}, "ray://HOST:PORT, auto or local"),
        ({"engine": "ray"}, "engine and address"),
        ({"engine": "ray", "address": "auto", "workers": 3}, "workers"),
        ("tcp://x:1", "clusters.etl"),
    ],
)
def test_a_bad_cluster_profile_fails_when_the_config_is_read(raw: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RegistryConfig.from_dict({"clusters": {"etl": raw}})


def test_a_cluster_address_from_the_environment_is_not_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OMNI_CFG_SCHED", "sched-host-s3cr3t")
    with pytest.raises(ConfigurationError) as info:
        RegistryConfig.from_dict(
            {"clusters": {"etl": {"engine": "dask", "address": "${OMNI_CFG_SCHED}"}}}
        )
    assert "s3cr3t" not in str(info.value)
    monkeypatch.setenv("OMNI_CFG_SCHED", "tcp://sched:8786")
    config = RegistryConfig.from_dict(
        {"clusters": {"etl": {"engine": "dask", "address": "${OMNI_CFG_SCHED}"}}}
    )
    assert config.clusters["etl"].address == "tcp://sched:8786"
