"""The in-memory backend: the reference driver, thread-safe, fully featured.

Objects live in a *space*. ``MemoryBackend()`` has a private space;
``MemoryBackend(name="x")`` joins the named space ``x``, shared by every
open backend of that name in this process and freed when the last one is
garbage collected (``open_store("memory://x")`` uses this).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from omnistorage._staging import int_field
from omnistorage._times import from_ns
from omnistorage.capabilities import Capability, ETagKind, Features
from omnistorage.driver import ExtendedBackend, PinnedReader, WriteOptions, Writer
from omnistorage.errors import VersionMismatch
from omnistorage.models import HashType, Leftover, Location, ObjectInfo
from omnistorage.options import OptionSchema, arguments, text

__all__ = ["MemoryBackend"]


@dataclass(frozen=True, slots=True)
class _Object:
    data: bytes
    modified_ns: int
    content_type: str | None
    metadata: dict[str, str]
    md5: str
    serial: int = 0
    """Which write made it (unique in the process): the version ``delete_version`` checks."""


_SERIALS = itertools.count(1)


@dataclass
class _Space:
    lock: threading.Lock = field(default_factory=threading.Lock)
    objects: dict[str, _Object] = field(default_factory=dict)
    staged: dict[int, tuple[str, _Object, int]] = field(default_factory=dict)
    """Staged writes by serial (``DEFERRED_PUBLISH``): key, object and when it was staged
    (ns), in this process only. Listed as leftovers until published or discarded."""


_NAMED: weakref.WeakValueDictionary[str, _Space] = weakref.WeakValueDictionary()
_NAMED_LOCK = threading.Lock()

_FEATURES = Features.of(
    [
        Capability.READ,
        Capability.WRITE,
        Capability.DELETE,
        Capability.LIST,
        Capability.METADATA,
        Capability.COPY,
        Capability.MOVE,
        Capability.ATOMIC_WRITE,
        Capability.CONDITIONAL_WRITE,
        Capability.RANGE_READ,
        Capability.SET_MOD_TIME,
        Capability.USER_METADATA,
        Capability.CONTENT_TYPE,
        Capability.PINNED_READ,
        Capability.READ_INFO,
        Capability.CONDITIONAL_DELETE,
        Capability.DEFERRED_PUBLISH,
    ],
    [HashType.MD5],
    mtime_precision_ns=1,  # kept as given, in integer nanoseconds
    etag=ETagKind.MD5,
    strong_version=True,
)

OPTIONS = OptionSchema(
    "memory",
    text("name", nullable=True, nonempty=False, example="omni-space"),
)
"""The options of :class:`MemoryBackend`."""


class MemoryBackend(ExtendedBackend):
    """Objects in a dict, behind a lock. Writes publish atomically on close."""

    name = "memory"
    options_schema = OPTIONS
    may_declare = _FEATURES.capabilities

    def __init__(self, *, name: str | None = None) -> None:
        self.check_config(arguments(locals()))
        if name:
            with _NAMED_LOCK:
                space = _NAMED.get(name)
                if space is None:
                    space = _Space()
                    _NAMED[name] = space
        else:
            space = _Space()
        self._space = space
        self._label = name or ""

    def __repr__(self) -> str:
        return f"MemoryBackend(name={self._label!r})"

    def features(self) -> Features:
        return _FEATURES

    def locations(self) -> tuple[Location, ...]:
        # Handles of one named space are one place; an unnamed space is its own.
        return (Location("memory", f"space:{id(self._space):x}"),)

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return _MemoryWriter(self._space, key, options)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        obj = self._get(key)
        end = None if length is None else offset + length
        reader = _Reader(obj.data[offset:end])
        if offset == 0 and length is None:
            reader.info = _info(key, obj)
        return reader

    def exists(self, key: str) -> bool:
        return key in self._space.objects

    def delete(self, key: str) -> None:
        with self._space.lock:
            self._space.objects.pop(key, None)

    def delete_version(self, key: str, version: str) -> None:
        with self._space.lock:
            obj = self._space.objects.get(key)
            if obj is None:
                return
            if f"{obj.serial}" != version:
                raise VersionMismatch(f"{key!r} holds another version than {version!r}")
            del self._space.objects[key]

    def publish_staged(self, key: str, staged: Mapping[str, Any], *, overwrite: bool) -> str:
        serial = int_field(staged, "serial", 1, 2**63)
        with self._space.lock:
            entry = self._space.staged.get(serial)
            if entry is None or entry[0] != key:
                obj = self._space.objects.get(key)
                if obj is not None and obj.serial == serial:
                    return f"{serial}"  # published already: a retry after a lost reply
                raise FileNotFoundError(f"nothing staged for {key!r} under that token")
            if not overwrite and key in self._space.objects:
                raise FileExistsError(f"object {key!r} exists")
            del self._space.staged[serial]
            self._space.objects[key] = entry[1]
        return f"{serial}"

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        """Staged objects nobody published or discarded (a dead job's)."""
        with self._space.lock:
            entries = [(n, e) for n, e in self._space.staged.items() if e[0].startswith(prefix)]
        for serial, (key, obj, staged_ns) in entries:
            yield Leftover(
                kind="staged-object",
                key=key,
                native=f"memory:{key}#staged-{serial}",
                size=len(obj.data),
                started=from_ns(staged_ns),
                handle=f"{serial}",
            )

    def remove_leftover(self, leftover: Leftover) -> None:
        with self._space.lock:
            self._space.staged.pop(int(leftover.handle), None)

    def abort_staged(self, key: str, staged: Mapping[str, Any]) -> None:
        serial = int_field(staged, "serial", 1, 2**63)
        with self._space.lock:
            entry = self._space.staged.get(serial)
            if entry is not None and entry[0] == key:
                del self._space.staged[serial]

    def delete_many(self, keys: Iterable[str]) -> None:
        with self._space.lock:
            for key in keys:
                self._space.objects.pop(key, None)

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        # Snapshot the keys only (8 bytes each: a million-key listing stays small); each
        # object is looked up as the listing reaches it, like a paged listing would.
        objects = self._space.objects
        with self._space.lock:
            keys = [k for k in objects if k.startswith(prefix)]
        cut = len(prefix)
        folders: set[str] = set()
        for key in keys:
            obj = objects.get(key)
            if obj is None:
                continue  # deleted since the snapshot
            if not recursive:
                slash = key.find("/", cut)
                if slash >= 0:
                    folder = key[:slash]
                    if folder not in folders:
                        folders.add(folder)
                        yield ObjectInfo(path=folder, is_dir=True)
                    continue
            yield _info(key, obj)

    def stat(self, key: str) -> ObjectInfo:
        return _info(key, self._get(key))

    def open_pinned(self, key: str) -> PinnedReader:
        # Stored bytes are immutable: holding them pins this version.
        return _MemoryPinned(self._locked_get(key))

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        with self._space.lock:
            obj = self._locked_get(src)
            self._locked_check_free(dst, overwrite)
            self._space.objects[dst] = obj

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        with self._space.lock:
            obj = self._locked_get(src)
            self._locked_check_free(dst, overwrite)
            self._space.objects[dst] = obj
            del self._space.objects[src]

    def _get(self, key: str) -> _Object:
        obj = self._space.objects.get(key)
        if obj is None:
            raise FileNotFoundError(f"no object {key!r}")
        return obj

    def _locked_get(self, key: str) -> _Object:
        return self._get(key)

    def _locked_check_free(self, key: str, overwrite: bool) -> None:
        if not overwrite and key in self._space.objects:
            raise FileExistsError(f"object {key!r} exists")


def _info(key: str, obj: _Object) -> ObjectInfo:
    return ObjectInfo(
        path=key,
        size=len(obj.data),
        modified_ns=obj.modified_ns,
        content_type=obj.content_type,
        etag=obj.md5,
        hashes={HashType.MD5: obj.md5},
        metadata=dict(obj.metadata),
    )


class _Reader(io.BytesIO):
    info: ObjectInfo | None = None


class _MemoryPinned(PinnedReader):
    def __init__(self, obj: _Object) -> None:
        self._data = obj.data
        self.size = len(obj.data)
        self.version = obj.md5

    def read_range(self, offset: int, length: int) -> bytes:
        return self._data[offset : offset + length]


class _MemoryWriter(Writer):
    def __init__(self, space: _Space, key: str, options: WriteOptions) -> None:
        self._space = space
        self._key = key
        self._options = options
        self._chunks: list[bytes] = []
        self._done = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._done:
            raise ValueError("write to a finished writer")
        self._chunks.append(bytes(data))
        return len(data)

    def close(self) -> None:
        obj = self._finish()
        with self._space.lock:
            if not self._options.overwrite and self._key in self._space.objects:
                raise FileExistsError(f"object {self._key!r} exists")
            self._space.objects[self._key] = obj
        self.version = f"{obj.serial}"

    def stage(self) -> dict[str, Any]:
        obj = self._finish()
        with self._space.lock:
            self._space.staged[obj.serial] = (self._key, obj, time.time_ns())
        return {"serial": obj.serial}

    def _finish(self) -> _Object:
        if self._done:
            raise ValueError("writer already finished")
        self._done = True
        data = b"".join(self._chunks)
        self._chunks = []
        options = self._options
        return _Object(
            data=data,
            modified_ns=time.time_ns() if options.modified_ns is None else options.modified_ns,
            content_type=options.content_type,
            metadata=dict(options.metadata),
            md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
            serial=next(_SERIALS),
        )

    def abort(self) -> None:
        self._done = True
        self._chunks = []
