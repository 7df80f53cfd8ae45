"""Backend options, declared once: names, types, ranges, URL schemes and the rules
between options, checked without I/O.

A backend class declares its constructor's keyword options as an
:class:`OptionSchema` in ``options_schema``. The same schema is checked

- by configuration validation (:meth:`omnistorage.RegistryConfig.from_toml`,
  :func:`omnistorage.registry.check_backend_options`), through
  :meth:`omnistorage.driver.Backend.check_config`, before anything is built;
- by :func:`omnistorage.open_backend` and :func:`omnistorage.open_store`;
- by the constructor itself, first thing: ``self.check_config(arguments(locals()))``,

so the file check and the constructor cannot drift apart, and a malformed
option is refused before any connection is attempted. A test walks every
registered backend type (entry points included) with malformed options built
from its schema (:func:`omnistorage.testing.options.malformed_options`).

Messages name the option and never echo its value: a value may be a credential,
or come from an ``${ENV}`` placeholder.

>>> schema = OptionSchema(
...     "demo",
...     text("bucket", required=True),
...     url("endpoint_url", nullable=True),
...     integer("page_size", ge=1, le=1000),
... )
>>> schema.check({"bucket": "b", "endpoint_url": "127.0.0.1:9000"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
omnistorage.errors.ConfigurationError: demo option 'endpoint_url' has no scheme (...)
>>> schema.check({"bucket": "b", "page_size": 0})
Traceback (most recent call last):
...
omnistorage.errors.ConfigurationError: demo option 'page_size' must be at least 1 and at most 1000
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from omnistorage.errors import ConfigurationError

__all__ = [
    "Option",
    "OptionSchema",
    "anything",
    "arguments",
    "excluding",
    "flag",
    "integer",
    "mapping",
    "number",
    "path",
    "text",
    "texts",
    "url",
]

Kind = Literal["text", "integer", "number", "flag", "url", "path", "mapping", "texts", "any"]

_DESCRIBE: dict[str, str] = {
    "text": "a string",
    "integer": "a whole number",
    "number": "a number",
    "flag": "true or false",
    "url": "a URL string",
    "path": "a file or folder path",
    "mapping": "a table (mapping)",
    "texts": "a list of strings",
    "any": "anything",
}

_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class Option:
    """One keyword option of a backend constructor. Build it with :func:`text`,
    :func:`integer`, :func:`number`, :func:`flag`, :func:`url`, :func:`path`,
    :func:`mapping`, :func:`texts` or :func:`anything`.

    Attributes:
        name: the keyword.
        kind: what values it takes (``"any"``: a Python object, not checked).
        required: the constructor has no default for it.
        nullable: ``None`` is allowed (it means "not given").
        secret: the value is a credential (documented; never echoed anyway).
        nonempty: a string must not be empty.
        choices: the only values allowed, when not empty.
        ge, gt, le: inclusive lower, exclusive lower and inclusive upper bounds.
        multiple_of: a number the value must be a multiple of.
        schemes: the URL schemes allowed (``url`` options).
        forbidden: characters a string may not contain.
        unit: ``"bytes"`` shows bounds as KiB/MiB/GiB in messages.
        example: a valid value (to build test cases from; see ``omnistorage.testing``).
    """

    name: str
    kind: Kind
    required: bool = False
    nullable: bool = False
    secret: bool = False
    nonempty: bool = True
    choices: tuple[object, ...] = ()
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    multiple_of: int | None = None
    schemes: tuple[str, ...] = ()
    forbidden: str = ""
    unit: str = ""
    example: Any = _UNSET

    @property
    def has_example(self) -> bool:
        return self.example is not _UNSET

    def accepts_type(self, value: object) -> bool:
        """True when ``value`` has a type this option takes (bounds not considered)."""
        if value is None:
            return self.nullable
        kind = self.kind
        if kind in ("text", "url"):
            return isinstance(value, str)
        if kind == "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        if kind == "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        if kind == "flag":
            return isinstance(value, bool)
        if kind == "path":
            return isinstance(value, str | os.PathLike)
        if kind == "mapping":
            return isinstance(value, Mapping)
        if kind == "texts":
            return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        return True

    def problem(self, value: object) -> str | None:
        """What is wrong with ``value`` for this option (``None``: nothing). Never the value."""
        if value is None:
            return None if self.nullable else f"must be {_DESCRIBE[self.kind]}, not None"
        if not self.accepts_type(value):
            return f"must be {_DESCRIBE[self.kind]}, not {type(value).__name__}"
        if self.choices and value not in self.choices:
            return "must be one of " + ", ".join(repr(c) for c in self.choices)
        if isinstance(value, str):
            return self._string_problem(value)
        if isinstance(value, os.PathLike):
            return None if os.fspath(value) else "must not be empty"
        if isinstance(value, int | float) and not isinstance(value, bool):
            return self._number_problem(value)
        return None

    def _string_problem(self, value: str) -> str | None:
        if self.nonempty and not value:
            return "must not be empty"
        if "\x00" in value:
            return "must not contain a NUL character"
        for char in self.forbidden:
            if char in value:
                return f"must not contain {char!r}"
        if self.kind == "url":
            return _url_problem(value, self.schemes)
        return None

    def _number_problem(self, value: float) -> str | None:
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        too_low = (self.ge is not None and value < self.ge) or (
            self.gt is not None and value <= self.gt
        )
        too_high = self.le is not None and value > self.le
        if too_low or too_high:
            low = (
                f"at least {self._show(self.ge)}"
                if self.ge is not None
                else f"more than {self._show(self.gt)}"
                if self.gt is not None
                else None
            )
            high = f"at most {self._show(self.le)}" if self.le is not None else None
            return "must be " + " and ".join(part for part in (low, high) if part)
        if self.multiple_of and value % self.multiple_of:
            return f"must be a multiple of {self._show(self.multiple_of)}"
        return None

    def _show(self, bound: float) -> str:
        if self.unit == "bytes" and bound >= 1024 and bound == int(bound):
            size = int(bound)
            for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
                if size % scale == 0:
                    return f"{size // scale} {unit}"
            return f"{size} bytes"
        shown = f"{bound:g}" if isinstance(bound, float) else str(bound)
        return f"{shown} {self.unit}".rstrip() if self.unit and self.unit != "bytes" else shown

    def coerce(self, value: object) -> object:
        """A string given for a number or flag option (a URL query value), converted.

        Anything else is returned unchanged (and checked by :meth:`problem`).
        """
        if not isinstance(value, str) or self.kind not in ("integer", "number", "flag"):
            return value
        text_value = value.strip()
        if self.kind == "flag":
            lowered = text_value.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            return value
        try:
            return int(text_value) if self.kind == "integer" else float(text_value)
        except ValueError:
            return value


def _url_problem(value: str, schemes: tuple[str, ...]) -> str | None:
    wanted = " or ".join(f"{s}://" for s in schemes) if schemes else "a scheme such as https://"
    if not value.isprintable():  # a space is fine: a path may hold one (it is quoted)
        return "must not contain control characters"
    if "://" not in value:
        return f"has no scheme (it must start with {wanted})"
    try:
        split = urlsplit(value)
        port = split.port
    except ValueError:
        return "is not a valid URL (check its host and port)"
    if schemes and split.scheme.lower() not in schemes:
        return f"must start with {wanted}"
    if not split.hostname:
        return "names no host"
    if port == 0:
        return "has a port outside 1-65535"
    return None


class OptionSchema:
    """Every option a backend type takes, and the rules between them.

    Args:
        backend: the backend type name, used in messages.
        options: the options, in the constructor's order.
        requires: option → options that must all be given with it (``None`` is not given).
        requires_any: option → options of which at least one must be given with it.
        conflicts: pairs of options that may not be given together.
        exactly_one: groups of options of which exactly one must be given.
        check: further rules that need code (called after the rules above,
            with the options as given); it raises :class:`ConfigurationError`
            naming the option, does no I/O and never echoes a value.
    """

    __slots__ = (
        "backend",
        "check_more",
        "conflicts",
        "exactly_one",
        "options",
        "requires",
        "requires_any",
    )

    def __init__(
        self,
        backend: str,
        *options: Option,
        requires: Mapping[str, tuple[str, ...]] | None = None,
        requires_any: Mapping[str, tuple[str, ...]] | None = None,
        conflicts: Iterable[tuple[str, str]] = (),
        exactly_one: Iterable[tuple[str, ...]] = (),
        check: Callable[[Mapping[str, object]], None] | None = None,
    ) -> None:
        self.backend = backend
        self.options = tuple(options)
        self.requires = dict(requires or {})
        self.requires_any = dict(requires_any or {})
        self.conflicts = tuple(conflicts)
        self.exactly_one = tuple(tuple(g) for g in exactly_one)
        self.check_more = check
        names = [o.name for o in self.options]
        if len(set(names)) != len(names):
            raise ValueError(f"{backend}: an option is declared twice")
        mentioned = [
            *self.requires,
            *(n for group in self.requires.values() for n in group),
            *self.requires_any,
            *(n for group in self.requires_any.values() for n in group),
            *(n for pair in self.conflicts for n in pair),
            *(n for group in self.exactly_one for n in group),
        ]
        undeclared = sorted(set(mentioned) - set(names))
        if undeclared:
            raise ValueError(f"{backend}: rules name undeclared options {undeclared}")

    def __repr__(self) -> str:
        return f"OptionSchema({self.backend!r}, {', '.join(self.names)})"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.options)

    def option(self, name: str) -> Option:
        for candidate in self.options:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def coerce(self, options: Mapping[str, object]) -> dict[str, object]:
        """``options`` with strings converted where an option takes a number or a flag."""
        by_name = {o.name: o for o in self.options}
        return {
            key: by_name[key].coerce(value) if key in by_name else value
            for key, value in options.items()
        }

    def check(self, options: Mapping[str, object]) -> None:
        """Raise :class:`ConfigurationError` for the first thing wrong with ``options``:
        an unknown name, a missing required option, a value of the wrong type or out of
        range, a URL without a scheme or host, two options that exclude each other, a
        group of which not exactly one is given, an option given without the ones it
        needs, then :attr:`check_more`. No I/O."""
        by_name = {o.name: o for o in self.options}
        for key in options:
            if key not in by_name:
                known = ", ".join(self.names)
                raise ConfigurationError(
                    f"unknown option {key!r} for the {self.backend} backend (known: {known})"
                )
        for option in self.options:
            if option.required and options.get(option.name) is None:
                raise ConfigurationError(f"the {self.backend} backend needs option {option.name!r}")
        for key, value in options.items():
            problem = by_name[key].problem(value)
            if problem is not None:
                raise ConfigurationError(f"{self.backend} option {key!r} {problem}")

        def given(name: str) -> bool:
            return options.get(name) is not None

        for first, second in self.conflicts:
            if given(first) and given(second):
                raise ConfigurationError(
                    f"{self.backend} option {first!r} excludes {second!r} (give one, not both)"
                )
        for group in self.exactly_one:
            count = sum(given(n) for n in group)
            if count != 1:
                names = " or ".join(repr(n) for n in group)
                raise ConfigurationError(
                    f"the {self.backend} backend needs exactly one of {names}"
                    + (f" (got {count})" if count else "")
                )
        for name, needed in self.requires.items():
            if given(name):
                missing = [n for n in needed if not given(n)]
                if missing:
                    raise ConfigurationError(
                        f"{self.backend} option {name!r} needs "
                        + " and ".join(repr(n) for n in missing)
                    )
        for name, alternatives in self.requires_any.items():
            if given(name) and not any(given(n) for n in alternatives):
                raise ConfigurationError(
                    f"{self.backend} option {name!r} needs "
                    + " or ".join(repr(n) for n in alternatives)
                )
        if self.check_more is not None:
            self.check_more(options)


def excluding(first: str, *others: str) -> tuple[tuple[str, str], ...]:
    """Conflict pairs: ``first`` excludes each of ``others``."""
    return tuple((first, other) for other in others)


def arguments(frame_locals: Mapping[str, object]) -> dict[str, object]:
    """A constructor's arguments from its ``locals()`` taken first thing in ``__init__``
    (``self`` and ``__class__`` dropped), for ``self.check_config(arguments(locals()))``."""
    return {k: v for k, v in frame_locals.items() if k != "self" and not k.startswith("__")}


# ------------------------------------------------------------ option builders


def text(name: str, **spec: Any) -> Option:
    """A string option (not empty unless ``nonempty=False``)."""
    return Option(name, "text", **spec)


def integer(name: str, **spec: Any) -> Option:
    """A whole-number option (``True``/``False`` are not numbers)."""
    return Option(name, "integer", **spec)


def number(name: str, **spec: Any) -> Option:
    """A finite number option (seconds, ratios)."""
    return Option(name, "number", **spec)


def flag(name: str, **spec: Any) -> Option:
    """A ``True``/``False`` option."""
    return Option(name, "flag", **spec)


def url(name: str, *, schemes: tuple[str, ...] = ("http", "https"), **spec: Any) -> Option:
    """A URL option with one of ``schemes`` and a host (an endpoint)."""
    return Option(name, "url", schemes=schemes, **spec)


def path(name: str, **spec: Any) -> Option:
    """A file or folder path (``str`` or ``os.PathLike``)."""
    return Option(name, "path", **spec)


def mapping(name: str, **spec: Any) -> Option:
    """A table (``Mapping``) option."""
    return Option(name, "mapping", **spec)


def texts(name: str, **spec: Any) -> Option:
    """A list of strings."""
    return Option(name, "texts", **spec)


def anything(name: str, **spec: Any) -> Option:
    """A Python object (a client, an engine, credentials): passed through, not checked."""
    return Option(name, "any", nullable=True, **spec)
