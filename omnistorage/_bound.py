"""Capabilities bound to the methods that do them, checked when a driver class is defined.

A driver contract (:class:`omnistorage.driver.ExtendedBackend`,
:class:`omnistorage.aio.AsyncBackend`) marks each method a capability needs with
:func:`needs`: the contract's own body of that method is a stand-in, not an
implementation. A driver class lists, in ``may_declare``, every capability its
instances' ``features()`` may declare (features may depend on configuration: an
Azure account with or without a hierarchical namespace, an HTTP server with or
without a listing). Then:

- when the class is defined, :func:`check_class` refuses (``TypeError``) a class whose
  ``may_declare`` names a capability whose method it does not implement, or only
  refuses (:func:`refusal`), naming the class, the capability and the method;
- whenever an instance's ``features()`` answers, :func:`check_declared` refuses
  (``TypeError``) one that declares a capability outside its class's ``may_declare``,
  so no instance can declare what its class was not checked for (every ``features``
  a driver class defines is wrapped by :func:`checked_features` when the class is
  defined: the check holds however the driver is reached, through a store, a layer,
  an adapter or directly);
- :func:`undeclared_methods` lists the methods a class implements for a capability it
  never declares. That is flagged by the conformance suites, not refused at import: such
  a method is dead code the Store never calls (or a capability someone forgot to
  declare, whose behaviour the suite has then never checked), and a third-party driver
  may keep it for its own callers; a failing conformance test names it to the author
  without breaking every import of the driver.

Methods that come in pairs without a capability (``list_leftovers`` reports what
``remove_leftover`` removes) are marked with :func:`implies`: a class that implements
the first must implement (or refuse) the second.

Adding a capability bound to a method is one line: ``@needs(Capability.X)`` on the
contract's stand-in for that method.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from omnistorage.capabilities import Capability, Features

__all__ = [
    "bind_capabilities",
    "check_class",
    "check_declared",
    "checked_features",
    "implies",
    "needs",
    "refusal",
    "stand_in",
    "undeclared_methods",
]

F = TypeVar("F", bound=Callable[..., Any])

_NEEDS = "_omnistorage_needs"
_STAND_IN = "_omnistorage_stand_in"
_IMPLIES = "_omnistorage_implies"
_REFUSAL = "_omnistorage_refusal"

_CHECKED = "_omnistorage_checked"
_FORBIDDEN = "_omnistorage_may_not_declare"

_IMPLEMENTED, _STAND_IN_STATE, _REFUSED, _ABSTRACT, _MISSING = range(5)


def needs(capability: Capability) -> Callable[[F], F]:
    """Mark a contract method as the one ``capability`` needs. The marked body is the
    contract's stand-in: a class that declares ``capability`` must override it."""

    def mark(method: F) -> F:
        setattr(method, _NEEDS, capability)
        setattr(method, _STAND_IN, True)
        return method

    return mark


def stand_in(method: F) -> F:
    """Mark a contract method's body as a stand-in that drivers override (no capability
    of its own: see :func:`implies`)."""
    setattr(method, _STAND_IN, True)
    return method


def implies(*methods: str) -> Callable[[F], F]:
    """Mark a contract method whose implementation needs ``methods`` implemented (or
    refused) too. The marked body is the contract's default."""

    def mark(method: F) -> F:
        setattr(method, _IMPLIES, methods)
        setattr(method, _STAND_IN, True)
        return method

    return mark


def refusal(method: F) -> F:
    """Mark a driver method that refuses its operation (a read-only driver's writes): it
    does not implement the capability, so a class whose method only refuses cannot
    declare it."""
    setattr(method, _REFUSAL, True)
    return method


def capability_methods(cls: type) -> dict[Capability, tuple[str, ...]]:
    """The methods each capability needs under ``cls``'s contract, from the contract's
    :func:`needs` marks."""
    found: dict[Capability, list[str]] = {}
    for base in reversed(cls.__mro__):
        for name, value in vars(base).items():
            capability = getattr(value, _NEEDS, None)
            if isinstance(capability, Capability):
                names = found.setdefault(capability, [])
                if name not in names:
                    names.append(name)
    return {capability: tuple(names) for capability, names in found.items()}


def _pairs(cls: type) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for base in reversed(cls.__mro__):
        for name, value in vars(base).items():
            methods = getattr(value, _IMPLIES, None)
            if isinstance(methods, tuple):
                found[name] = methods
    return found


def _state(cls: type, name: str) -> int:
    value = inspect.getattr_static(cls, name, None)
    if value is None:
        return _MISSING
    if getattr(value, _REFUSAL, False):
        return _REFUSED
    if getattr(value, "__isabstractmethod__", False):
        return _ABSTRACT
    if getattr(value, _STAND_IN, False):
        return _STAND_IN_STATE
    return _IMPLEMENTED


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def check_class(cls: type, declared: Iterable[Capability]) -> None:
    """Refuse a driver class that may declare a capability without implementing every
    method the capability needs, or that implements a method without one it implies.

    A method still abstract is left to the concrete subclass (checked when it is
    defined; ``abc`` refuses to build it until then).

    Raises:
        TypeError: naming the class, the capability and the missing method.
    """
    methods = capability_methods(cls)
    for capability in sorted(declared):
        for method in methods.get(capability, ()):
            state = _state(cls, method)
            if state in (_IMPLEMENTED, _ABSTRACT):
                continue
            how = "only refuses" if state == _REFUSED else "does not implement"
            raise TypeError(
                f"{_name(cls)} may declare Capability.{capability.name} but {how} "
                f"{method}(), which that capability needs: implement {method}() or leave "
                f"Capability.{capability.name} out of {cls.__qualname__}.may_declare"
            )
    for method, needed in _pairs(cls).items():
        if _state(cls, method) != _IMPLEMENTED:
            continue
        for other in needed:
            if _state(cls, other) in (_STAND_IN_STATE, _MISSING):
                raise TypeError(
                    f"{_name(cls)} implements {method}() but not {other}(), which goes "
                    f"with it: implement (or refuse) {other}()"
                )


def undeclared_methods(cls: type, declared: Iterable[Capability]) -> list[str]:
    """What ``cls`` implements for a capability outside ``declared`` (its
    ``may_declare``), one line each: methods the Store never calls. The conformance
    suites fail on them (see the module docstring for why import does not)."""
    allowed = frozenset(declared)
    found: list[str] = []
    for capability, names in sorted(capability_methods(cls).items()):
        if capability in allowed:
            continue
        for method in names:
            if _state(cls, method) == _IMPLEMENTED:
                found.append(
                    f"{_name(cls)} implements {method}() but may not declare "
                    f"Capability.{capability.name}"
                )
    return found


def check_declared(cls: type, features: Features) -> None:
    """Refuse ``features`` that declare a capability ``cls.may_declare`` does not list
    (the class was checked for those only).

    Raises:
        TypeError: naming the class and the capabilities.
    """
    allowed: frozenset[Capability] = getattr(cls, "may_declare", frozenset())
    if features.capabilities <= allowed:
        return
    extra = ", ".join(f"Capability.{c.name}" for c in sorted(features.capabilities - allowed))
    raise TypeError(
        f"{_name(cls)}.features() declares {extra}, which {cls.__qualname__}.may_declare "
        "does not list: add it there (the class is then checked for its methods)"
    )


def checked_features(features: Callable[[Any], Features], owner: type) -> Callable[[Any], Features]:
    """Wrap the ``features`` method that ``owner`` defines (or inherits unwrapped) so each
    answer is checked (:func:`check_declared`): the outermost call, the driver's own
    answer, against the driver's class; one made through ``super()`` (a layer asking its
    base before it removes capabilities) against ``owner``."""

    @functools.wraps(features)
    def checked(self: Any) -> Features:
        answer = features(self)
        cls = type(self)
        limit = cls if cls.features is checked else owner
        # The fast path: the few capabilities the class may not declare, against the set.
        if not answer.capabilities.isdisjoint(getattr(limit, _FORBIDDEN)):
            check_declared(limit, answer)
        return answer

    setattr(checked, _CHECKED, True)
    return checked


def bind_capabilities(cls: type) -> None:
    """What a contract's ``__init_subclass__`` does (and the contract's root, once):
    check ``cls`` (:func:`check_class`) and wrap the ``features`` it defines
    (:func:`checked_features`)."""
    declared = frozenset(getattr(cls, "may_declare", frozenset()))
    check_class(cls, declared)
    setattr(cls, _FORBIDDEN, frozenset(Capability) - declared)
    features = vars(cls).get("features")  # its own only: an inherited one is wrapped
    if inspect.isfunction(features) and not getattr(features, _CHECKED, False):
        setattr(cls, "features", checked_features(features, cls))  # noqa: B010 - a method
