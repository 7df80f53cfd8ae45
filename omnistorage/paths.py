"""The one key grammar, enforced everywhere.

A *key* names a file inside a store: relative, ``/``-separated, made of
non-empty segments that are neither ``.`` nor ``..``, with no backslash, no
NUL or other control character (U+0000 to U+001F, U+007F), at most 1024 bytes
of UTF-8. Segments starting with ``.omnistorage-tmp-`` are reserved for the
temp files of in-flight writes (see :mod:`omnistorage._tempname`). Keys are
literal: ``%2e%2e`` is a segment of five characters, not ``..``; a backslash
is rejected, never translated.

A *folder path* is a key or the empty string (the store's root); a single
trailing ``/`` is accepted on folder paths and dropped.

Everything here is pure: no I/O.
"""

from __future__ import annotations

import re

from omnistorage._tempname import TEMP_MARK
from omnistorage.errors import InvalidPath

__all__ = [
    "MAX_KEY_BYTES",
    "basename",
    "broken_rule",
    "depth",
    "is_valid_key",
    "folder_prefix",
    "is_within",
    "join",
    "parent",
    "relative_to",
    "validate_folder",
    "validate_key",
]

MAX_KEY_BYTES = 1024

_SEGMENT = r"(?!\.\.?(?:/|$))[^\x00-\x1f\x7f\\/]+"
_KEY_RE = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# A reserved segment is one that starts with TEMP_MARK: "/.omnistorage-tmp-" inside a key,
# or TEMP_MARK at its start. Checking the substring "omnistorage-tmp-" first keeps the
# common path to one C-level search; _is_reserved decides exactly.
_TEMP_SEGMENT = TEMP_MARK[1:]


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a valid key, else raise :class:`InvalidPath`.

    The message names the key and the rule it broke.
    """
    if type(key) is str and _KEY_RE.fullmatch(key) is not None:
        if _TEMP_SEGMENT in key and _is_reserved(key):
            pass
        elif key.isascii():
            if len(key) <= MAX_KEY_BYTES:
                return key
        elif _utf8_size(key) <= MAX_KEY_BYTES:
            return key
    raise InvalidPath(f"invalid key {key!r}: {broken_rule(key)}", path=_printable(key))


def is_valid_key(key: str) -> bool:
    """True when ``key`` follows the key grammar (the check :func:`validate_key` makes)."""
    if type(key) is not str or _KEY_RE.fullmatch(key) is None:
        return False
    if _TEMP_SEGMENT in key and _is_reserved(key):
        return False
    if key.isascii():
        return len(key) <= MAX_KEY_BYTES
    return _utf8_size(key) <= MAX_KEY_BYTES


def validate_folder(path: str) -> str:
    """Validate a folder path: ``""`` (the root) or a key; one trailing ``/`` is dropped."""
    if path == "":
        return path
    if type(path) is str and path.endswith("/") and len(path) > 1:
        path = path[:-1]
    return validate_key(path)


def _is_reserved(key: str) -> bool:
    return key.startswith(TEMP_MARK) or f"/{TEMP_MARK}" in key


def _utf8_size(key: str) -> int:
    try:
        return len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return MAX_KEY_BYTES + 1


def _printable(key: object) -> str | None:
    return key if isinstance(key, str) else None


def broken_rule(key: object) -> str:
    """Which rule of the grammar ``key`` breaks, in words (for messages)."""
    if not isinstance(key, str):
        return f"keys are str, not {type(key).__name__}"
    if key == "":
        return "a key cannot be empty"
    if key.startswith("/"):
        return "keys are relative: no leading '/'"
    if "\\" in key:
        return "backslashes are not allowed (use '/')"
    if _CONTROL_RE.search(key):
        return "NUL and control characters are not allowed"
    for segment in key.split("/"):
        if segment == "":
            return "empty segments ('//' or a trailing '/') are not allowed"
        if segment in (".", ".."):
            return f"'{segment}' segments are not allowed"
        if segment.startswith(TEMP_MARK):
            return f"segments starting with {TEMP_MARK!r} are reserved for temp files"
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return "keys must be valid UTF-8 (lone surrogates are not)"
    if size > MAX_KEY_BYTES:
        return f"keys are at most {MAX_KEY_BYTES} bytes of UTF-8 (this one is {size})"
    return "does not follow the key grammar"


def join(folder: str, key: str) -> str:
    """Join a validated folder path and a validated key (either may be ``""``)."""
    if not folder:
        return key
    if not key:
        return folder
    return f"{folder}/{key}"


def folder_prefix(folder: str) -> str:
    """The listing prefix of a folder: ``""`` for the root, else ``folder + "/"``."""
    return f"{folder}/" if folder else ""


def parent(key: str) -> str:
    """The folder holding ``key`` (``""`` for a top-level key)."""
    cut = key.rfind("/")
    return key[:cut] if cut >= 0 else ""


def basename(key: str) -> str:
    """The last segment of ``key``."""
    return key[key.rfind("/") + 1 :]


def depth(key: str) -> int:
    """The number of segments in ``key`` (0 for ``""``)."""
    return key.count("/") + 1 if key else 0


def is_within(key: str, folder: str) -> bool:
    """True when ``key`` lies inside ``folder``: ``data`` never holds ``database``."""
    return not folder or (key.startswith(folder) and key[len(folder) : len(folder) + 1] == "/")


def relative_to(key: str, folder: str) -> str:
    """``key`` made relative to ``folder``; ``key`` must lie inside it."""
    if not folder:
        return key
    if not is_within(key, folder):
        raise InvalidPath(f"key {key!r} is not inside {folder!r}", path=key)
    return key[len(folder) + 1 :]
