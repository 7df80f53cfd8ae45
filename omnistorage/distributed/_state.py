"""The job state: a versioned set of JSON documents in a store the caller names.

Layout below the state folder (format ``omnistorage.distributed/1``)::

    listings/src/NNNNNN.jsonl   sorted listing shards (one per prefix), one entry a line
    listings/dst/NNNNNN.jsonl
    chunks/NNNNNN.json          transfer actions of chunk N
    deletes/NNNNNN.json         delete actions (the second phase), in chunks
    manifest.json               written last: the plan is complete
    results/NNNNNN.json         what chunk N did, written when it finished

An entry is ``[path, size, mtime_ns, etag, hashes, content_type, metadata]``; an
action is ``[op, path, reason, size, source, entry, other]``. Every document carries
``format`` and the ``job`` id. Whatever is read back is hostile input: each field is
checked (types, ranges, key grammar, the job id) and a bad document raises
:class:`StateError` naming the document and the field; nothing is acted on before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from omnistorage import paths
from omnistorage.errors import DataError, NotFound
from omnistorage.store import Store
from omnistorage.sync._entry import Entry, plain
from omnistorage.sync._plan import Action
from omnistorage.sync._report import ErrorEntry

__all__ = [
    "MANIFEST",
    "decode_error",
    "job_ident",
    "read_manifest",
    "FORMAT",
    "StateError",
    "action_doc",
    "chunk_key",
    "decode_action",
    "decode_entry",
    "read_doc",
    "read_entries",
    "write_doc",
]

FORMAT = "omnistorage.distributed/1"
_OPS = frozenset({"copy", "update", "delete"})
MAX_DOC = 256 * 1024 * 1024
"""The largest state document read back (a chunk of a hostile state cannot exhaust memory)."""


class StateError(DataError):
    """A state document is missing a field, has a wrong type, or belongs to another job."""


def chunk_key(folder: str, index: int) -> str:
    return f"{folder}/{index:06d}.json"


def write_doc(state: Store, key: str, doc: Mapping[str, Any]) -> None:
    """Write ``doc`` (with the format tag) at ``key``; a rewrite replaces it whole."""
    body = orjson.dumps({"format": FORMAT, **doc})
    state.write(key, body, overwrite=True)


def read_doc(state: Store, key: str, job: str | None) -> dict[str, Any]:
    """The document at ``key`` after checking its format and (unless ``None``) its job id.
    Raises :class:`~omnistorage.NotFound` when absent, :class:`StateError` when bad."""
    with state.read(key) as stream:  # one request; never more than MAX_DOC bytes held
        body = stream.read(MAX_DOC + 1)
    if len(body) > MAX_DOC:
        raise StateError(f"state {key!r}: more than {MAX_DOC} bytes")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise StateError(f"state {key!r} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise StateError(f"state {key!r} is not a JSON object")
    if doc.get("format") != FORMAT:
        raise StateError(f"state {key!r}: format {doc.get('format')!r}, expected {FORMAT!r}")
    if job is not None and doc.get("job") != job:
        raise StateError(f"state {key!r} belongs to job {doc.get('job')!r}, not {job!r}")
    return doc


def field(doc: Mapping[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``doc[name]`` checked to be a ``kind`` (``bool`` never passes for ``int``)."""
    if name not in doc:
        raise StateError(f"state {where}: missing {name!r}")
    value = doc[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise StateError(f"state {where}: {name!r} must be {kind}, got a boolean")
    if not isinstance(value, kinds):
        raise StateError(f"state {where}: {name!r} must be {kind}, got {type(value).__name__}")
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise StateError(f"state {where}: {name!r} is negative")
    return value


def count(doc: Mapping[str, Any], name: str, where: str) -> int:
    value: int = field(doc, name, int, where)
    return value


def _str_map(value: object, where: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise StateError(f"state {where}: expected a mapping of strings")
    return value


def _opt(value: object, kind: type, where: str) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        raise StateError(f"state {where}: expected {kind.__name__} or null")
    if isinstance(value, int) and value < 0 and kind is int:
        raise StateError(f"state {where}: negative")
    return value


def _path(value: object, where: str) -> str:
    if not isinstance(value, str) or not paths.is_valid_key(value):
        raise StateError(f"state {where}: {value!r} is not a valid key")
    return value


def decode_entry(raw: object, where: str) -> Entry:
    """An :class:`~omnistorage.sync._entry.Entry` from its state form, checked."""
    if not isinstance(raw, list) or len(raw) != 7:
        raise StateError(f"state {where}: an entry is a list of 7 fields")
    mtime = raw[2]
    if mtime is not None and (isinstance(mtime, bool) or not isinstance(mtime, int)):
        raise StateError(f"state {where}: mtime must be an integer or null")
    return Entry(
        _path(raw[0], where),
        _opt(raw[1], int, where),
        mtime,
        _opt(raw[3], str, where),
        _str_map(raw[4], where),
        _opt(raw[5], str, where),
        _str_map(raw[6], where),
    )


def encode_entry(entry: Entry | None) -> list[object] | None:
    return None if entry is None else list(plain(entry))


def action_doc(action: Action) -> list[object]:
    """The state form of a copy, update or delete."""
    return [
        action.op,
        action.path,
        action.reason,
        action.size,
        action.source,
        encode_entry(action.entry),
        encode_entry(action.other),
    ]


def decode_action(raw: object, where: str) -> Action:
    """An :class:`~omnistorage.sync.Action` from its state form, checked: an op this
    engine plans, a valid path, an entry for that same path."""
    if not isinstance(raw, list) or len(raw) != 7:
        raise StateError(f"state {where}: an action is a list of 7 fields")
    op, path, reason, size, source, entry, other = raw
    if op not in _OPS:
        raise StateError(f"state {where}: unknown action {op!r}")
    path = _path(path, where)
    if not isinstance(reason, str) or source is not None:
        raise StateError(f"state {where}: bad reason or source")
    if entry is None:
        raise StateError(f"state {where}: {op} of {path!r} carries no entry")
    decoded = decode_entry(entry, where)
    if decoded.path != path:
        raise StateError(f"state {where}: the entry of {path!r} names {decoded.path!r}")
    other_entry = None if other is None else decode_entry(other, where)
    if other_entry is not None and other_entry.path != path:
        raise StateError(f"state {where}: the destination entry of {path!r} names another path")
    return Action(op, path, reason, _opt(size, int, where), None, decoded, other_entry)


def read_actions(state: Store, key: str, job: str, index: int) -> list[Action]:
    doc = read_doc(state, key, job)
    if doc.get("index") != index:
        raise StateError(f"state {key!r}: index {doc.get('index')!r}, expected {index}")
    raw = field(doc, "actions", list, key)
    return [decode_action(item, f"{key}[{n}]") for n, item in enumerate(raw)]


def write_entries(state: Store, key: str, entries: Iterator[Entry]) -> int:
    """Stream ``entries`` (sorted) to ``key`` as JSON lines; the number written."""
    written = 0
    with state.open_writer(key, overwrite=True) as out:
        batch: list[bytes] = []
        for entry in entries:
            batch.append(orjson.dumps(list(plain(entry))))
            written += 1
            if len(batch) >= 1000:
                out.write(b"\n".join(batch) + b"\n")
                batch = []
        if batch:
            out.write(b"\n".join(batch) + b"\n")
    return written


def read_entries(state: Store, key: str, prefix: str) -> Iterator[Entry]:
    """The entries of a listing shard, checked: valid keys under ``prefix``, sorted."""
    last = ""
    for number, line in enumerate(_lines(state, key), 1):
        where = f"{key}:{number}"
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise StateError(f"state {where} is not JSON: {exc}") from None
        entry = decode_entry(raw, where)
        if not entry.path.startswith(prefix) or entry.path <= last:
            raise StateError(f"state {where}: {entry.path!r} out of order or place")
        last = entry.path
        yield entry


def _lines(state: Store, key: str) -> Iterator[bytes]:
    """The lines of ``key``, read in blocks (a reader need not offer ``readline``)."""
    rest = b""
    with state.read(key) as stream:
        while block := stream.read(1 << 20):
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            yield from lines
    if rest:
        yield rest


MANIFEST = "manifest.json"


def job_ident(fields: Mapping[str, Any]) -> str:
    """The identity of a job from what decides it (stores, mode, options): the same
    fields give the same id, so a state holding it resumes."""
    return hashlib.sha256(orjson.dumps(dict(fields), option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]


def read_manifest(state: Store, ident: str, mode: str | None = None) -> dict[str, Any] | None:
    """The manifest of the job ``ident``, ``None`` when the state has none. Raises
    :class:`StateError` when the state holds another job's (other stores, mode or
    options) or a manifest whose job id is not of ``ident`` (or of another ``mode``)."""
    try:
        doc = read_doc(state, MANIFEST, None)
    except NotFound:
        return None
    if doc.get("ident") != ident:
        raise StateError(
            f"the state holds job {doc.get('ident')!r}, not this one ({ident}): other stores "
            "or options; give this job its own state location"
        )
    job = field(doc, "job", str, MANIFEST)
    if not job.startswith(ident + "-") or (mode is not None and doc.get("mode") != mode):
        raise StateError(f"state {MANIFEST}: job {job!r} is not of {ident}")
    field(doc, "finished", bool, MANIFEST)
    return doc


def decode_error(raw: object, where: str, op: str) -> ErrorEntry:
    """An error entry of a state document, checked (``op`` when it names none)."""
    if not isinstance(raw, dict):
        raise StateError(f"state {where}: an error is an object")
    path = raw.get("path")
    if path is not None and not isinstance(path, str):
        raise StateError(f"state {where}: an error's path is a string or null")
    return ErrorEntry(
        path,
        str(raw.get("op", op)),
        str(raw.get("error", "")),
        bool(raw.get("temporary", False)),
        str(raw.get("type", "StorageError")),
    )
