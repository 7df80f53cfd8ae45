"""``python -m omnistorage``: the command line (needs ``pip install 'omnistorage[cli]'``).

The same entry point as the ``omnistorage`` console script
(:func:`omnistorage.cli.main`), so both print the same install hint when the
``cli`` extra is missing.
"""

from __future__ import annotations

import sys

from omnistorage.cli import main

if __name__ == "__main__":
    sys.exit(main())
