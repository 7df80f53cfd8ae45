"""The ``omnistorage`` command line: ls, stat, cat, put, get, cp, mv, rm, sync, copy, move,
check, cleanup, features, config show and records — over every backend, with progress bars.

Needs the ``cli`` extra (``pip install 'omnistorage[cli]'``: Click and Rich);
``import omnistorage`` never imports this package. Run it as ``omnistorage …`` or
``python -m omnistorage …``. :func:`main` is the entry point; :data:`app` is the
Click group (for embedding, or for Click's ``CliRunner`` in tests).

Exit codes: 0 ok; 1 differences or errors; 2 usage; 130 interrupted by Ctrl-C
(the writes in flight are aborted: nothing partial is published).
"""

from omnistorage.cli._app import app, main

__all__ = ["app", "main"]
