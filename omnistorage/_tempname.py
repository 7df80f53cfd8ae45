"""Names of the temporary files that file-system drivers publish from.

Local and SFTP writes stream into a hidden temp file next to the target and
publish it with one rename or link. The name:

- starts with :data:`TEMP_MARK` (``.omnistorage-tmp-``), a segment prefix the
  key grammar reserves (:mod:`omnistorage.paths` rejects it), so no valid key
  can collide with a temp file and listings can skip temp files by name;
- carries 16 random hex digits for every attempt, from a generator of this
  module that is seeded from ``os.urandom`` at import and re-seeded in every
  child after ``fork`` (``os.register_at_fork``), so sibling processes never
  draw the same sequence, and no user ``random.seed`` call reaches it;
- ends with as much of the target's name as fits in ``NAME_MAX`` *bytes*
  (255 by default), cut on a character boundary, for humans reading a folder.
"""

from __future__ import annotations

import os
import random

__all__ = ["NAME_MAX", "TEMP_MARK", "is_temp_name", "temp_name"]

TEMP_MARK = ".omnistorage-tmp-"
NAME_MAX = 255

_rng = random.Random()  # seeded from os.urandom
os.register_at_fork(after_in_child=_rng.seed)


def temp_name(final_name: str, *, name_max: int = NAME_MAX) -> str:
    """A fresh temp file name for a write to ``final_name`` (one folder segment).

    Unique per call, even across ``fork``; at most ``name_max`` bytes of UTF-8.
    """
    head = f"{TEMP_MARK}{_rng.getrandbits(64):016x}-"
    room = name_max - len(head)
    encoded = final_name.encode("utf-8", "surrogatepass")
    if len(encoded) > room:
        encoded = encoded[:room]
        # Cut on a character boundary: drop a partial UTF-8 sequence at the end.
        tail = encoded.decode("utf-8", "ignore")
        return head + tail
    return head + final_name


def is_temp_name(name: str) -> bool:
    """True when the folder entry ``name`` is one of our temp files."""
    return name.startswith(TEMP_MARK)
