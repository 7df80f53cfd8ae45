"""The async driver contract: what an async backend implements, and what it may assume.

It is :mod:`omnistorage.driver`'s contract with the I/O methods awaited, and the same
rules hold (read that module's docstring): keys arrive valid and relative to the
backend's root; the store checks capabilities before it calls an optional method;
drivers raise their **native** exceptions and say what they mean in
:meth:`AsyncBackend.classify_error` (the store maps them once); nothing is visible
before :meth:`AsyncWriter.close` returns and nothing at all after
:meth:`AsyncWriter.abort`; memory stays bounded; credentials stay out of ``repr`` and
messages (:attr:`AsyncBackend.secret_values`).

What is async and what is not: every method that may touch the network, a disk or
another process is a coroutine (or, for listings, an async iterator). What only reads
the driver's own state is a plain method (``features``, ``classify_error``,
``native_path``, ``key_from_native``, ``as_native``, ``resolution_steps``), so the
store's checks before any I/O stay synchronous.

One interface instead of the sync side's basic/extended pair: the optional methods are
bound to their capabilities as ``ExtendedBackend``'s are (:mod:`omnistorage._bound`):
a subclass lists in :attr:`AsyncBackend.may_declare` every capability its
:meth:`AsyncBackend.features` may declare, and one that may declare a capability
without implementing its methods fails with ``TypeError`` when it is defined.

Cancellation: a driver coroutine may be cancelled at any ``await``. A cancelled
:meth:`AsyncWriter.write` or :meth:`AsyncWriter.close` leaves the writer to be
aborted by its owner (the store awaits :meth:`AsyncWriter.abort`, shielded from the
cancellation); a driver must therefore keep :meth:`AsyncWriter.abort` safe after a
cancelled call, and a cancelled ``close`` must publish either the whole object or
nothing. A cancelled :meth:`AsyncBackend.new_writer` (or ``new_reader``,
``open_pinned``) never reached its caller, so the driver itself must abort (close)
what it had started: no temp file or upload may outlive it.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

from omnistorage._bound import bind_capabilities, implies, needs, stand_in
from omnistorage.capabilities import BASIC_FEATURES, Capability, Features
from omnistorage.driver import WriteOptions
from omnistorage.errors import Classification, classify_builtin
from omnistorage.models import Leftover, Location, ObjectInfo

__all__ = [
    "AsyncBackend",
    "AsyncPinnedReader",
    "AsyncReader",
    "AsyncWriter",
]

T = TypeVar("T")


class AsyncWriter(abc.ABC):
    """A streaming write to one key that becomes visible only on :meth:`close`."""

    version: str | None = None
    """After a successful :meth:`close`: the version this writer published, as
    :attr:`omnistorage.driver.Writer.version` (``None`` without ``CONDITIONAL_DELETE``)."""

    @abc.abstractmethod
    async def write(self, data: bytes | bytearray | memoryview) -> int:
        """Buffer or send ``data``; return its length. Nothing is visible yet."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Publish the whole object atomically. On failure nothing is published."""

    @abc.abstractmethod
    async def abort(self) -> None:
        """Discard everything written. Idempotent; safe after a failed or cancelled call."""

    async def flush(self) -> None:  # noqa: B027 - optional hook with a contract
        """Wait until the backend holds every byte written so far, still invisible, as
        :meth:`omnistorage.driver.Writer.flush` (the default: nothing to wait for)."""


class AsyncReader(Protocol):
    """A streaming read: ``await read(n)`` gives at most ``n`` bytes (``-1``: the rest),
    ``b""`` at the end."""

    async def read(self, size: int = -1, /) -> bytes: ...

    async def close(self) -> None: ...


class AsyncPinnedReader(abc.ABC):
    """Random access to ONE version of an object (``Capability.PINNED_READ``); the async
    twin of :class:`omnistorage.driver.PinnedReader`, with the same rules: once the
    object changes, :meth:`read_range` raises something classified ``CHANGED``."""

    size: int
    """The pinned version's size in bytes."""
    version: str | None = None
    """The pinned version's tag (ETag, generation …), when the backend has one."""

    @abc.abstractmethod
    async def read_range(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer only at the end of the object)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release the handle or connection. Idempotent."""


class AsyncBackend(abc.ABC):
    """The async driver interface (see the module docstring).

    Subclasses set :attr:`name` and implement the five basic coroutines; the
    optional ones are used only where :meth:`features` declares their capability.
    """

    name: str = "backend"
    closed: bool = False
    secret_values: tuple[str, ...] = ()
    """Values the error mapping scrubs from messages (passwords, keys)."""
    folders_are_markers: bool = False
    """True when folders are zero-size ``name/`` markers (object stores), not real ones."""
    may_declare: ClassVar[frozenset[Capability]] = BASIC_FEATURES.capabilities
    """Every capability :meth:`features` may declare (see ``ExtendedBackend.may_declare``)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        bind_capabilities(cls)

    # ------------------------------------------------------------ basic

    @needs(Capability.WRITE)
    @abc.abstractmethod
    async def new_writer(self, key: str, options: WriteOptions) -> AsyncWriter:
        """Start a write to ``key``. May fail early (e.g. the folder is a file)."""

    @needs(Capability.READ)
    @abc.abstractmethod
    async def new_reader(
        self, key: str, *, offset: int = 0, length: int | None = None
    ) -> AsyncReader:
        """Open ``key`` for streaming reads from ``offset`` for ``length`` bytes (``None``:
        to the end). A missing key raises an error classified ``NOT_FOUND``, at the latest
        on the first read. An offset past the end gives an empty stream. With
        ``READ_INFO``, a whole read's reader has ``info`` (see the sync
        :meth:`~omnistorage.driver.Backend.new_reader`)."""

    @abc.abstractmethod
    async def exists(self, key: str) -> bool:
        """True when a *file* is stored at ``key`` (folders do not count)."""

    @needs(Capability.DELETE)
    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Delete the file at ``key``; deleting a missing key is not an error."""

    @needs(Capability.LIST)
    @abc.abstractmethod
    def list(self, prefix: str, *, recursive: bool = True) -> AsyncIterator[ObjectInfo]:
        """List under ``prefix`` (``""`` or ending with ``/``), lazily, in any order, as
        :meth:`omnistorage.driver.Backend.list` does (an async generator)."""

    async def close(self) -> None:
        """Release connections and clients. Later store calls raise ``BackendClosed``."""
        self.closed = True

    # ------------------------------------------------------------ one-shot transfers

    async def read_object(self, key: str) -> bytes:
        """The whole object at ``key``. Drivers override it where one call is cheaper
        than opening a stream (one thread hop, one ``GET``)."""
        reader = await self.new_reader(key)
        try:
            return await reader.read()
        finally:
            await reader.close()

    async def write_object(
        self, key: str, data: bytes | bytearray | memoryview, options: WriteOptions
    ) -> str | None:
        """Write ``data`` to ``key`` as one object, atomically, with the same rules as a
        writer (create-only unless ``options.overwrite``), and return the version it
        published (:attr:`AsyncWriter.version`). Drivers override it where one call is
        cheaper than a writer. Cancelled, it publishes nothing, ever: not even later, on
        a thread that was still running when the cancellation came."""
        writer = await self.new_writer(key, options)
        try:
            await writer.write(data)
            await writer.close()
        except BaseException:
            with contextlib.suppress(Exception):  # the write's own error is the one to report
                await writer.abort()
            raise
        return writer.version

    # ------------------------------------------------------------ pure facts (no I/O)

    def features(self) -> Features:
        """What this backend really does (see :mod:`omnistorage.capabilities`); within
        :attr:`may_declare` (else ``TypeError``)."""
        return BASIC_FEATURES

    def classify_error(self, exc: BaseException) -> Classification:
        """Say what a native exception raised by this driver means."""
        return classify_builtin(exc)

    @classmethod  # noqa: B027 - an optional hook
    def check_config(cls, options: Mapping[str, object]) -> None:
        """Check constructor ``options`` without I/O (see ``Backend.check_config``)."""

    def native_path(self, key: str) -> str:
        """The backend's own name for ``key`` (``s3://bucket/k``, ``/abs/file``)."""
        return f"{self.name}:{key}"

    def key_from_native(self, native: str) -> str | None:
        """The key for one of this backend's native paths, or ``None`` if it is not one."""
        prefix = f"{self.name}:"
        return native[len(prefix) :] if native.startswith(prefix) else None

    def as_native(self, kind: type[T]) -> T | None:
        """The native client of type ``kind``, if any."""
        return None

    def locations(self) -> tuple[Location, ...]:
        """Where the backend's root is (see ``Backend.locations``)."""
        return (Location(self.name, f"instance:{id(self):x}"),)

    def resolution_steps(self, key: str) -> tuple[str, ...]:
        """How ``key`` resolves, step by step (see ``ExtendedBackend.resolution_steps``)."""
        return (self.native_path(key),)

    # ------------------------------------------------------------ optional (by capability)

    @needs(Capability.METADATA)
    async def stat(self, key: str) -> ObjectInfo:
        """Info for the file at ``key``; a missing file raises a ``NOT_FOUND`` error.
        With ``MKDIR``, a real folder returns ``is_dir=True``."""
        raise NotImplementedError

    @needs(Capability.MKDIR)
    async def mkdir(self, key: str) -> None:
        """Create the folder ``key`` and its parents; an existing folder is fine."""
        raise NotImplementedError

    @needs(Capability.MKDIR)
    async def rmdir(self, key: str) -> None:
        """Remove the empty folder ``key`` (``DIRECTORY_NOT_EMPTY`` if it is not)."""
        raise NotImplementedError

    @needs(Capability.COPY)
    async def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        """Copy a file server-side; ``overwrite=False`` fails with ``ALREADY_EXISTS``."""
        raise NotImplementedError

    @needs(Capability.MOVE)
    async def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        """Move a file server-side; ``overwrite=False`` fails with ``ALREADY_EXISTS``."""
        raise NotImplementedError

    @needs(Capability.CONDITIONAL_DELETE)
    async def delete_version(self, key: str, version: str) -> None:
        """Delete ``key`` only while it is still ``version`` (``CONDITIONAL_DELETE``; see
        :meth:`omnistorage.driver.ExtendedBackend.delete_version`)."""
        raise NotImplementedError

    @needs(Capability.PINNED_READ)
    async def open_pinned(self, key: str) -> AsyncPinnedReader:
        """Pin the version of the file at ``key`` that is there now."""
        raise NotImplementedError

    @implies("remove_leftover")
    async def list_leftovers(self, prefix: str) -> Sequence[Leftover]:
        """What crashed writers left under ``prefix`` (see ``ExtendedBackend``). None by
        default."""
        return []

    @stand_in
    async def remove_leftover(self, leftover: Leftover) -> None:
        """Remove one leftover reported by :meth:`list_leftovers`; gone already is fine."""
        raise NotImplementedError

    async def delete_many(self, keys: Iterable[str]) -> None:
        """Delete several files (batched where the service allows). Missing keys are fine."""
        for key in keys:
            await self.delete(key)

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


bind_capabilities(AsyncBackend)  # its own features() answers are checked too
