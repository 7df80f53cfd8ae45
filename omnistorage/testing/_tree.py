"""The read-only suite's data: the default fixture tree, and what a tree implies.

:data:`READONLY_FIXTURE` is the tree a populated store holds by default; the
functions derive, from any such tree, the folders, listings, glob matches and
edge ranges the suite expects (independently of the Store's own code).
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Mapping
from types import MappingProxyType

from omnistorage import paths
from omnistorage.capabilities import MUTATING_CAPABILITIES, Capability

__all__ = [
    "READONLY_FIXTURE",
    "WRITE_CAPABILITIES",
    "below",
    "directly_in",
    "edge_ranges",
    "folders_of",
    "glob_match",
]


def _large(size: int) -> bytes:
    return random.Random(20240612).randbytes(size)


READONLY_FIXTURE: Mapping[str, bytes] = MappingProxyType(
    {
        "top.txt": b"top level\n",
        "empty.bin": b"",
        "data/a.csv": b"id,name\n1,alpha\n2,beta\n",
        "data/b.json": b'{"b": [1, 2, 3]}\n',
        "data/sub/c.csv": b"id\n3\n",
        "data/sub/deeper/d.bin": bytes(range(256)) * 4 + b"\r\n\x00\xff",
        "database.txt": b"a sibling whose name starts like the folder data\n",
        "data2/e.txt": b"another folder whose name starts like data\n",
        "large/blob.bin": _large(3 * 1024 * 1024 + 17),
        "special/with space.txt": b"space",
        "special/caf\u00e9/na\u00efve \u00fcml\u00e4ut.txt": b"unicode folder and name",
        "special/emoji-\U0001f600.bin": b"emoji",
        "special/%2e%2e": b"a literal name that looks percent-encoded",
        "special/%41%2F": b"percent signs stay literal",
        "special/a+b=c&d;e,f.txt": b"query syntax",
        "special/q?x=1#frag": b"question mark and hash",
        "special/[brackets] (parens) {braces}": b"brackets",
        "special/-dash~tilde'quote\"": b"quotes",
    }
)
"""The default tree of a populated store: key → exact bytes.

Nested folders (``data/sub/deeper``), an empty file, a file of 3 MiB + 17
bytes, names outside ASCII and names full of URL syntax (``%2e%2e`` is a
literal name, never ``..``), and names that are prefixes of others
(``data/`` beside ``database.txt`` and ``data2/``). No name starts with a dot:
web servers' directory indexes hide such names.
"""

WRITE_CAPABILITIES = MUTATING_CAPABILITIES | {Capability.STREAMING}
"""Capabilities that change data (or need a writer): a read-only backend declares none."""


def folders_of(files: Mapping[str, bytes]) -> set[str]:
    found: set[str] = set()
    for key in files:
        folder = paths.parent(key)
        while folder:
            found.add(folder)
            folder = paths.parent(folder)
    return found


def below(files: Mapping[str, bytes], folder: str) -> set[str]:
    return {key for key in files if not folder or paths.is_within(key, folder)}


def directly_in(keys: set[str] | Mapping[str, bytes], folder: str) -> set[str]:
    return {key for key in keys if paths.parent(key) == folder}


def glob_match(pattern: list[str], segments: list[str]) -> bool:
    """An independent matcher for the glob grammar (``**`` spans segments)."""
    if not pattern:
        return not segments
    if pattern == ["**"]:  # a trailing ``**`` matches everything below (one segment or more)
        return bool(segments)
    if pattern[0] == "**":
        return any(glob_match(pattern[1:], segments[i:]) for i in range(len(segments) + 1))
    return bool(segments) and (
        fnmatch.fnmatchcase(segments[0], pattern[0]) and glob_match(pattern[1:], segments[1:])
    )


def edge_ranges(size: int) -> list[tuple[int, int]]:
    """(offset, length) pairs that probe a file of ``size`` bytes at its edges."""
    picks = {(0, size), (0, 1), (0, size + 10), (size, 5), (size + 10, 5), (0, 0), (size, 0)}
    if size:
        picks |= {(size - 1, 1), (size - 1, 5), (size // 2, size), (1, 3), (size // 3, 0)}
    return sorted(picks)
