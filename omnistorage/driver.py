"""The driver contract: what a backend implements, and what it may assume.

The rule (Go CDK's ``blob`` vs ``blob/driver``): the contract users rely on
is implemented once, in :class:`omnistorage.Store`; a backend is a thin
driver. What a driver may assume:

- Every ``key`` it receives is valid under :mod:`omnistorage.paths` and
  relative to the backend's own root. It never sees ``..``, a leading ``/``
  or a backslash. Folder prefixes passed to :meth:`Backend.list` are ``""``
  or end with ``/``.
- ``options`` is never ``None``.
- The Store has already checked capabilities: an optional method is only
  called when :meth:`Backend.features` declares the capability it
  needs, and user metadata / content type / mtime only arrive when the
  matching capability is declared.
- The backend is not closed (the Store checks :attr:`Backend.closed`).

What a driver must do:

- Raise its **native** exceptions (botocore's, paramiko's, ``OSError`` …)
  and say what they mean in :meth:`Backend.classify_error`. It never builds
  omnistorage errors itself; the Store maps native errors once.
- A missing key must raise something ``classify_error`` calls
  ``NOT_FOUND``; a create-only write that finds a file must raise something
  it calls ``ALREADY_EXISTS`` (from :meth:`Writer.close`, atomically where
  ``CONDITIONAL_WRITE`` is declared).
- Publish nothing before :meth:`Writer.close` returns; publish nothing at
  all after :meth:`Writer.abort` or a failed ``close`` (remove temp files,
  abort multipart uploads). Never publish from ``__del__``.
- Keep memory bounded whatever the object size.
- Be safe to call from several threads at once.
- Keep credentials out of ``repr`` and out of the messages of exceptions it
  raises; list secret values in :attr:`Backend.secret_values` so the error
  mapping can scrub them, and register them with
  :func:`omnistorage._redact.protect_secrets` so SDK logs are scrubbed too.
- Yield listed names as they are stored (``a//b``, ``../x``, a tab): never
  normalise them. The Store checks every listed key against the grammar and
  skips, logs and counts the ones that break it. A driver that lists through
  other stores, or drops entries itself, yields a
  :class:`~omnistorage.models.SkippedEntry` for each one it did not list, so
  the count survives every wrapper.
- Say where it points (:meth:`Backend.locations`), so overlap checks compare
  places, not handles.
- Declare its facts in :class:`~omnistorage.capabilities.Features`; code built
  on top decides by them, never by the driver's name.
- With ``CONDITIONAL_DELETE``: set :attr:`Writer.version` from the publish itself and
  implement :meth:`Backend.delete_version` so it never removes another writer's
  version (what mirrors and composites roll back with).
- A create-only publish that the client library retried and that then fails
  with a conflict must find out whether the object there is its own (a
  token, checksum or ETag it sent) and succeed if so.
- Take ``connect_timeout``, ``read_timeout``, ``retries`` and ``retry_budget``
  options (network backends; defaults and the budget's rule in
  :mod:`omnistorage._net`) so a server that is down, or accepts connections
  and never answers, fails within about 10 s (15 at most) with an error
  classified ``UNAVAILABLE``, temporary.

Folders on object stores (S3, GCS, Azure): a zero-size object named
``<folder>/`` is a *folder marker*, an empty folder. Drivers that keep
markers declare ``MKDIR`` and then: :meth:`Backend.mkdir` writes the
marker; :meth:`Backend.rmdir` deletes it (a folder without a marker
is fine: nothing to do); :meth:`Backend.stat` of a folder key returns
``is_dir=True`` when a marker or any object lies below it. In listings a
marker is yielded as ``ObjectInfo(path=<folder key>, is_dir=True)`` (no
trailing ``/``): by a recursive listing for every marker at or below the
prefix, the prefix folder's own marker included; by a shallow listing as the
sub-folder entry. An object whose name ends with ``/`` but holds bytes is no
marker: it is yielded as a file under its raw name, which the Store then
reports as a foreign key. Such drivers set ``folders_are_markers = True``:
unlike a filesystem's, a folder whose last file is deleted is gone unless a
marker keeps it.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, ClassVar, NoReturn, TypeVar

from omnistorage._bound import (
    bind_capabilities,
    implies,
    needs,
    refusal,
    stand_in,
)
from omnistorage._times import from_ns, to_ns
from omnistorage.capabilities import BASIC_FEATURES, MUTATING_CAPABILITIES, Capability, Features
from omnistorage.errors import Classification, ObjectChanged, VersionMismatch, classify_builtin
from omnistorage.models import Leftover, Location, ObjectInfo
from omnistorage.options import OptionSchema

__all__ = [
    "Backend",
    "ExtendedBackend",
    "ObjectChanged",
    "PinnedReader",
    "ReadOnlyBackend",
    "VersionMismatch",
    "WriteOptions",
    "Writer",
    "as_extended",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """How a write should behave. Drivers receive it fully populated.

    Attributes:
        overwrite: ``False`` means create-only: publishing must fail with an
            error classified ``ALREADY_EXISTS`` if a file exists at the key
            (atomically where the backend declares ``CONDITIONAL_WRITE``).
        content_type: the MIME type to store (only with ``CONTENT_TYPE``).
        metadata: user metadata to store (only with ``USER_METADATA``).
        modified: the modification time to set (only with ``SET_MOD_TIME``), as a UTC
            ``datetime`` truncated to the microsecond.
        size_hint: the total size when the caller knows it (for part sizing).
        modified_ns: the same time in integer nanoseconds since the epoch, exactly as
            the caller gave it. Drivers that keep more than microseconds (local files'
            ``os.utime(ns=...)``, RFC 3339 stamps with nine fraction digits) keep this
            one. Either may be given; the other is derived, and both must agree
            (``ValueError``), as in :class:`~omnistorage.models.ObjectInfo`.
    """

    overwrite: bool = False
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    modified: datetime | None = None
    size_hint: int | None = None
    modified_ns: int | None = None

    def __post_init__(self) -> None:
        ns, when = self.modified_ns, self.modified
        if ns is None:
            if when is not None:
                ns = to_ns(when)
                object.__setattr__(self, "modified_ns", ns)
                object.__setattr__(self, "modified", from_ns(ns))
        elif when is None:
            object.__setattr__(self, "modified", from_ns(ns))
        elif to_ns(when) != ns - ns % 1000:
            raise ValueError(f"modified {when.isoformat()} and modified_ns {ns} differ")


class Writer(abc.ABC):
    """A streaming write to one key that becomes visible only on :meth:`close`."""

    version: str | None = None
    """After a successful :meth:`close`: the token of the version this writer published,
    taken from the publish itself (the reply's ETag or generation, the inode it linked),
    never from a later lookup that could see another writer's version. Drivers that
    declare ``CONDITIONAL_DELETE`` set it, and :meth:`Backend.delete_version`
    accepts it; ``None`` elsewhere. A writer that wraps another forwards it."""

    @abc.abstractmethod
    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Buffer or send ``data``; return ``len(data)``. Nothing is visible yet."""

    @abc.abstractmethod
    def close(self) -> None:
        """Publish the whole object atomically. On failure nothing is published."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Discard everything written. Idempotent; safe after a failed ``close``."""

    def flush(self) -> None:  # noqa: B027 - optional hook with a contract
        """Wait until the backend holds every byte written so far, still invisible.

        A writer that hands parts or blocks to background threads (S3 parts,
        Azure blocks, a mirror's destinations) returns from :meth:`write` before
        they are staged; this waits for them and raises a failed one's error now.
        Nothing is published (that is :meth:`close`). Writers that stage in the
        calling thread have nothing to wait for: the default. A writer that wraps
        another forwards it."""

    def stage(self) -> dict[str, Any]:  # Capability.DEFERRED_PUBLISH
        """End the write *staged*: store every byte where the backend publishes from, publish
        nothing, and return what :meth:`Backend.publish_staged` needs to publish it
        later from any process: a small JSON-able ``dict`` (an upload id and part ETags, a
        temp file's name and identity …), never a secret. Afterwards the writer is finished
        and :meth:`abort` does nothing: the staged bytes live until ``publish_staged`` or
        ``abort_staged``, or until ``cleanup`` removes them as leftovers. On failure nothing
        is staged (whatever was uploaded is discarded) and the error is raised."""
        raise NotImplementedError


class PinnedReader(abc.ABC):
    """Random access to ONE version of an object (``Capability.PINNED_READ``).

    Made by :meth:`Backend.open_pinned`, which pins the version that
    is there at that moment: an open file handle (local, SFTP), the ETag
    (S3, Azure: ``If-Match`` on every ranged request), the generation (GCS),
    the immutable bytes (memory). Once the object is overwritten or deleted,
    :meth:`read_range` raises :class:`~omnistorage.errors.ObjectChanged`
    (classified ``CHANGED``) rather than return bytes of another version.
    Backends whose open handle keeps the old version readable (POSIX files)
    may keep serving it: that is one version too.
    """

    size: int
    """The pinned version's size in bytes."""
    version: str | None = None
    """The pinned version's tag (ETag, generation …), when the backend has one."""

    @abc.abstractmethod
    def read_range(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer only at the end of the object)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the handle or connection. Idempotent."""


class Backend(abc.ABC):
    """The interface every backend implements: five basic methods (abstract) and the
    optional ones, each used by the Store only where :meth:`features` declares its
    capability. The same method set as :class:`~omnistorage.aio.AsyncBackend`.

    Subclasses set :attr:`name` (the type name used in errors and URLs). Each optional
    method is bound to the capability that needs it (``stat`` to ``METADATA``, ``mkdir``
    and ``rmdir`` to ``MKDIR``, ``copy``, ``move``, ``delete_version`` to
    ``CONDITIONAL_DELETE``, ``open_pinned`` to ``PINNED_READ``; see
    :mod:`omnistorage._bound`): a subclass lists in :attr:`may_declare` every capability
    its :meth:`features` may declare, and defining a subclass that may declare one without
    implementing its methods raises ``TypeError``. A subclass that implements
    :meth:`list_leftovers` implements (or refuses) :meth:`remove_leftover` too.
    """

    name: str = "backend"
    closed: bool = False
    secret_values: tuple[str, ...] = ()
    """Values the error mapping scrubs from messages (passwords, keys)."""
    options_schema: ClassVar[OptionSchema | None] = None
    """The constructor's options, declared once (:mod:`omnistorage.options`): what
    :meth:`check_config` checks, for configuration files and for the constructor alike."""
    folders_are_markers: bool = False
    """True when folders are zero-size ``name/`` markers (object stores), not real ones."""
    may_declare: ClassVar[frozenset[Capability]] = BASIC_FEATURES.capabilities
    """Every capability this class's :meth:`features` may declare (features may depend on
    configuration; this is their union). Checked against the methods when the class is
    defined; :meth:`features` refuses to declare more (``TypeError``)."""

    @needs(Capability.WRITE)
    @abc.abstractmethod
    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        """Start a write to ``key``. May fail early (e.g. the folder is a file)."""

    @needs(Capability.READ)
    @abc.abstractmethod
    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        """Open ``key`` for streaming reads from ``offset`` for ``length`` bytes (``None``: to
        the end). A missing key raises an error classified ``NOT_FOUND`` — at the latest on the
        first read. An offset past the end gives an empty stream.

        A backend that declares ``READ_INFO`` returns, for a whole read (``offset`` 0, no
        ``length``), a reader with an ``info`` attribute: the :class:`ObjectInfo` (path =
        ``key``) of the version being read, as :meth:`Backend.stat` would give it."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """True when a *file* is stored at ``key`` (folders do not count)."""

    @needs(Capability.DELETE)
    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Delete the file at ``key``; deleting a missing key is not an error."""

    @needs(Capability.LIST)
    @abc.abstractmethod
    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        """List under ``prefix`` (``""`` or ending with ``/``), lazily, in any order.

        ``recursive=True`` yields every file below the prefix. ``recursive=False`` yields the
        files directly in it and one ``is_dir=True`` entry per immediate sub-folder. Paths are
        full keys relative to the backend root. Temporary files of in-flight writes are never
        listed.
        """

    def close(self) -> None:
        """Release connections and clients. Later Store calls raise ``BackendClosed``."""
        self.closed = True

    def classify_error(self, exc: BaseException) -> Classification:
        """Say what a native exception raised by this driver means.

        The default understands Python's builtin ``OSError`` family; drivers
        extend it for their client library's exceptions.
        """
        return classify_builtin(exc)

    @classmethod
    def check_config(cls, options: Mapping[str, object]) -> None:
        """Check constructor ``options`` without I/O or connecting: names, types, ranges,
        URL schemes, options that need or exclude each other. Raise
        :class:`~omnistorage.errors.ConfigurationError` naming the option, never echoing
        a value (it may be a secret). Called by configuration validation before any
        backend is built; the constructor must check the same, first thing
        (``self.check_config(omnistorage.options.arguments(locals()))``).

        The default checks :attr:`options_schema`; a backend declares its options there
        rather than overriding this."""
        if cls.options_schema is not None:
            cls.options_schema.check(options)

    def native_path(self, key: str) -> str:
        """The backend's own name for ``key`` (``s3://bucket/k``, ``/abs/file``)."""
        return f"{self.name}:{key}"

    def locations(self) -> tuple[Location, ...]:
        """Where the backend's root is: one :class:`~omnistorage.models.Location` for a
        plain driver, every member's for a wrapper over several (a mirror, tiers). No I/O
        beyond what the driver already did to connect.

        The default knows only this handle (``instance:<id>``), so two handles on one place
        look distinct: every driver that can name its place overrides it."""
        return (Location(self.name, f"instance:{id(self):x}"),)

    def key_from_native(self, native: str) -> str | None:
        """The key for one of this backend's native paths, or ``None`` if it is not one."""
        prefix = f"{self.name}:"
        return native[len(prefix) :] if native.startswith(prefix) else None

    def as_native(self, kind: type[T]) -> T | None:
        """The native client of type ``kind`` (boto3 client, paramiko SFTPClient …), if any."""
        return None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        bind_capabilities(cls)

    def features(self) -> Features:
        """What this backend really does (see :mod:`omnistorage.capabilities`).

        Whatever it answers lies within :attr:`may_declare` (else ``TypeError``)."""
        return BASIC_FEATURES

    @needs(Capability.METADATA)
    def stat(self, key: str) -> ObjectInfo:
        """Info for the file at ``key``; a missing file raises a ``NOT_FOUND`` error.
        With ``MKDIR``, a real folder returns ``is_dir=True``."""
        raise NotImplementedError

    @needs(Capability.MKDIR)
    def mkdir(self, key: str) -> None:
        """Create the folder ``key`` and its parents; an existing folder is fine."""
        raise NotImplementedError

    @needs(Capability.MKDIR)
    def rmdir(self, key: str) -> None:
        """Remove the empty folder ``key`` (``DIRECTORY_NOT_EMPTY`` if it is not)."""
        raise NotImplementedError

    @needs(Capability.COPY)
    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        """Copy a file server-side; ``overwrite=False`` fails with ``ALREADY_EXISTS``."""
        raise NotImplementedError

    @needs(Capability.MOVE)
    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        """Move a file server-side; ``overwrite=False`` fails with ``ALREADY_EXISTS``."""
        raise NotImplementedError

    @needs(Capability.CONDITIONAL_DELETE)
    def delete_version(self, key: str, version: str) -> None:
        """Delete the file at ``key`` only while it is still ``version`` (a
        :attr:`Writer.version`), atomically against other writers. Another version there
        raises something ``classify_error`` calls ``PRECONDITION_FAILED`` and is left
        alone; a missing file is fine (the version is gone either way). Either outcome
        means: ``version`` is no longer at ``key``."""
        raise NotImplementedError

    @needs(Capability.PINNED_READ)
    def open_pinned(self, key: str) -> PinnedReader:
        """Pin the version of the file at ``key`` that is there now (see :class:`PinnedReader`).
        A missing file raises a ``NOT_FOUND`` error."""
        raise NotImplementedError

    @needs(Capability.DEFERRED_PUBLISH)
    def publish_staged(self, key: str, staged: Mapping[str, Any], *, overwrite: bool) -> str | None:
        """Publish at ``key`` what a :meth:`Writer.stage` for ``key`` staged; return the
        published version (as :attr:`Writer.version`). ``staged`` came from outside: check
        every field at this point and raise :class:`~omnistorage._staging.TokenRejected`
        for a malformed one, never touch anything outside ``key``'s place. Create-only
        (``overwrite=False``) is kept as for :meth:`Writer.close`. A publish retried after a
        lost reply that finds its own object at ``key`` returns as a success; staged data
        that is gone (aborted, or published and replaced since) raises ``NOT_FOUND``."""
        raise NotImplementedError

    @needs(Capability.DEFERRED_PUBLISH)
    def abort_staged(self, key: str, staged: Mapping[str, Any]) -> None:
        """Discard what :meth:`Writer.stage` staged for ``key``; gone already is fine. Never
        touches a published object. The same checks of ``staged`` as :meth:`publish_staged`."""
        raise NotImplementedError

    @implies("remove_leftover")
    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        """What crashed writers left under ``prefix`` (``""`` or ending with ``/``): temp
        files, incomplete multipart uploads, uncommitted blocks … including those of writers
        that may still be running (the Store filters by age). Nothing by default."""
        return iter(())

    @stand_in
    def remove_leftover(self, leftover: Leftover) -> None:
        """Remove one leftover reported by :meth:`list_leftovers`; gone already is fine."""
        raise NotImplementedError

    def resolution_steps(self, key: str) -> tuple[str, ...]:
        """How ``key`` resolves, step by step, for :meth:`omnistorage.Store.resolve` (a
        composite lists the tiers it tried and the one that answered). No I/O beyond
        what answering needs."""
        return (self.native_path(key),)

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete several files (batched where the service allows). Missing keys are fine."""
        for key in keys:
            self.delete(key)

    def read_object(self, key: str) -> bytes:
        """The whole object at ``key``. Drivers override it where one call is cheaper than
        opening a stream (one ``GET``)."""
        reader = self.new_reader(key)
        try:
            return reader.read()
        finally:
            reader.close()

    def write_object(
        self, key: str, data: bytes | bytearray | memoryview, options: WriteOptions
    ) -> str | None:
        """Write ``data`` to ``key`` as one object, atomically, with the same rules as a
        writer (create-only unless ``options.overwrite``), and return the version it
        published (:attr:`Writer.version`). Drivers override it where one call is cheaper
        than a writer; whatever stops it before it returns publishes nothing."""
        writer = self.new_writer(key, options)
        try:
            writer.write(data)
            writer.close()
        except BaseException:
            with contextlib.suppress(Exception):  # the write's own error is the one to report
                writer.abort()
            raise
        return writer.version

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


ExtendedBackend = Backend
"""The name the whole interface had when :class:`Backend` held only the basics; every
:class:`Backend` now has the whole method set, and the two names are one class."""


bind_capabilities(Backend)  # its own features() answers are checked too


class ReadOnlyBackend(Backend):
    """The refusals of a driver that changes nothing, written once: every write, delete,
    conditional delete, copy, move, folder change and leftover removal raises
    :attr:`refusal_error` with ``"<what>: <subject> is read-only"`` (the Store refuses
    them earlier, with ``CapabilityNotSupported`` before any I/O, since such a driver
    declares none of the capabilities that change data; these refusals are for callers
    of the driver itself).

    Subclass it first (``class HTTPBackend(ReadOnlyBackend)``, or before another base:
    ``class ReadOnlyLayer(ReadOnlyBackend, Layer)``). :attr:`may_declare` excludes every
    capability that changes data, and a refusal implements no capability: a read-only
    class that declares one fails when it is defined. A subclass lists in
    :attr:`may_declare` the read capabilities it has (``READ`` and ``LIST`` here).
    """

    may_declare = frozenset({Capability.READ, Capability.LIST})
    refusal_error: ClassVar[type[PermissionError]] = PermissionError
    """The error every refusal raises (a ``PermissionError``: classified
    ``PERMISSION_DENIED``)."""
    refusal_subject: ClassVar[str | None] = None
    """What the message calls the read-only thing; ``None``: ``"the <name> backend"``."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        changing = cls.may_declare & MUTATING_CAPABILITIES
        if changing:
            names = ", ".join(f"Capability.{c.name}" for c in sorted(changing))
            raise TypeError(
                f"{cls.__module__}.{cls.__qualname__} is read-only but may declare {names}, "
                "which change data: leave them out of may_declare"
            )
        super().__init_subclass__(**kwargs)

    def _refuse(self, what: str) -> NoReturn:
        subject = self.refusal_subject or f"the {self.name} backend"
        raise self.refusal_error(f"{what}: {subject} is read-only")

    @refusal
    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        self._refuse(f"write {key!r}")

    @refusal
    def delete(self, key: str) -> None:
        self._refuse(f"delete {key!r}")

    @refusal
    def delete_many(self, keys: Iterable[str]) -> None:
        self._refuse("delete")

    @refusal
    def delete_version(self, key: str, version: str) -> None:
        self._refuse(f"delete {key!r}")

    @refusal
    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._refuse(f"copy to {dst!r}")

    @refusal
    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._refuse(f"move {src!r}")

    @refusal
    def mkdir(self, key: str) -> None:
        self._refuse(f"mkdir {key!r}")

    @refusal
    def rmdir(self, key: str) -> None:
        self._refuse(f"rmdir {key!r}")

    @refusal
    def remove_leftover(self, leftover: Leftover) -> None:
        self._refuse(f"cleanup {leftover.native!r}")

    @refusal
    def publish_staged(self, key: str, staged: Mapping[str, Any], *, overwrite: bool) -> None:
        self._refuse(f"publish {key!r}")

    @refusal
    def abort_staged(self, key: str, staged: Mapping[str, Any]) -> None:
        self._refuse(f"discard the staged {key!r}")


def as_extended(backend: Backend) -> Backend:
    """``backend`` itself: every :class:`Backend` has the whole interface now (kept for
    callers written when the optional methods lived on ``ExtendedBackend``)."""
    return backend
