"""Glob patterns over keys: ``*``, ``?``, ``[...]`` within a segment, ``**`` across segments.

Pure functions; used by ``Store.glob`` and the sync filters.
"""

from __future__ import annotations

import functools
import re

__all__ = ["compile_glob", "has_magic", "static_prefix"]

_MAGIC = re.compile(r"[*?\[]")


def has_magic(pattern: str) -> bool:
    """True when ``pattern`` has a wildcard."""
    return _MAGIC.search(pattern) is not None


def static_prefix(pattern: str) -> str:
    """The leading segments of ``pattern`` that hold no wildcard (a folder path)."""
    segments = pattern.split("/")
    fixed: list[str] = []
    for segment in segments[:-1]:
        if has_magic(segment):
            break
        fixed.append(segment)
    return "/".join(fixed)


@functools.lru_cache(maxsize=256)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """Compile a glob to a regex that must match a whole key.

    ``*`` and ``?`` never cross ``/``; a ``**`` segment matches zero or more
    whole segments (``a/**/b`` matches ``a/b`` and ``a/x/y/b``; a trailing
    ``**`` matches everything below). ``[!...]`` negates a class.
    """
    parts: list[str] = []
    segments = pattern.split("/")
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if segment == "**":
            parts.append(".*" if index == last else "(?:[^/]+/)*")
            continue
        parts.append(_segment_regex(segment))
        if index != last:
            parts.append("/")
    return re.compile("".join(parts), re.DOTALL)


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    i, n = 0, len(segment)
    while i < n:
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = segment.find("]", i + 2 if segment[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = segment[i + 1 : end]
                negate = body.startswith("!")
                if negate:
                    body = body[1:]
                body = body.replace("\\", "\\\\")
                out.append(f"[{'^/' if negate else ''}{body}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)
