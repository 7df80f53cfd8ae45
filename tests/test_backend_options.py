"""Every registered backend type checks its options before it connects.

The walk covers every type the registry knows when the tests are collected: the
built-in ones and those published through the ``omnistorage.backends`` entry-point
group, so a new backend is covered without editing this file. For each type, the
malformed options come from its declared :class:`~omnistorage.options.OptionSchema`
(:func:`omnistorage.testing.options.malformed_options`); each must be refused with
a :class:`ConfigurationError` naming the option, by the config file check, by
``open_backend`` and by the constructor, while any socket connection or name
lookup fails the test.
"""

from __future__ import annotations

import inspect
import socket
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from omnistorage import (
    ConfigurationError,
    MemoryBackend,
    Registry,
    RegistryConfig,
    open_backend,
    open_store,
)
from omnistorage import registry as registry_module
from omnistorage.options import OptionSchema, integer, text, url
from omnistorage.registry import (
    BackendType,
    backend_options,
    backend_types,
    check_backend_options,
)
from omnistorage.testing.options import Malformed, example_options, malformed_options

TYPES = sorted(backend_types())  # built-in types and entry points, at collection time


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Any connection or name lookup is recorded, refused and fails the test."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> Any:
        attempts.append(args)
        raise OSError("the configuration test allows no network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield attempts
    assert not attempts, f"connections attempted: {attempts}"


def _factory(name: str) -> Any:
    backend_type = backend_types()[name]
    return registry_module._resolve(backend_type.factory, backend_type, "factory")


def _cases() -> Iterator[Any]:
    for name in TYPES:
        schema = backend_options(name)
        if schema is None:  # reported by test_every_registered_type_declares_its_options
            continue
        for case in malformed_options(schema):
            yield pytest.param(name, case, id=f"{name}-{case.id}")


def _texts(error: BaseException) -> str:
    """The message of ``error`` and of every exception chained to it."""
    seen: list[str] = []
    current: BaseException | None = error
    while current is not None and len(seen) < 10:
        seen.append(str(current))
        current = current.__cause__ or current.__context__
    return "\n".join(seen)


def _values(options: dict[str, object] | Any) -> list[str]:
    """String values long enough to be recognised in a message."""
    return [v for v in options.values() if isinstance(v, str) and len(v.strip("\x00")) >= 4]


def _assert_refused(error: ConfigurationError, case: Malformed) -> None:
    message = str(error)
    for name in case.names:
        assert repr(name) in message, (message, case.names)
    texts = _texts(error)
    for value in _values(dict(case.options)):
        assert value not in texts, f"the value {value!r} is echoed: {texts}"


@pytest.mark.parametrize("name", TYPES)
def test_every_registered_type_declares_its_options(name: str, no_network: list[object]) -> None:
    schema = backend_options(name)
    assert isinstance(schema, OptionSchema), f"backend type {name!r} declares no options_schema"
    parameters = {
        p.name: p
        for p in inspect.signature(_factory(name)).parameters.values()
        if p.kind is not inspect.Parameter.VAR_KEYWORD
    }
    assert set(schema.names) == set(parameters), "the schema and the constructor drifted"
    for option in schema.options:
        default = parameters[option.name].default
        assert option.required is (default is inspect.Parameter.empty), option.name
        if default is not inspect.Parameter.empty:
            assert option.problem(default) is None, f"default of {option.name!r} is refused"
    for rule_names in (*schema.requires, *schema.requires_any, *schema.conflicts):
        for option_name in (rule_names,) if isinstance(rule_names, str) else rule_names:
            assert schema.option(option_name).has_example or schema.option(option_name).choices
    check_backend_options(name, example_options(schema))  # the example itself is accepted


@pytest.mark.parametrize(("name", "case"), list(_cases()))
def test_malformed_options_are_refused_by_name_before_connecting(
    name: str, case: Malformed, no_network: list[object]
) -> None:
    options = dict(case.options)
    with pytest.raises(ConfigurationError) as checked:
        check_backend_options(name, options)
    _assert_refused(checked.value, case)

    with pytest.raises(ConfigurationError) as from_file:
        RegistryConfig.from_dict({"backends": {"b": {"type": name, "options": options}}})
    assert str(from_file.value).startswith("backends.b: ")
    _assert_refused(from_file.value, case)

    with pytest.raises(ConfigurationError) as opened:
        open_backend(name, **options)
    _assert_refused(opened.value, case)

    if case.keywords:  # the constructor applies the same check, first thing
        with pytest.raises(ConfigurationError) as built:
            _factory(name)(**options)
        _assert_refused(built.value, case)


def test_the_walk_covers_every_builtin_type() -> None:
    builtin = {"memory", "local", "channel", "s3", "gcs", "azure", "sftp", "http", "sql"}
    assert builtin | {"sql-query"} <= set(TYPES)
    covered = {param.values[0] for param in _cases()}
    assert covered == set(TYPES)


# ------------------------------------------------------------ entry points


class _PluginBackend(MemoryBackend):
    """A third-party backend published through an entry point."""

    name = "omni-plugin"
    options_schema = OptionSchema(
        "omni-plugin",
        url("endpoint", required=True, example="https://plugin.example.invalid/"),
        text("token", nullable=True, secret=True, example="omni-plugin-token"),
        text("user", nullable=True, example="omni-user"),
        integer("parallel", ge=1, le=8),
        requires={"token": ("user",)},
    )

    def __init__(
        self, *, endpoint: str, token: str | None = None, user: str | None = None, parallel: int = 2
    ) -> None:
        from omnistorage.options import arguments

        self.check_config(arguments(locals()))
        super().__init__()


def test_entry_point_types_are_walked_like_builtin_ones(
    monkeypatch: pytest.MonkeyPatch, no_network: list[object]
) -> None:
    plugin = BackendType("omni-plugin", _PluginBackend, schemes=("omni-plugin",))
    point = EntryPoint("omni-plugin", "omni_plugin:TYPE", "omnistorage.backends")
    monkeypatch.setattr(EntryPoint, "load", lambda self: plugin)
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [point])
    monkeypatch.setattr(registry_module, "_ENTRY_POINTS_LOADED", False)
    monkeypatch.setattr(registry_module, "_TYPES", dict(registry_module._TYPES))
    monkeypatch.setattr(registry_module, "_SCHEMES", dict(registry_module._SCHEMES))
    assert "omni-plugin" in backend_types()
    schema = backend_options("omni-plugin")
    assert schema is _PluginBackend.options_schema
    cases = malformed_options(schema)
    assert {c.rule for c in cases} >= {"unknown", "missing", "type", "range", "url", "requires"}
    for case in cases:
        with pytest.raises(ConfigurationError) as info:
            check_backend_options("omni-plugin", dict(case.options))
        _assert_refused(info.value, case)
    with pytest.raises(ConfigurationError, match="'endpoint' has no scheme"):
        open_store("omni-plugin://x", endpoint="plugin.example.invalid")


# ------------------------------------------------------------ the examples


S3_TOML = """
[backends.x]
type = "s3"
options = {{ bucket = "b", {options} }}

[stores.s]
backend = "x"
"""


def test_an_s3_endpoint_without_a_scheme_is_refused_when_the_file_is_read(
    no_network: list[object],
) -> None:
    with pytest.raises(ConfigurationError, match=r"backends\.x: s3 option 'endpoint_url' has no"):
        RegistryConfig.from_toml(S3_TOML.format(options='endpoint_url = "127.0.0.1:9000"'))
    with pytest.raises(ConfigurationError, match="'endpoint_url' has no scheme"):
        open_store("s3://b/p?endpoint_url=127.0.0.1:9000")
    with pytest.raises(ConfigurationError, match="'endpoint_url' has no scheme"):
        open_store("s3://b/p", endpoint_url="127.0.0.1:9000")


def test_an_s3_secret_without_its_key_id_is_refused_when_the_file_is_read(
    no_network: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNI_TEST_S3_SECRET", "s3cr3t-from-the-environment")
    toml = S3_TOML.format(
        options='endpoint_url = "http://127.0.0.1:9", secret_access_key = "${OMNI_TEST_S3_SECRET}"'
    )
    with pytest.raises(ConfigurationError) as info:
        RegistryConfig.from_toml(toml)
    assert "'secret_access_key' needs 'access_key_id'" in str(info.value)
    assert "s3cr3t-from-the-environment" not in _texts(info.value)
    with pytest.raises(ConfigurationError, match="'secret_access_key' needs 'access_key_id'"):
        open_store(
            "s3://b/p",
            endpoint_url="http://127.0.0.1:9",
            secret_access_key="s3cr3t-from-the-environment",
        )


def test_a_registry_built_by_hand_refuses_bad_s3_options_before_any_store(
    no_network: list[object],
) -> None:
    from omnistorage import BackendConfig

    config = RegistryConfig(
        backends={"x": BackendConfig("s3", {"bucket": "b", "endpoint_url": "127.0.0.1:9000"})}
    )
    with pytest.raises(ConfigurationError, match="'endpoint_url' has no scheme"):
        Registry(config)
