"""Keys to queries: explicit mappings, key patterns, and what a key resolves to.

No I/O here. A mapping's key is either an exact key (``reports/daily.parquet``)
or a **pattern** whose placeholders capture key segments
(``sales/{year:int}/{region}.parquet``). Captured values are only ever passed
to the query as **bound parameters** (``WHERE year = :year``), never spliced
into SQL text, so a key cannot change what the SQL says.

Placeholders: ``{name}`` matches one non-empty segment part without ``/``
(bound as a ``str``); ``{name:int}`` matches a canonical integer (``0``,
``-7``, ``2024``; no leading zeros, so one key per value) bound as an ``int``.
The format comes from the key's literal extension (``.parquet``, ``.csv`` …),
which a placeholder may not cover. ``{{`` and ``}}`` stand for literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.sql import Executable

from omnistorage import paths
from omnistorage.errors import ConfigurationError, InvalidPath

__all__ = ["KeyPattern", "QueryMapping", "QuerySpec", "Resolved", "parse_mapping"]

_TOKEN = re.compile(r"\{\{|\}\}|\{[^{}]*\}|[{}]|[^{}]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONVERTERS: dict[str, tuple[str, type]] = {
    "str": (r"[^/]+", str),
    "int": (r"0|-?[1-9][0-9]*", int),
}
_SPEC_FIELDS = ("sql", "keys", "types", "modified")


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """What one mapped key (or key pattern) materializes.

    Attributes:
        sql: the query: SQL text (``:name`` marks a bound parameter; write ``\\:`` for
            a literal colon) or a SQLAlchemy ``select()`` / ``text()`` construct, whose
            declared column types then fix the Arrow types.
        keys: for a pattern, a query whose rows give the placeholder values of the keys
            that exist (``SELECT DISTINCT year FROM sales``): they are listed, and only
            they exist. Without it a pattern is not listed and every matching key exists.
        types: Arrow types by result column name, overriding the mapping of SQL types
            (``{"amount": "decimal128(18, 2)", "tags": "list<string>"}``).
        modified: the modification time ``stat`` reports (``None``: unknown).
    """

    sql: str | Executable
    keys: str | Executable | None = None
    types: Mapping[str, Any] = field(default_factory=dict)
    modified: datetime | None = None


@dataclass(frozen=True, slots=True)
class KeyPattern:
    """A mapping key with placeholders, compiled."""

    text: str
    regex: re.Pattern[str]
    names: tuple[str, ...]
    converters: Mapping[str, type]

    def match(self, key: str) -> dict[str, Any] | None:
        found = self.regex.fullmatch(key)
        if found is None:
            return None
        return {name: self.converters[name](found.group(name)) for name in self.names}

    def render(self, values: Mapping[str, Any]) -> str:
        """The pattern with ``values`` written in as they are (what a row names, checked
        or not: for messages and skipped-entry reports)."""
        out = []
        for is_placeholder, part in _tokens(self.text):
            out.append(str(values[part.partition(":")[0]]) if is_placeholder else part)
        return "".join(out)

    def format(self, values: Mapping[str, Any]) -> str | None:
        """The key for ``values``, or ``None`` when they do not round-trip through the
        pattern (a value with ``/``, an empty string, a non-canonical integer)."""
        if any(isinstance(values[name], bool) for name in self.names):
            return None
        key = self.render(values)
        matched = self.match(key)
        if matched is None or any(matched[n] != values[n] for n in self.names):
            return None
        return key


@dataclass(frozen=True, slots=True)
class QueryMapping:
    """One mapping entry: the exact key or the pattern, its spec, its format extension."""

    key: str
    """The mapping key as written (placeholders and ``{{ }}`` escapes included)."""
    spec: QuerySpec
    extension: str
    pattern: KeyPattern | None
    params: frozenset[str]
    exact: str | None
    """For a key without placeholders, the key it maps (escapes resolved)."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a key resolves to: where it came from, the statement, its bound parameters."""

    key: str
    source: str
    """``explicit``, ``pattern``, ``view`` or ``table``."""
    statement: Executable
    params: Mapping[str, Any]
    extension: str
    spec: QuerySpec
    mapping: str
    """The mapping key or pattern, or the qualified view/table name."""

    @property
    def sql(self) -> str:
        return str(self.statement)


def extension_of(key: str) -> str:
    """The format extension of ``key``'s last segment (``"parquet"``), or ``""``."""
    name = key.rsplit("/", 1)[-1]
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def parse_mapping(queries: Mapping[str, Any], formats: frozenset[str]) -> tuple[QueryMapping, ...]:
    """Check and compile ``queries`` (mapping key → SQL text, dict or :class:`QuerySpec`).

    Raises :class:`ConfigurationError` naming the entry: a key outside the key grammar,
    an unknown format extension, a bad placeholder, a spec with unknown fields, or SQL
    whose ``:parameters`` differ from the pattern's placeholders.
    """
    if not isinstance(queries, Mapping):
        raise ConfigurationError("queries must be a mapping of key -> query")
    out = []
    for key, value in queries.items():
        if not isinstance(key, str):
            raise ConfigurationError(f"query mapping keys must be strings, got {key!r}")
        spec = _spec(key, value)
        tokens = _tokens(key)
        literal = "".join("x" if is_placeholder else part for is_placeholder, part in tokens)
        pattern = _pattern(key, tokens) if any(p for p, _ in tokens) else None
        exact = None if pattern is not None else literal
        if exact is not None:
            try:
                paths.validate_key(exact)
            except InvalidPath as error:
                raise ConfigurationError(f"query mapping key {key!r}: {error}") from None
        extension = extension_of(literal)
        last = tokens[-1] if tokens else (False, "")
        if last[0] or "." not in last[1] or extension not in formats:
            raise ConfigurationError(
                f"query mapping key {key!r} must end with a literal format extension "
                f"(one of: {', '.join('.' + f for f in sorted(formats))})"
            )
        params = _parameters(spec.sql)
        names = frozenset(pattern.names) if pattern else frozenset()
        if params != names:
            raise ConfigurationError(
                f"query mapping {key!r}: the SQL's parameters "
                f"{sorted(params) or 'none'} must be the key's placeholders "
                f"{sorted(names) or 'none'} (a literal ':' in SQL text is written '\\:')"
            )
        if spec.keys is not None:
            if pattern is None:
                raise ConfigurationError(
                    f"query mapping {key!r}: 'keys' lists the keys of a pattern; "
                    "this key has no placeholders"
                )
            if _parameters(spec.keys):
                raise ConfigurationError(
                    f"query mapping {key!r}: the 'keys' query takes no parameters"
                )
        out.append(QueryMapping(key, spec, extension, pattern, params, exact))
    return tuple(out)


def _spec(key: str, value: Any) -> QuerySpec:
    if isinstance(value, QuerySpec):
        spec = value
    elif isinstance(value, str | Executable):
        spec = QuerySpec(sql=value)
    elif isinstance(value, Mapping):
        unknown = sorted(set(value) - set(_SPEC_FIELDS))
        if unknown:
            raise ConfigurationError(
                f"query mapping {key!r}: unknown field(s) {', '.join(map(repr, unknown))} "
                f"(known: {', '.join(_SPEC_FIELDS)})"
            )
        if "sql" not in value:
            raise ConfigurationError(f"query mapping {key!r} needs 'sql'")
        spec = QuerySpec(
            sql=value["sql"],
            keys=value.get("keys"),
            types=value.get("types") or {},
            modified=_when(key, value.get("modified")),
        )
    else:
        raise ConfigurationError(
            f"query mapping {key!r}: expected SQL text, a table with 'sql', or a QuerySpec"
        )
    for what, sql in (("sql", spec.sql), ("keys", spec.keys)):
        if sql is None and what == "keys":
            continue
        if not isinstance(sql, str | Executable) or (isinstance(sql, str) and not sql.strip()):
            raise ConfigurationError(f"query mapping {key!r}: '{what}' must be SQL text")
    if not isinstance(spec.types, Mapping) or not all(isinstance(k, str) for k in spec.types):
        raise ConfigurationError(f"query mapping {key!r}: 'types' maps column names to types")
    return spec


def _when(key: str, value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ConfigurationError(
                f"query mapping {key!r}: 'modified' must be an ISO 8601 date and time"
            ) from None
    if not isinstance(value, datetime):
        raise ConfigurationError(f"query mapping {key!r}: 'modified' must be a datetime")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _tokens(key: str) -> list[tuple[bool, str]]:
    """``key`` as (is a placeholder, text) pieces: literal text with ``{{``/``}}`` resolved,
    and placeholder bodies (``year:int``)."""
    out: list[tuple[bool, str]] = []
    for token in _TOKEN.findall(key):
        if token in ("{{", "}}"):
            token = token[0]
        elif token in ("{", "}"):
            raise ConfigurationError(
                f"query mapping key {key!r}: unbalanced brace (write {{{{ and }}}} for "
                "literal braces)"
            )
        elif token.startswith("{"):
            out.append((True, token[1:-1]))
            continue
        if out and not out[-1][0]:
            out[-1] = (False, out[-1][1] + token)
        else:
            out.append((False, token))
    return out


def _pattern(key: str, tokens: list[tuple[bool, str]]) -> KeyPattern:
    regex = []
    names: list[str] = []
    converters: dict[str, type] = {}
    for is_placeholder, part in tokens:
        if not is_placeholder:
            regex.append(re.escape(part))
            continue
        name, _, kind = part.partition(":")
        kind = kind or "str"
        if not _NAME.fullmatch(name) or kind not in _CONVERTERS:
            raise ConfigurationError(
                f"query mapping pattern {key!r}: bad placeholder {{{part}}} "
                "(use {name} or {name:int})"
            )
        if name in converters:
            raise ConfigurationError(f"query mapping pattern {key!r}: {{{name}}} appears twice")
        piece, convert = _CONVERTERS[kind]
        regex.append(f"(?P<{name}>{piece})")
        names.append(name)
        converters[name] = convert
    try:
        paths.validate_key("".join("x" if p else part for p, part in tokens))
    except InvalidPath as error:
        raise ConfigurationError(f"query mapping pattern {key!r}: {error}") from None
    return KeyPattern(key, re.compile("".join(regex)), tuple(names), converters)


def _parameters(sql: str | Executable) -> frozenset[str]:
    """The parameters ``sql`` needs a value for (literal values bound in a construct
    already have theirs)."""
    clause = text(sql) if isinstance(sql, str) else sql
    if isinstance(clause, TextClause):
        binds = list(clause._bindparams.values())
    else:
        binds = list(clause.compile().binds.values())  # type: ignore[attr-defined]
    return frozenset(bind.key for bind in binds if bind.required)


def statement(sql: str | Executable) -> Executable:
    """``sql`` as an executable statement (SQL text becomes ``text()``)."""
    return text(sql) if isinstance(sql, str) else sql
