"""Staged objects: a write that ends stored but unpublished, published later by anyone.

On a backend that declares ``Capability.DEFERRED_PUBLISH``, :func:`open_staged` gives a
streaming writer whose ``close()`` *stages* the object instead of publishing it: every
byte is stored where the backend publishes from (the parts of an S3 multipart upload, a
temp file beside the target on local disks), nothing is visible at the path, and the
writer returns a :class:`StagedObject`, a small token that serialises to JSON
(:meth:`StagedObject.to_json`). Any process holding a store of the same configuration
and root can then :func:`publish` it (create-only or overwriting, as the write asked) or
:func:`discard` it. This is what job commits are built from (:mod:`omnistorage.jobs`).

The token carries no secret: the path (relative to the store), the backend's type name,
the size, the hashes the write asked for, and what the driver needs (an upload id and
part ETags, a temp file's name and identity …). When it comes back it is outside input:
its shape, version and kind are checked, its path goes through the key grammar and is
joined below the store's root (nothing can escape it), and the driver checks its own
fields. A malformed, forged or foreign token raises :class:`InvalidToken` and touches
nothing.

Publishing is idempotent the way a retry needs: a publish retried after a lost reply
that finds its own object at the path succeeds; another writer's object there is
``AlreadyExists`` (create-only); staged data that is gone (discarded, or published and
replaced since) is ``NotFound``. A staged object nobody publishes or discards is a
leftover :meth:`omnistorage.Store.cleanup` removes (temp files, incomplete uploads).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from omnistorage import paths
from omnistorage._io import AtomicWriter
from omnistorage._staging import TokenRejected
from omnistorage._times import ModTime
from omnistorage.capabilities import Capability
from omnistorage.errors import InvalidPath, StorageError, StreamClosed, native_cause
from omnistorage.models import HashType, WriteResult
from omnistorage.store import Store

__all__ = [
    "TOKEN_FORMAT",
    "TOKEN_VERSION",
    "InvalidToken",
    "StagedObject",
    "StagingWriter",
    "discard",
    "open_staged",
    "publish",
]

TOKEN_FORMAT = "omnistorage.staged"
"""The ``format`` field of every serialised token."""
TOKEN_VERSION = 1
"""The token layout this release writes and reads."""
MAX_TOKEN_BYTES = 4 << 20
"""The largest serialised token accepted (10,000 S3 parts take about 0.7 MB)."""

_HASHES = {h.value: h for h in HashType}


class InvalidToken(StorageError, ValueError):
    """A staged-object token that is malformed, of another version or backend, or whose
    driver data fails its checks. Nothing was touched."""


@dataclass(frozen=True, slots=True)
class StagedObject:
    """A staged write, ready to :func:`publish` or :func:`discard` (see the module docs).

    Attributes:
        path: the store-relative path it publishes to.
        backend: the type name of the backend that staged it.
        overwrite: ``False``: publishing is create-only.
        size: the staged bytes.
        hashes: hex digests of the staged bytes, for the hash types the write asked for.
        staged: the driver's data (JSON values only).
    """

    path: str
    backend: str
    overwrite: bool
    size: int
    hashes: Mapping[HashType, str] = field(default_factory=dict)
    staged: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The token as JSON values (what :meth:`to_json` writes)."""
        return {
            "format": TOKEN_FORMAT,
            "version": TOKEN_VERSION,
            "path": self.path,
            "backend": self.backend,
            "overwrite": self.overwrite,
            "size": self.size,
            "hashes": {str(k.value): v for k, v in self.hashes.items()},
            "staged": dict(self.staged),
        }

    def to_json(self) -> str:
        """The token as one line of JSON."""
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, value: object) -> StagedObject:
        """Check and rebuild a token from :meth:`to_dict`'s output; :class:`InvalidToken`
        names the first field that is wrong."""
        if not isinstance(value, Mapping):
            raise InvalidToken("a staged token must be a JSON object", op="publish")
        if value.get("format") != TOKEN_FORMAT:
            raise InvalidToken("not an omnistorage staged token (format)", op="publish")
        if value.get("version") != TOKEN_VERSION:
            raise InvalidToken(
                f"staged token version is not {TOKEN_VERSION} (made by another release?)",
                op="publish",
            )
        path, backend, size = value.get("path"), value.get("backend"), value.get("size")
        overwrite, hashes, staged = value.get("overwrite"), value.get("hashes"), value.get("staged")
        if not isinstance(path, str):
            raise InvalidToken("staged token field 'path' is not a string", op="publish")
        try:
            paths.validate_key(path)
        except InvalidPath as exc:
            raise InvalidToken(
                f"staged token path is not a valid key: {exc}", op="publish"
            ) from None
        if not isinstance(backend, str) or not backend or len(backend) > 64:
            raise InvalidToken("staged token field 'backend' is malformed", op="publish")
        if not isinstance(overwrite, bool):
            raise InvalidToken("staged token field 'overwrite' is not a boolean", op="publish")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidToken("staged token field 'size' is not a size", op="publish")
        if not isinstance(staged, Mapping):
            raise InvalidToken("staged token field 'staged' is not an object", op="publish")
        return cls(path, backend, overwrite, size, _hashes(hashes), dict(staged))

    @classmethod
    def from_json(cls, text: str | bytes) -> StagedObject:
        """Parse and check a token from :meth:`to_json`'s output."""
        if len(text) > MAX_TOKEN_BYTES:
            raise InvalidToken("staged token is larger than 4 MiB", op="publish")
        try:
            value = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            raise InvalidToken("staged token is not JSON", op="publish") from None
        return cls.from_dict(value)


def _hashes(value: object) -> dict[HashType, str]:
    if not isinstance(value, Mapping):
        raise InvalidToken("staged token field 'hashes' is not an object", op="publish")
    out: dict[HashType, str] = {}
    for name, digest in value.items():
        kind = _HASHES.get(name) if isinstance(name, str) else None
        if kind is None or not isinstance(digest, str) or len(digest) > 128:
            raise InvalidToken("staged token field 'hashes' is malformed", op="publish")
        out[kind] = digest
    return out


class StagingWriter(AtomicWriter):
    """An :class:`~omnistorage.AtomicWriter` whose ``close()`` stages (see the module docs).

    ``close()`` returns the :class:`StagedObject` (a second ``close()`` returns it again);
    :meth:`abort`, an exception in the ``with`` block or garbage collection of an unclosed
    writer stage nothing and leave nothing behind.
    """

    def __init__(self, inner: AtomicWriter, backend: str, overwrite: bool) -> None:
        super().__init__(inner._writer, inner._fail, inner.path, hashes=())
        self._hasher = inner._hasher
        inner._done = True  # this writer owns the driver writer now
        self._backend_name = backend
        self._overwrite = overwrite
        self._staged: StagedObject | None = None

    @property
    def staged(self) -> StagedObject | None:
        """The token once :meth:`close` staged the object, else ``None``."""
        return self._staged

    def __enter__(self) -> StagingWriter:
        super().__enter__()
        return self

    def close(self) -> StagedObject:  # type: ignore[override]
        """Stage the object and return its token. On failure nothing is staged."""
        if self._done:
            if self._staged is not None:
                return self._staged
            raise StreamClosed(f"writer {self.path!r} was aborted", path=self.path)
        self._done = True
        try:
            data = self._writer.stage()
            json.dumps(data)  # a driver bug, not a token that cannot travel
        except Exception as exc:
            with contextlib.suppress(Exception):  # the staging error is the one to report
                self._writer.abort()
            raise self._fail(exc, "stage", self.path) from native_cause(exc)
        hashes = self._hasher.digests() if self._hasher is not None else {}
        self._staged = StagedObject(
            self.path, self._backend_name, self._overwrite, self.tell(), hashes, data
        )
        return self._staged

    commit = close  # type: ignore[assignment]


def open_staged(
    store: Store,
    path: str,
    *,
    overwrite: bool = False,
    content_type: str | None = None,
    metadata: Mapping[str, str] | None = None,
    modified: ModTime | None = None,
    size_hint: int | None = None,
    hashes: tuple[HashType | str, ...] | list[HashType | str] = (),
) -> StagingWriter:
    """A streaming writer for ``path`` whose ``close()`` stages instead of publishing.

    Same options as :meth:`omnistorage.Store.open_atomic`. Requires ``DEFERRED_PUBLISH``
    (``CapabilityNotSupported`` before any I/O otherwise). ``overwrite=False`` makes the
    later :func:`publish` create-only.
    """
    paths.validate_key(path)
    store._require(Capability.DEFERRED_PUBLISH, "stage", path)
    inner = store.open_atomic(
        path,
        overwrite=overwrite,
        content_type=content_type,
        metadata=metadata,
        modified=modified,
        size_hint=size_hint,
        hashes=hashes,
    )
    return StagingWriter(inner, store._backend.name, overwrite)


def _checked(store: Store, token: StagedObject, op: str) -> str:
    if not isinstance(token, StagedObject):
        raise TypeError(f"{op} takes a StagedObject, got {type(token).__name__}")
    key = store._key(token.path, Capability.DEFERRED_PUBLISH, op)
    if token.backend != store._backend.name:
        raise InvalidToken(
            f"{op} {token.path!r}: the token was staged by a {token.backend!r} backend, "
            f"not {store._backend.name!r}",
            path=token.path,
            backend=store._backend.name,
            op=op,
        )
    return key


def publish(store: Store, token: StagedObject) -> WriteResult:
    """Publish a staged object at ``token.path`` in ``store``; return what a write returns.

    Raises:
        InvalidToken: the token is malformed, foreign, or its driver data is wrong.
        AlreadyExists: create-only, and another writer's object is there.
        NotFound: the staged data is gone (discarded, or published and replaced since).
    """
    key = _checked(store, token, "publish")
    ext = store._backend
    try:
        version = ext.publish_staged(key, token.staged, overwrite=token.overwrite)
    except TokenRejected as exc:
        raise InvalidToken(
            f"publish {token.path!r}: {exc}", path=token.path, backend=ext.name, op="publish"
        ) from None
    except Exception as exc:
        raise store._fail(exc, "publish", token.path) from native_cause(exc)
    return WriteResult(path=token.path, size=token.size, hashes=token.hashes, version=version)


def discard(store: Store, token: StagedObject) -> None:
    """Remove what ``token`` staged, never a published object; gone already is fine."""
    key = _checked(store, token, "discard")
    ext = store._backend
    try:
        ext.abort_staged(key, token.staged)
    except TokenRejected as exc:
        raise InvalidToken(
            f"discard {token.path!r}: {exc}", path=token.path, backend=ext.name, op="discard"
        ) from None
    except Exception as exc:
        raise store._fail(exc, "discard", token.path) from native_cause(exc)
