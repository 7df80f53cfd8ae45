"""Conformance tests of the driver itself: capabilities bound to their methods
(:mod:`omnistorage._bound`)."""

from __future__ import annotations

from omnistorage._bound import check_class, undeclared_methods
from omnistorage.driver import as_extended
from omnistorage.store import Store

__all__ = ["DriverClassTests"]


class DriverClassTests:
    """Mixed into both suites; they provide the ``store`` fixture."""

    def test_every_method_has_its_capability(self, store: Store) -> None:
        # The class was checked when it was defined: nothing it may declare lacks its
        # method. The converse is flagged here: a method the Store never calls, because
        # the class never declares its capability (dead code, or a capability the suite
        # has never checked because nobody declared it).
        driver = as_extended(store.unwrap())
        if driver is None:
            return  # the basic interface: every method is the basics'
        cls = type(driver)
        check_class(cls, cls.may_declare)
        flagged = undeclared_methods(cls, cls.may_declare)
        assert not flagged, "; ".join(flagged)
        assert store.features.capabilities <= cls.may_declare
