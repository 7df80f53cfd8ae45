"""Lazy imports of the packages behind codecs, with a ``pip install`` hint."""

from __future__ import annotations

import importlib
from types import ModuleType

from omnistorage.errors import DependencyMissing

__all__ = ["require"]


def require(module: str, *, codec: str, install: str) -> ModuleType:
    """Import ``module`` or raise :class:`DependencyMissing` naming ``install``.

    ``install`` is what to put after ``pip install`` (``"'omnistorage[isal]'"``).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DependencyMissing(
            f"the {codec!r} codec needs the {module!r} module, which is not installed: "
            f"pip install {install}"
        ) from exc
