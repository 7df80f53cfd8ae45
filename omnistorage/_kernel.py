"""The I/O-free half of the Store contract, shared by :class:`omnistorage.Store` and
:class:`omnistorage.aio.AsyncStore` (httpx's ``Client``/``AsyncClient`` share one core
the same way).

:class:`StoreKernel` holds what both stores decide without touching the backend:
the key grammar and the root (:mod:`omnistorage.paths`), capability checks
before any I/O, the one error boundary (:func:`~omnistorage.errors.map_error`
over the driver's ``classify_error``), the options a write is opened with,
native paths and the typed escape hatch. The subclasses hold only the I/O:
the sync Store calls its driver, the async one awaits it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Generic, NamedTuple, Protocol, TypeVar, overload

from omnistorage import paths
from omnistorage._content import Hashes, check_metadata, hash_kinds
from omnistorage._glob import compile_glob, static_prefix
from omnistorage._listing import ForeignKeys
from omnistorage._times import ModTime, split_mtime
from omnistorage.capabilities import Capability, Features
from omnistorage.driver import WriteOptions
from omnistorage.errors import (
    AlreadyExists,
    BackendClosed,
    CapabilityNotSupported,
    Classification,
    ConfigurationError,
    DirectoryNotEmpty,
    ErrorKind,
    InvalidPath,
    NotFound,
    StorageError,
    map_error,
    native_cause,
)
from omnistorage.models import HashType, Location, ResolutionPlan

__all__ = ["DriverFacts", "StoreKernel", "WritePlan"]

T = TypeVar("T")


class DriverFacts(Protocol):
    """What the kernel reads from a driver, sync or async: nothing here does I/O."""

    name: str
    closed: bool
    secret_values: tuple[str, ...]

    def classify_error(self, exc: BaseException) -> Classification: ...

    def native_path(self, key: str) -> str: ...

    def key_from_native(self, native: str) -> str | None: ...

    def as_native(self, kind: type[T]) -> T | None: ...

    def locations(self) -> tuple[Location, ...]: ...

    def resolution_steps(self, key: str) -> tuple[str, ...]: ...

    def features(self) -> Features: ...


B = TypeVar("B", bound=DriverFacts)


class WritePlan(NamedTuple):
    """Every decision of a write made before any I/O (:meth:`StoreKernel._write_plan`)."""

    key: str
    options: WriteOptions
    kinds: tuple[HashType, ...]
    """The hash types to compute while the bytes stream."""
    check_first: bool
    """Create-only on a backend without ``CONDITIONAL_WRITE``: check that no file is
    there before writing (a documented race)."""


class StoreKernel(Generic[B]):
    """A folder (``root``) inside one driver, and every decision that needs no I/O."""

    __slots__ = ("_backend", "_caps", "_features", "_prefix", "_root")

    _DRIVER: ClassVar[type[Any]] = object
    """The driver class this kind of store takes."""
    _OTHER_DRIVER: ClassVar[str] = ""
    """Where a driver of the other kind goes (said when one is passed)."""

    def __init__(self, backend: B, root: str = "") -> None:
        if not isinstance(backend, self._DRIVER):
            raise ConfigurationError(
                f"{type(self).__name__} needs a driver of type {self._DRIVER.__name__}, "
                f"got {type(backend).__name__}; {self._OTHER_DRIVER}"
            )
        self._backend = backend
        self._root = paths.validate_folder(root)
        self._prefix = paths.folder_prefix(self._root)
        features: Features = backend.features()
        self._features = features
        self._caps = features.capabilities

    # ------------------------------------------------------------------ facts

    @property
    def root(self) -> str:
        """This store's folder inside the backend (``""`` for the backend root)."""
        return self._root

    @property
    def features(self) -> Features:
        """The backend's declared features."""
        return self._features

    def supports(self, capability: Capability) -> bool:
        """True when the backend natively does ``capability`` (see :class:`Capability`)."""
        return capability in self._caps

    @property
    def locations(self) -> tuple[Location, ...]:
        """Where this store points: its backend's locations with the root below them
        (several for a mirror or composite: one per member)."""
        return tuple(place.child(self._root) for place in self._backend.locations())

    def overlaps(self, other: StoreKernel[Any]) -> bool:
        """This store's folder and ``other``'s are one place or one lies inside the other,
        on any of their locations. Judged by :class:`~omnistorage.models.Location` (two
        handles opened separately on one place overlap), never by handle."""
        return any(a.overlaps(b) for a in self.locations for b in other.locations)

    def __repr__(self) -> str:
        # The backend's repr names its location (folder, bucket, host), never secrets.
        return f"{type(self).__name__}({self._backend!r}, root={self._root!r})"

    def resolve(self, path: str) -> ResolutionPlan:
        """Where ``path`` goes: backend name, backend key, native path, and the steps of
        the resolution (one for plain backends; the tiers tried for a composite)."""
        key = self._folder_key(path)
        try:
            steps = self._backend.resolution_steps(key)
        except Exception as exc:
            raise self._fail(exc, "resolve", path) from native_cause(exc)
        return ResolutionPlan(
            path=path,
            backend=self._backend.name,
            key=key,
            native_path=self._backend.native_path(key),
            steps=tuple(steps),
        )

    def native_path(self, path: str = "") -> str:
        """The backend's own name for ``path`` (``/abs/dir/file``, ``s3://bucket/key``)."""
        return self._backend.native_path(self._folder_key(path))

    def to_key(self, native: str) -> str:
        """The store-relative key for one of the backend's native paths.

        Raises ``InvalidPath`` when ``native`` is not a path of this backend
        or lies outside this store's root.
        """
        self._check_open()
        key = self._backend.key_from_native(native)
        if key is None or not paths.is_within(key, self._root) or key == self._root:
            raise InvalidPath(f"{native!r} is not a path inside {self!r}", path=native)
        return paths.validate_key(paths.relative_to(key, self._root))

    @overload
    def unwrap(self) -> B: ...

    @overload
    def unwrap(self, kind: type[T]) -> T: ...

    def unwrap(self, kind: type[Any] | None = None) -> Any:
        """The driver (no argument), or the driver or its native client if it is a ``kind``.

        The typed escape hatch (Go CDK's ``As``): ``store.unwrap(LocalBackend)``,
        ``store.unwrap(botocore.client.BaseClient)``. ``CapabilityNotSupported``
        when the backend has nothing of that type.
        """
        if kind is None or isinstance(self._backend, kind):
            return self._backend
        native = self._backend.as_native(kind)
        if native is None:
            raise CapabilityNotSupported(
                f"{self._backend.name} backend has no {kind.__name__}",
                backend=self._backend.name,
                op="unwrap",
            )
        return native

    # ------------------------------------------------------------------ checks

    def _check_open(self) -> None:
        if self._backend.closed:
            raise BackendClosed(
                f"{self._backend.name} backend is closed", backend=self._backend.name
            )

    def _key(self, path: str, capability: Capability | None, op: str) -> str:
        if self._backend.closed:
            raise BackendClosed(
                f"{op} {path!r}: {self._backend.name} backend is closed",
                path=path if isinstance(path, str) else None,
                backend=self._backend.name,
                op=op,
            )
        if capability is not None and capability not in self._caps:
            self._require(capability, op, path)
        return self._prefix + paths.validate_key(path)

    def _ping_key(self) -> str:
        """A name in the reserved temp namespace (never a user's file) whose existence
        a store without ``LIST`` asks about to learn that its backend answers."""
        return self._prefix + ".omnistorage-tmp-ping"

    def _folder_key(self, path: str, capability: Capability | None = None, op: str = "") -> str:
        self._check_open()
        if capability is not None:
            self._require(capability, op, path)
        return paths.join(self._root, paths.validate_folder(path))

    def _require(self, capability: Capability, op: str, path: str | None) -> None:
        if capability not in self._caps:
            raise CapabilityNotSupported(
                f"{op} {path!r}: the {self._backend.name} backend does not support "
                f"{capability.value}",
                path=path,
                backend=self._backend.name,
                op=op,
            )

    def _write_plan(
        self,
        path: str,
        overwrite: bool,
        content_type: str | None,
        metadata: Mapping[str, str] | None,
        modified: ModTime | None,
        size_hint: int | None,
        hashes: Hashes,
    ) -> WritePlan:
        """Every check of a write before any I/O: the key, the hash types, the
        capabilities its options need, and the options the driver gets."""
        key = self._key(path, Capability.WRITE, "write")
        kinds = hash_kinds(hashes)
        if content_type is not None:
            self._require(Capability.CONTENT_TYPE, "write", path)
        if metadata:
            self._require(Capability.USER_METADATA, "write", path)
            check_metadata(metadata, path)
        when: datetime | None = None
        ns: int | None = None
        if modified is not None:
            when, ns = split_mtime(modified)
            self._require(Capability.SET_MOD_TIME, "write", path)
        options = WriteOptions(
            overwrite=overwrite,
            content_type=content_type,
            metadata=dict(metadata or {}),
            modified=when,
            size_hint=size_hint,
            modified_ns=ns,
        )
        check_first = not overwrite and Capability.CONDITIONAL_WRITE not in self._caps
        # tuple.__new__ skips the NamedTuple's Python-level __new__ (on every write).
        return tuple.__new__(WritePlan, (key, options, kinds, check_first))

    def _transfer_keys(self, op: str, src: str, dst: str) -> tuple[str, str]:
        """The keys of a copy or move, with the capabilities it needs checked."""
        src_key = self._key(src, Capability.READ, op)
        dst_key = self._key(dst, Capability.WRITE, op)
        if op == "move":
            self._require(Capability.DELETE, op, src)
        return src_key, dst_key

    def _glob_plan(self, pattern: str) -> tuple[str, re.Pattern[str], int | None]:
        """For a glob with wildcards: the folder to list (its literal head), the pattern
        compiled, and the levels below that folder it can match (``None``: any, ``**``)."""
        base = static_prefix(pattern)
        if base:
            paths.validate_folder(base)
        regex = compile_glob(pattern)
        levels = None if "**" in pattern else paths.depth(pattern) - paths.depth(base)
        return base, regex, levels

    # ------------------------------------------------------------------ errors

    def _not_empty(self, path: str) -> DirectoryNotEmpty:
        return DirectoryNotEmpty(
            f"delete {path!r} on {self._backend.name}: folder not empty (use recursive=True)",
            path=path,
            backend=self._backend.name,
            op="delete",
        )

    def _foreign_left(self, path: str, foreign: ForeignKeys) -> DirectoryNotEmpty:
        shown = ", ".join(repr(name) for name in foreign.names[:5])
        return DirectoryNotEmpty(
            f"delete {path!r} on {self._backend.name}: {foreign.count} entr"
            f"{'y is' if foreign.count == 1 else 'ies are'} not valid keys and "
            f"were left alone ({shown}); remove them with the backend's own tools",
            path=path,
            backend=self._backend.name,
            op="delete",
        )

    def _fail(self, exc: BaseException, op: str, path: str | None) -> StorageError:
        backend = self._backend
        try:
            classification = backend.classify_error(exc)
        except Exception:
            classification = Classification(ErrorKind.UNKNOWN)
        return map_error(
            exc,
            classification,
            backend=backend.name,
            op=op,
            path=path,
            secrets=backend.secret_values,
        )

    def _is_kind(self, exc: BaseException, kind: ErrorKind) -> bool:
        try:
            return self._backend.classify_error(exc).kind is kind
        except Exception:
            return False

    def _not_found(self, op: str, path: str) -> NotFound:
        return NotFound(
            f"{op} {path!r} on {self._backend.name}: not found",
            path=path,
            backend=self._backend.name,
            op=op,
        )

    def _already_exists(self, op: str, path: str) -> AlreadyExists:
        return AlreadyExists(
            f"{op} {path!r} on {self._backend.name}: already exists (pass overwrite=True)",
            path=path,
            backend=self._backend.name,
            op=op,
        )
