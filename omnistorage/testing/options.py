"""Malformed options built from a backend's declared options, for the configuration test.

Every registered backend type declares its options once
(:class:`~omnistorage.options.OptionSchema`). From that declaration this module
builds one valid set of options (:func:`example_options`) and, from it, one
malformed set per rule (:func:`malformed_options`): an unknown name, each missing
required option, a value of the wrong type, an empty string, a value outside
its choices or range, an endpoint without a scheme or host, a forbidden
character, an option without the ones it needs, two options that exclude each
other. Each must be refused with a
:class:`~omnistorage.errors.ConfigurationError` that names the option, before
any connection, and without echoing a value. A new backend, or a new option,
is covered as soon as it is declared.

Third-party backends can run the same walk on their own type::

    from omnistorage.registry import backend_options
    from omnistorage.testing.options import malformed_options

    for case in malformed_options(backend_options("mine")):
        ...  # check_backend_options("mine", case.options) must raise, naming case.names
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from omnistorage.options import Option, OptionSchema

__all__ = ["Malformed", "example_options", "malformed_options", "sample_value"]

UNKNOWN_OPTION = "omni_no_such_option"


@dataclass(frozen=True)
class Malformed:
    """One malformed set of options and what its refusal must name.

    Attributes:
        rule: the rule it breaks (``"unknown"``, ``"missing"``, ``"type"``, ``"range"`` …).
        options: the options, as a configuration file would give them.
        names: the option names the error message must contain.
        keywords: ``True`` when the constructor can be called with these options as
            keywords (an unknown or missing keyword is Python's own ``TypeError`` there).
    """

    rule: str
    options: Mapping[str, object] = field(repr=False)
    names: tuple[str, ...]
    keywords: bool = True
    detail: str = ""

    @property
    def id(self) -> str:
        return "-".join(part for part in (self.rule, *self.names, self.detail) if part)


def sample_value(option: Option) -> object:
    """A valid value of ``option``: its declared example, else one made from its type."""
    if option.has_example:
        return option.example
    if option.choices:
        return option.choices[0]
    kind = option.kind
    if kind in ("integer", "number"):
        low = option.ge if option.ge is not None else (option.gt or 0) + 1
        value = max(low, option.multiple_of or low)
        return int(value) if kind == "integer" else float(value)
    simple: dict[str, object] = {
        "text": "omni-sample",
        "url": "http://127.0.0.1:1/",
        "path": "/nonexistent/omni-sample",
        "flag": True,
        "mapping": {},
        "texts": [],
    }
    return simple.get(kind, object())


def example_options(schema: OptionSchema) -> dict[str, object]:
    """The smallest valid options: every required option and one of each exactly-one group."""
    options = {o.name: sample_value(o) for o in schema.options if o.required}
    for group in schema.exactly_one:
        options[group[0]] = sample_value(schema.option(group[0]))
    return options


def malformed_options(schema: OptionSchema) -> list[Malformed]:
    """One malformed variant of :func:`example_options` per rule of ``schema``."""
    base = example_options(schema)
    cases = [Malformed("unknown", {**base, UNKNOWN_OPTION: 1}, (UNKNOWN_OPTION,), False)]
    for option in schema.options:
        if option.required:
            without = {k: v for k, v in base.items() if k != option.name}
            cases.append(Malformed("missing", without, (option.name,), False))
        for rule, detail, value in _bad_values(option):
            bad = {**base, option.name: value}
            cases.append(Malformed(rule, bad, (option.name,), detail=detail))

    def sample(name: str) -> object:
        return sample_value(schema.option(name))

    for first, second in schema.conflicts:
        both = {**base, first: sample(first), second: sample(second)}
        cases.append(Malformed("conflict", both, (first, second)))
    for group in schema.exactly_one:
        none = {k: v for k, v in base.items() if k not in group}
        cases.append(Malformed("exactly-one", none, group, detail="none"))
        every = {**base, **{n: sample(n) for n in group}}
        cases.append(Malformed("exactly-one", every, group, detail="all"))
    for name, needed in schema.requires.items():
        alone = {k: v for k, v in base.items() if k not in needed}
        alone[name] = sample(name)
        cases.append(Malformed("requires", alone, (name, needed[0])))
    for name, alternatives in schema.requires_any.items():
        alone = {k: v for k, v in base.items() if k not in alternatives}
        alone[name] = sample(name)
        cases.append(Malformed("requires-any", alone, (name, alternatives[0])))
    return cases


def _bad_values(option: Option) -> Iterator[tuple[str, str, object]]:
    kind = option.kind
    if kind == "any":
        return
    if not option.nullable:
        yield "type", "none", None
    if kind in ("text", "url", "path"):
        yield "type", "number", 12345
        if option.nonempty:
            yield "empty", "", ""
        if kind != "path":
            yield "nul", "", "omni\x00value"
    else:
        yield (
            "type",
            "list" if kind != "texts" else "string",
            (["omni-list-value"] if kind != "texts" else "omni-not-a-list"),
        )
    if kind in ("integer", "number", "flag"):
        yield "type", "string", "omni-not-a-number"
    if kind == "integer":
        yield "type", "fraction", 1.5
    if kind == "number":
        yield "range", "nan", math.nan
        yield "range", "inf", math.inf
    if option.choices:
        yield "choice", "", "omni-no-such-choice"
    for char in option.forbidden:
        yield "forbidden", f"{ord(char):02x}", f"omni{char}value"
    step = 1 if kind == "integer" else 0.5
    if option.ge is not None:
        yield "range", "below", _typed(kind, option.ge - step)
    if option.gt is not None:
        yield "range", "at-bound", _typed(kind, option.gt)
    if option.le is not None:
        yield "range", "above", _typed(kind, option.le + step)
    if option.multiple_of:
        value = _typed(kind, option.multiple_of + 1)
        if option.problem(value) is not None and option.problem(option.multiple_of) is None:
            yield "range", "not-a-multiple", value
    if kind == "url":
        yield "url", "no-scheme", "127.0.0.1:9000"
        yield "url", "no-host", f"{option.schemes[0] if option.schemes else 'http'}://"
        yield "url", "bad-port", "http://127.0.0.1:99999/"
        if option.schemes and "ftp" not in option.schemes:
            yield "url", "scheme", "ftp://127.0.0.1:9000/"


def _typed(kind: str, value: float) -> int | float:
    return int(value) if kind == "integer" else float(value)
