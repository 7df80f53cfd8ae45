"""The state bisync keeps between runs: what each side held after the last good run.

A state is NDJSON, one header line then one line per path in path order::

    {"format": "omnistorage-bisync", "version": 1, "path1": "...", "path2": "..."}
    {"p": "a/b.txt", "1": [size, mtime_us, etag, md5], "2": [...]}

(``null`` for a side that did not hold the path). Being sorted, it is read
as a stream and merged with the two sorted listings, so memory stays bounded.
It lives in a local file (written to a temporary file beside it, then
renamed into place; a ``.lock`` file beside it keeps two runs apart) or as an
object in a Store (written atomically; no lock: do not run two bisyncs on one
state object at once).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from omnistorage import paths
from omnistorage.errors import InvalidPath, NotFound
from omnistorage.store import Store
from omnistorage.sync._entry import Entry
from omnistorage.sync._errors import SyncError

__all__ = ["StateLocation", "StateRecord", "read_state", "state_lock", "write_state"]

_MD5_HEX = re.compile(r"[0-9a-f]{32}")
_FORMAT = "omnistorage-bisync"
_VERSION = 1

StateLocation = str | os.PathLike[str] | tuple[Store, str]


@dataclass(frozen=True, slots=True)
class StateRecord:
    """One path of the state: each side's entry after the last good run (or ``None``)."""

    path: str
    one: Entry | None
    two: Entry | None


def _pack(entry: Entry | None) -> list[Any] | None:
    if entry is None:
        return None
    md5 = (entry.hashes or {}).get("md5")
    return [entry.size, entry.mtime, entry.etag, md5]


def _unpack(path: str, data: Any) -> Entry | None:
    """The entry of one side of a state line, checked against the schema (``ValueError``
    naming what is wrong)."""
    if data is None:
        return None
    if not isinstance(data, list) or len(data) != 4:
        raise ValueError("a side must be null or [size, mtime_us, etag, md5]")
    size, mtime, etag, md5 = data
    if size is not None and (not _is_int(size) or size < 0):
        raise ValueError("size must be null or an integer >= 0")
    if mtime is not None and not _is_int(mtime):
        raise ValueError("mtime must be null or an integer (microseconds)")
    if etag is not None and not isinstance(etag, str):
        raise ValueError("etag must be null or text")
    if md5 is not None and not (isinstance(md5, str) and _MD5_HEX.fullmatch(md5)):
        raise ValueError("md5 must be null or 32 lowercase hex digits")
    return Entry(path, size, mtime, etag, {"md5": md5} if md5 else None, None, None)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _record(line: str) -> StateRecord:
    """One state line, checked against the schema: ``{"p": key, "1": side, "2": side}``."""
    data = json.loads(line)
    if not isinstance(data, dict) or set(data) != {"p", "1", "2"}:
        raise ValueError('a line must be an object with exactly "p", "1" and "2"')
    path = data["p"]
    if not isinstance(path, str):
        raise ValueError('"p" must be text')
    try:
        paths.validate_key(path)
    except InvalidPath:
        raise ValueError('"p" is not a valid key') from None
    return StateRecord(path, _unpack(path, data["1"]), _unpack(path, data["2"]))


def check_location(state: object) -> StateLocation:
    """``state`` if it is a path or a ``(Store, key)`` pair, else ``TypeError``."""
    if isinstance(state, (str, os.PathLike)):
        return state
    if (
        isinstance(state, tuple)
        and len(state) == 2
        and isinstance(state[0], Store)
        and isinstance(state[1], str)
    ):
        return state
    raise TypeError("bisync(state=...) takes a local file path or a (Store, key) tuple")


def _open_text(location: StateLocation) -> IO[str] | None:
    if isinstance(location, tuple):
        store, key = location
        try:
            raw = store.read(key)
            raw.read(0)
        except NotFound:
            return None
        return io.TextIOWrapper(raw, encoding="utf-8")
    try:
        return open(location, encoding="utf-8")
    except FileNotFoundError:
        return None


def read_state(location: StateLocation, path1: str, path2: str) -> Iterator[StateRecord] | None:
    """The records of the state at ``location`` (sorted by path), or ``None`` when there is
    none yet. ``SyncError`` when it belongs to other stores or is damaged."""
    handle = _open_text(location)
    if handle is None:
        return None
    try:
        header = json.loads(handle.readline() or "null")
    except ValueError:  # not JSON, or not UTF-8
        handle.close()
        raise SyncError("bisync state is damaged: the header is not JSON", op="bisync") from None
    if not isinstance(header, dict) or header.get("format") != _FORMAT:
        handle.close()
        raise SyncError("bisync state is not an omnistorage bisync state", op="bisync")
    if not _is_int(header.get("version")) or header.get("version") != _VERSION:
        handle.close()
        raise SyncError(f"bisync state version {header.get('version')!r} is unknown", op="bisync")
    if (header.get("path1"), header.get("path2")) != (path1, path2):
        handle.close()
        raise SyncError(
            f"bisync state was made for {header.get('path1')!r} and {header.get('path2')!r}, "
            f"not {path1!r} and {path2!r}",
            op="bisync",
        )
    return _records(handle)


def _records(handle: IO[str]) -> Iterator[StateRecord]:
    previous = ""
    with handle:
        for number, line in enumerate(handle, 2):
            if not line.strip():
                continue
            try:
                record = _record(line)
            except ValueError as exc:  # JSONDecodeError is one
                raise SyncError(
                    f"bisync state is damaged at line {number}: {exc}", op="bisync"
                ) from None
            path = record.path
            if path <= previous:
                raise SyncError(f"bisync state is out of order at line {number}", op="bisync")
            previous = path
            yield record


def _lines(path1: str, path2: str, records: Iterable[StateRecord]) -> Iterator[str]:
    header = {"format": _FORMAT, "version": _VERSION, "path1": path1, "path2": path2}
    yield json.dumps(header, ensure_ascii=False) + "\n"
    for record in records:
        item = {"p": record.path, "1": _pack(record.one), "2": _pack(record.two)}
        yield json.dumps(item, ensure_ascii=False) + "\n"


def write_state(
    location: StateLocation, path1: str, path2: str, records: Iterable[StateRecord]
) -> None:
    """Replace the state at ``location`` atomically with ``records`` (sorted by path)."""
    lines = _lines(path1, path2, records)
    if isinstance(location, tuple):
        store, key = location
        with store.open_writer(key, overwrite=True) as out:
            for line in lines:
                out.write(line.encode("utf-8"))
        return
    target = os.fspath(location)
    folder = os.path.dirname(os.path.abspath(target))
    os.makedirs(folder, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".bisync-state-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(lines)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


@contextlib.contextmanager
def state_lock(location: StateLocation) -> Iterator[None]:
    """Hold ``<state>.lock`` beside a local state file for the run (no-op for a Store)."""
    if isinstance(location, tuple):
        yield
        return
    lock = os.fspath(location) + ".lock"
    os.makedirs(os.path.dirname(os.path.abspath(lock)), exist_ok=True)
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise SyncError(
            f"another bisync holds {lock!r} (remove it if no bisync is running)", op="bisync"
        ) from None
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
