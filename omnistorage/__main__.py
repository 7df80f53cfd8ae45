"""``python -m omnistorage``: the command line (needs ``pip install 'omnistorage[cli]'``)."""

from __future__ import annotations

import sys


def _run() -> int:
    try:
        from omnistorage.cli import main
    except ModuleNotFoundError as exc:
        if exc.name not in ("click", "rich"):
            raise
        print(
            f"the omnistorage command needs {exc.name}: pip install 'omnistorage[cli]'",
            file=sys.stderr,
        )
        return 2
    return main()


if __name__ == "__main__":
    sys.exit(_run())
