"""The ``omnistorage`` command line: ls, stat, size, tree, cat, put, get, cp, mv, rm, mb,
rmdir, sync, copy, move, check, cleanup, features, config show and records — over every
backend, with progress bars.

Needs the ``cli`` extra (``pip install 'omnistorage[cli]'``: Click and Rich);
``import omnistorage`` never imports this package, and importing it imports
neither until :func:`main` runs or :data:`app` is asked for, so the console
script and ``python -m omnistorage`` both answer a missing extra with the
``pip install`` to run instead of a traceback. :func:`main` is the entry point;
:data:`app` is the Click group (for embedding, or for Click's ``CliRunner`` in
tests).

Exit codes: 0 ok; 1 errors; 2 usage; 3 ``check`` found differences; 130
interrupted by Ctrl-C (the writes in flight are aborted: nothing partial is
published).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omnistorage.cli._app import app

__all__ = ["app", "main"]

MISSING_EXTRA_EXIT = 2
"""The exit code when the ``cli`` extra is missing (a usage problem, as in the table)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``omnistorage`` command (the console script and ``python -m omnistorage``).

    Without Click or Rich installed it prints the ``pip install`` to run and
    returns 2. Otherwise see :func:`omnistorage.cli._app.main`.
    """
    try:
        from omnistorage.cli._app import main as run
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in ("click", "rich"):
            raise
        print(
            f"the omnistorage command needs {missing}: pip install 'omnistorage[cli]'",
            file=sys.stderr,
        )
        return MISSING_EXTRA_EXIT
    return run(argv)


def __getattr__(name: str) -> Any:
    if name == "app":
        from omnistorage.cli._app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
