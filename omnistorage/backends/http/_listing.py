"""Listings from nginx's machine-readable directory index (``autoindex_format json``).

A folder URL (``…/folder/``) answers a JSON array, one object per entry::

    [
    { "name":"sub", "type":"directory", "mtime":"Mon, 23 Nov 2026 08:18:50 GMT" },
    { "name":"a.txt", "type":"file", "mtime":"Mon, 23 Nov 2026 08:18:50 GMT", "size":11 }
    ]

An index is outside input, parsed with limits:

- **Linear, bounded memory.** The array is parsed incrementally as it arrives,
  one entry in memory at a time, each byte decoded and scanned a bounded
  number of times. An entry longer than :data:`MAX_ENTRY_CHARS` (no key's name
  needs a tenth of it) is skipped by a scan that keeps none of it, and
  counted. A compressed index (``gzip``/``deflate``, though ``identity`` was
  asked for) is inflated a chunk at a time, so a small bomb costs time in
  proportion to what it inflates to, never memory.
- **Names no key can have are refused.** A file's name is yielded as the
  server sends it (the Store skips and counts what the key grammar refuses);
  a name holding ``/`` or that is not a string is not a name at all, and a
  folder is descended into only when its path is a key with room for a name
  below it (``.``, ``..``, control characters or a path past 1024 bytes are
  not). What is refused is yielded as a
  :class:`~omnistorage.models.SkippedEntry`, logged, and counted on the
  Store's listing.
- **Symbolic-link loops end.** A recursive listing walks the folders one
  request each, depth first, and keeps the visited folders of the current
  path (a fingerprint of each index's first :data:`FINGERPRINT_ENTRIES`
  entries: names, types, sizes, times). nginx follows symbolic links and
  shows nothing that identifies a directory, so a folder ``F`` whose index
  repeats an ancestor ``A``'s is a link back up only if the walk repeats
  too: the indexes at ``F`` plus the path from ``A`` to ``F``, again and
  again, :data:`CONFIRM_STEPS` times (or until the path could hold no key)
  must all repeat it. Then ``F`` is not listed and counts as one skipped
  entry; otherwise (folders that merely look alike, such as ``x/x/x`` made
  in one second) the walk goes on. A loop costs at most
  :data:`CONFIRM_STEPS` extra requests, so loops cannot multiply a walk.

nginx leaves out names that start with a dot, so such files can be read but
are never listed; entries of type ``other`` (sockets, devices) are not
files. A folder that does not exist (404, also a file's URL with a trailing
``/``) lists as empty.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import re
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from itertools import chain, islice
from typing import Any

import urllib3

from omnistorage import paths
from omnistorage.backends.http._client import Client
from omnistorage.backends.http._errors import ListingFormatError
from omnistorage.backends.http._reader import discard
from omnistorage.models import ObjectInfo, SkippedEntry

__all__ = [
    "CONFIRM_STEPS",
    "FINGERPRINT_ENTRIES",
    "LISTING_FORMATS",
    "MAX_ENTRY_CHARS",
    "list_autoindex",
]

LISTING_FORMATS = ("none", "nginx-json")
"""The values of the ``listing`` option."""

MAX_ENTRY_CHARS = 16 * 1024
"""The longest index entry parsed (a 1024-byte name JSON-escaped is at most 6 KiB)."""

FINGERPRINT_ENTRIES = 64
"""How many entries of an index make the fingerprint that recognises a folder again."""

CONFIRM_STEPS = 8
"""How many more times a suspected loop's path must repeat its index to be one."""

_CHUNK = 64 * 1024
_MAX_PROBED = 4096
_log = logging.getLogger("omnistorage.http")

StatusError = Callable[[urllib3.BaseHTTPResponse, str, str], Exception]


class _Oversize:
    """An index entry longer than :data:`MAX_ENTRY_CHARS`, skipped unread."""

    def __init__(self, preview: str) -> None:
        found = re.search(r'"name"\s*:\s*"((?:[^"\\]|\\.){0,80})', preview)
        self.name = (found.group(1) if found else "?") + "…"


class _Body:
    """The response body as text, inflated and decoded a chunk at a time."""

    def __init__(self, response: urllib3.BaseHTTPResponse, url: str) -> None:
        self._response = response
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("", "identity"):
            self._inflate = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            self._inflate = zlib.decompressobj(wbits=47)  # a gzip or zlib header
        else:
            raise ListingFormatError(f"{url}: the index is {encoding}-encoded")
        self._text = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self.eof = False

    def read(self) -> str:
        """The next piece of text (``""`` once the body is done)."""
        while not self.eof:
            data = self._raw()
            if data is None:
                self.eof = True
                return self._text.decode(b"", final=True)
            text = self._text.decode(data)
            if text:
                return text
        return ""

    def _raw(self) -> bytes | None:
        inflate = self._inflate
        while True:
            if inflate is not None and inflate.unconsumed_tail:
                data = inflate.decompress(inflate.unconsumed_tail, _CHUNK)
                if data:
                    return data
            raw = self._response.read(_CHUNK, decode_content=False)
            if not raw:
                return None
            if inflate is None:
                return raw
            if inflate.eof:
                continue  # bytes after the compressed stream: nothing of the index
            data = inflate.decompress(raw, _CHUNK)
            if data:
                return data


_OUTSIDE = re.compile(r'["{}\[\]]')
_INSIDE = re.compile(r'["\\]')


class _Parser:
    """The entries of the JSON array a :class:`_Body` streams (see the module docstring)."""

    def __init__(self, body: _Body, url: str) -> None:
        self._body = body
        self._url = url
        self._buffer = ""
        self._at = 0
        self._decoder = json.JSONDecoder()

    def bad(self, why: str) -> ListingFormatError:
        return ListingFormatError(
            f"{self._url} did not answer nginx's JSON directory index ({why}); the server "
            "needs 'autoindex on; autoindex_format json;' for listing='nginx-json'"
        )

    def _more(self) -> bool:
        text = self._body.read()
        if not text and self._body.eof:
            return False
        self._buffer = self._buffer[self._at :] + text
        self._at = 0
        return True

    def entries(self) -> Iterator[dict[str, Any] | _Oversize]:
        started = False
        while True:
            buffer, at = self._buffer, self._at
            while at < len(buffer) and buffer[at] in " \t\r\n,":
                if buffer[at] == "," and not started:
                    raise self.bad("a comma before the array")
                at += 1
            self._at = at
            if at >= len(buffer):
                if not self._more():
                    raise self.bad("the array is not closed")
                continue
            if not started:
                if buffer[at] != "[":
                    raise self.bad("not a JSON array")
                started, self._at = True, at + 1
                continue
            if buffer[at] == "]":
                return
            if buffer[at] != "{":
                raise self.bad("an entry is not an object")
            try:
                entry, self._at = self._decoder.raw_decode(buffer, at)
            except json.JSONDecodeError as exc:
                if len(buffer) - at > MAX_ENTRY_CHARS:
                    yield self._skip_entry()
                    continue
                if self._more():  # the entry goes on in the next piece
                    continue
                raise self.bad(f"invalid JSON: {exc.msg}") from exc
            if not isinstance(entry, dict):
                raise self.bad("an entry is not an object")
            yield entry

    def _skip_entry(self) -> _Oversize:
        """Scan past the object at the cursor, keeping none of it (strings skipped,
        nesting counted), and return what little names it. An object that turns out
        shorter than the limit was not cut off but invalid."""
        start = self._at
        skipped = _Oversize(self._buffer[start : start + 400])
        depth, inside, pos, dropped = 0, False, start, -start
        while True:
            buffer = self._buffer
            found = (_INSIDE if inside else _OUTSIDE).search(buffer, pos)
            if found is None or (found.group() == "\\" and found.end() >= len(buffer)):
                keep = found.start() if found is not None else len(buffer)
                self._at, dropped = keep, dropped + keep  # keep a trailing backslash
                if not self._more():
                    raise self.bad("the array is not closed")
                pos = 0
                continue
            char, pos = found.group(), found.end()
            if inside:
                if char == "\\":
                    pos += 1
                else:
                    inside = False
            elif char == '"':
                inside = True
            elif char in "{[":
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    if dropped + pos <= MAX_ENTRY_CHARS:
                        raise self.bad("invalid JSON in an entry")
                    self._at = pos
                    return skipped


def _modified(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _fingerprint(entries: list[dict[str, Any] | _Oversize]) -> bytes:
    shown = [e if isinstance(e, dict) else {"oversize": e.name} for e in entries]
    return hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).digest()


def _skipped(path: str, reason: str, *, folder: bool = False) -> SkippedEntry:
    _log.warning("skipped %r in an http listing: %s", path, reason)
    return SkippedEntry(path, size=None, is_dir=folder, reason=reason)


def _descendable(path: str) -> bool:
    """A folder path below which a key can lie: itself a key, with room for ``/x``."""
    return paths.is_valid_key(path) and len(path.encode("utf-8", "surrogateescape")) + 2 <= (
        paths.MAX_KEY_BYTES
    )


def list_autoindex(
    client: Client,
    folder_url: Callable[[str], str],
    prefix: str,
    recursive: bool,
    status_error: StatusError,
) -> Iterator[ObjectInfo]:
    """Files (and, when not ``recursive``, sub-folders) under ``prefix`` (``""`` or ending
    with ``/``), lazily; ``folder_url(prefix)`` is a folder's URL. What is refused is
    yielded as :class:`~omnistorage.models.SkippedEntry` (module docstring)."""
    walk = _Walk(client, folder_url, status_error)
    pending: list[tuple[str, tuple[tuple[bytes, str], ...]]] = [(prefix, ())]
    while pending:
        folder, ancestors = pending.pop()
        response = walk.open(folder)
        if response is None:
            continue
        finished = False
        try:
            url = folder_url(folder)
            entries = _Parser(_Body(response, url), url).entries()
            head = list(islice(entries, FINGERPRINT_ENTRIES))
            seen = _fingerprint(head)
            if recursive and walk.loops(folder, seen, ancestors):
                yield _skipped(folder, "a symbolic-link loop: its index repeats an ancestor's")
                continue
            below = (*ancestors, (seen, folder))
            for entry in chain(head, entries):
                for found in _entry(entry, folder, recursive):
                    if isinstance(found, str):
                        pending.append((found, below))
                    else:
                        yield found
            response.drain_conn()  # the array's end: the connection can serve again
            finished = True
        finally:
            if finished:
                response.release_conn()
            else:
                response.close()


class _Walk:
    """The requests of one listing: folder indexes, and the loop check."""

    def __init__(
        self, client: Client, folder_url: Callable[[str], str], status_error: StatusError
    ) -> None:
        self._client = client
        self._url = folder_url
        self._status_error = status_error
        self._probed: dict[str, bytes | None] = {}  # the loop check's indexes, by folder

    def open(self, folder: str) -> urllib3.BaseHTTPResponse | None:
        """The index response of ``folder``, checked; ``None`` when there is no folder."""
        url = self._url(folder)
        response = self._client.request("GET", url, {"Accept": "application/json"}, stream=True)
        if response.status in (404, 410):
            response.drain_conn()
            response.release_conn()
            return None
        if response.status != 200:
            error = self._status_error(response, "GET", url)
            response.close()
            raise error
        served = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if served != "application/json":
            response.close()
            raise ListingFormatError(
                f"{url} answered {served or 'no content type'} where nginx's JSON directory "
                "index was expected ('autoindex on; autoindex_format json;')"
            )
        return response

    def _fingerprint(self, folder: str) -> bytes | None:
        if folder in self._probed:
            return self._probed[folder]
        if len(self._probed) >= _MAX_PROBED:
            self._probed.clear()
        response = self.open(folder)
        found = None
        if response is not None:
            try:
                url = self._url(folder)
                entries = _Parser(_Body(response, url), url).entries()
                found = _fingerprint(list(islice(entries, FINGERPRINT_ENTRIES)))
            finally:
                discard(response)
        self._probed[folder] = found
        return found

    def loops(self, folder: str, seen: bytes, ancestors: tuple[tuple[bytes, str], ...]) -> bool:
        """``folder``'s index (``seen``) repeats an ancestor's, and so does every step
        of the path from that ancestor to ``folder`` repeated (module docstring)."""
        for fingerprint, ancestor in reversed(ancestors):
            if fingerprint != seen:
                continue
            step = folder[len(ancestor) :]
            probe = folder
            for _ in range(CONFIRM_STEPS):
                probe += step
                if not _descendable(probe.rstrip("/")):
                    return True  # repeating as deep as any key can lie
                if self._fingerprint(probe) != seen:
                    break
            else:
                return True
        return False


def _entry(
    entry: dict[str, Any] | _Oversize, folder: str, recursive: bool
) -> Iterator[ObjectInfo | str]:
    """What one index entry of ``folder`` gives: a file, a sub-folder (an ``ObjectInfo``
    when not ``recursive``, else its prefix to walk), or a skipped entry."""
    if isinstance(entry, _Oversize):
        yield _skipped(folder + entry.name, f"an index entry over {MAX_ENTRY_CHARS} characters")
        return
    name, kind = entry.get("name"), entry.get("type")
    if not isinstance(name, str) or not name or "/" in name:
        shown = f"{folder}{name if isinstance(name, str) else repr(name)}"
        as_folder = kind == "directory" and not recursive
        yield _skipped(shown, "an index entry without a usable name", folder=as_folder)
        return
    path = folder + name
    if kind == "directory":
        if not _descendable(path):
            reason = f"a folder no key can lie below ({paths.broken_rule(path + '/x')})"
            yield _skipped(path, reason, folder=not recursive)
        elif recursive:
            yield path + "/"
        else:
            yield ObjectInfo(path=path, is_dir=True)
    elif kind == "file":
        size = entry.get("size")
        yield ObjectInfo(
            path=path,
            size=size if isinstance(size, int) and size >= 0 else None,
            modified=_modified(entry.get("mtime")),
        )
