"""Filters with rclone's rule syntax, sizes and ages.

A rule is ``+ pattern`` (include) or ``- pattern`` (exclude); the first rule
whose pattern matches decides, and a path no rule matches is included. ``!``
clears the rules read so far (in a rules file). Patterns are rclone's globs:

- ``*`` matches within one path segment, ``**`` across segments, ``?`` one
  character other than ``/``; ``[...]`` is a character class; ``{a,b}``
  matches either alternative; ``{{regexp}}`` embeds a regular expression;
  ``\\`` escapes the next character.
- A pattern starting with ``/`` is anchored at the root; any other pattern
  matches the end of the path at a segment boundary (``*.jpg`` matches
  ``a/b/c.jpg``).
- A pattern ending with ``/`` matches folders: ``- tmp/`` excludes every file
  below any folder named ``tmp``. Files below an excluded folder are
  excluded whatever the file rules say, as rclone never lists such a folder.

``min_size``/``max_size`` (bytes) and ``min_age``/``max_age``
(:class:`~datetime.timedelta`, measured from the run's start) exclude files
outside the range. A file whose size or mtime is unknown (``None``) passes
those limits: nothing proves it is outside them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["Filters", "glob_to_regex"]

_Rule = tuple[bool, "re.Pattern[str]"]
_TOO_HARD = re.compile(r"({[^{}]*(\*\*|/)[^{}]*})|\{\{|\}\}|\{[^{}]*\{")
_SLASHES = re.compile(r"/{2,}")
_CACHE_LIMIT = 4096


def glob_to_regex(glob: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """Compile one rclone path glob (see the module docstring). ``ValueError`` names a
    malformed glob."""
    out: list[str] = ["(?i)"] if ignore_case else []
    if glob.startswith("/"):
        glob = glob[1:]
        out.append("^")
    else:
        out.append("(^|/)")
    stars = 0
    brace_depth = 0
    in_brackets = 0
    escaped = False
    in_regex = False
    last = ""

    for char in glob:
        previous, last = last, char
        if escaped:
            out.append(re.escape(char))
            escaped = False
            continue
        if in_regex:
            if char == "}" and previous == "}":
                in_regex = False
                out[-1] = ")"  # the first '}' of '}}' closes the embedded regexp
            else:
                out.append(char)
            continue
        if char != "*" and stars:
            out.append(_stars(glob, stars))
            stars = 0
        if in_brackets:
            out.append(char)
            if char == "[":
                in_brackets += 1
            elif char == "]":
                in_brackets -= 1
            continue
        if char == "\\":
            escaped = True
        elif char == "*":
            stars += 1
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            out.append("[")
            in_brackets += 1
        elif char == "]":
            raise ValueError(f"mismatched ']' in glob {glob!r}")
        elif char == "{":
            if brace_depth and previous == "{":
                in_regex = True  # '{{' opens a raw regexp; reuse the '(' just written
                brace_depth -= 1
            else:
                brace_depth += 1
                out.append("(")
        elif char == "}":
            if not brace_depth:
                raise ValueError(f"mismatched '{{' and '}}' in glob {glob!r}")
            out.append(")")
            brace_depth -= 1
        elif char == "," and brace_depth:
            out.append("|")
        else:
            out.append(re.escape(char))
    if stars:
        out.append(_stars(glob, stars))
    _check_closed(glob, escaped, in_brackets, brace_depth, in_regex)
    out.append("$")
    try:
        return re.compile("".join(out))
    except re.error as exc:
        raise ValueError(f"bad glob {glob!r}: {exc}") from None


def _stars(glob: str, stars: int) -> str:
    """The regexp of a run of ``stars`` stars: within a segment, or across segments."""
    if stars == 1:
        return "[^/]*"
    if stars == 2:
        return ".*"
    raise ValueError(f"too many stars in glob {glob!r}")


def _check_closed(
    glob: str, escaped: bool, in_brackets: int, brace_depth: int, in_regex: bool
) -> None:
    """At the end of ``glob``: ``ValueError`` for an escape, class, brace or embedded
    regexp left open."""
    if escaped:
        raise ValueError(f"glob {glob!r} ends with an escaping backslash")
    if in_brackets:
        raise ValueError(f"mismatched '[' and ']' in glob {glob!r}")
    if brace_depth:
        raise ValueError(f"mismatched '{{' and '}}' in glob {glob!r}")
    if in_regex:
        raise ValueError(f"mismatched '{{{{' and '}}}}' in glob {glob!r}")


def _dir_globs(glob: str) -> list[str]:
    """The folder globs a file glob needs scanned (rclone's ``globToDirGlobs``)."""
    if _TOO_HARD.search(glob):
        return ["/**"]
    glob = _SLASHES.sub("/", glob)
    out: list[str] = []
    while True:
        slash = glob.rfind("/")
        stars = glob.rfind("**")
        what = ""
        if stars > slash:
            slash, what = stars, "**"
        if slash < 0:
            if not out:
                out.append("/**")
            return out
        glob = glob[:slash]
        candidate = glob + what + "/"
        if not out or out[-1] != candidate:
            out.append(candidate)


def _parse_rule(rule: str) -> tuple[bool, str] | None:
    """``(include, glob)`` for ``+ glob`` / ``- glob``; ``None`` for ``!`` (clear)."""
    text = rule.strip()
    if text == "!":
        return None
    if len(text) >= 2 and text[0] in "+-" and text[1] in " \t":
        glob = text[2:].strip()
        if glob:
            return text[0] == "+", glob
    raise ValueError(f"filter rule {rule!r} is malformed: expected '+ pattern', '- pattern' or '!'")


def _compile(rules: Iterable[str], ignore_case: bool) -> tuple[list[_Rule], list[_Rule]]:
    files: list[_Rule] = []
    dirs: list[_Rule] = []
    for rule in rules:
        parsed = _parse_rule(rule)
        if parsed is None:
            files.clear()
            dirs.clear()
            continue
        include, glob = parsed
        is_dir = glob.endswith("/")
        is_file = not is_dir
        if is_dir and not include:
            glob += "**"  # excluding "dir/" excludes "dir/**"
        if "**" in glob:
            is_dir = is_file = True
        regex = glob_to_regex(glob, ignore_case=ignore_case)
        if is_file:
            files.append((include, regex))
            if include or glob == "*":
                for dir_glob in _dir_globs(glob):
                    if dir_glob != "/":
                        dirs.append((include, glob_to_regex(dir_glob, ignore_case=ignore_case)))
        if is_dir:
            dirs.append((include, regex))
    return files, dirs


def _first_match(rules: list[_Rule], path: str) -> bool:
    for include, regex in rules:
        if regex.search(path) is not None:
            return include
    return True


@dataclass(frozen=True)
class Filters:
    """Which files a sync, copy, move, check or bisync considers (see the module docstring).

    Attributes:
        rules: rclone filter rules, first match wins (``"+ *.txt"``, ``"- tmp/**"``).
        min_size, max_size: bytes; files outside the range are excluded.
        min_age, max_age: files modified less than ``min_age`` or more than ``max_age``
            before the run started are excluded.
        ignore_case: patterns match regardless of case.

    ``ValueError`` names a malformed rule or limit when the object is made.
    """

    rules: tuple[str, ...] = ()
    min_size: int | None = None
    max_size: int | None = None
    min_age: timedelta | None = None
    max_age: timedelta | None = None
    ignore_case: bool = False
    _files: list[_Rule] = field(init=False, repr=False, compare=False)
    _dirs: list[_Rule] = field(init=False, repr=False, compare=False)
    _dir_cache: dict[str, bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.rules, str):
            raise TypeError("Filters(rules=...) takes a sequence of rules, not one string")
        object.__setattr__(self, "rules", tuple(self.rules))
        for name in ("min_size", "max_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"Filters({name}=...) must be a byte count >= 0, got {value!r}")
        for name in ("min_age", "max_age"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, timedelta):
                raise TypeError(f"Filters({name}=...) must be a datetime.timedelta")
        if (
            self.min_size is not None
            and self.max_size is not None
            and self.min_size > self.max_size
        ):
            raise ValueError("Filters: min_size is larger than max_size")
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValueError("Filters: min_age is larger than max_age")
        files, dirs = _compile(self.rules, self.ignore_case)
        object.__setattr__(self, "_files", files)
        object.__setattr__(self, "_dirs", dirs)
        object.__setattr__(self, "_dir_cache", {})

    # ------------------------------------------------------------ constructors

    @classmethod
    def include(cls, *patterns: str) -> Filters:
        """Only files matching one of ``patterns`` (rclone's ``--include``: an implicit
        ``- **`` follows)."""
        return cls(rules=(*(f"+ {p}" for p in patterns), "- **"))

    @classmethod
    def exclude(cls, *patterns: str) -> Filters:
        """Every file except those matching one of ``patterns`` (``--exclude``)."""
        return cls(rules=tuple(f"- {p}" for p in patterns))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Filters:
        """Rules from an rclone filter file: one rule per line, blank lines and lines
        starting with ``#`` or ``;`` ignored. ``ValueError`` names the file and line of a
        malformed rule."""
        rules: list[str] = []
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                text = line.rstrip("\r\n")
                if not text.strip() or text.lstrip().startswith(("#", ";")):
                    continue
                try:
                    _parse_rule(text)
                except ValueError as exc:
                    raise ValueError(f"{os.fspath(path)}, line {number}: {exc}") from None
                rules.append(text.strip())
        return cls(rules=tuple(rules))

    # ------------------------------------------------------------ matching

    @property
    def active(self) -> bool:
        """True when anything can be excluded."""
        return bool(
            self._files
            or self._dirs
            or self.min_size is not None
            or self.max_size is not None
            or self.min_age is not None
            or self.max_age is not None
        )

    def matches(
        self,
        path: str,
        size: int | None = None,
        modified: datetime | None = None,
        *,
        now: datetime | None = None,
    ) -> bool:
        """True when the file ``path`` (store-relative) with that size and mtime passes.

        ``now`` is the reference for ages (default: the current time).
        """
        if size is not None:
            if self.min_size is not None and size < self.min_size:
                return False
            if self.max_size is not None and size > self.max_size:
                return False
        if modified is not None and (self.min_age is not None or self.max_age is not None):
            now = now or datetime.now(UTC)
            if self.min_age is not None and modified > now - self.min_age:
                return False
            if self.max_age is not None and modified < now - self.max_age:
                return False
        return self.path_matches(path)

    def path_matches(self, path: str) -> bool:
        """True when the rules (folder rules for every parent, then file rules) pass ``path``."""
        if self._dirs:
            slash = path.rfind("/")
            if slash > 0 and not self._folder_included(path[:slash]):
                return False
        return _first_match(self._files, path) if self._files else True

    def _folder_included(self, folder: str) -> bool:
        cache = self._dir_cache
        known = cache.get(folder)
        if known is not None:
            return known
        slash = folder.rfind("/")
        result = (slash <= 0 or self._folder_included(folder[:slash])) and _first_match(
            self._dirs, folder + "/"
        )
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[folder] = result
        return result
