"""Whole-object reads and writes of :class:`~omnistorage.aio.AsyncStore`: ``read_bytes``,
``read_text``, ``read_range``, ``write``, ``write_text`` and ``write_atomic``, each one
driver call where the driver has one (``read_object``, ``write_object``), and the
streaming writers' checks (``open_writer``, ``open_atomic``) before the store opens one."""

# The source of omnistorage/_store_objects.py: scripts/unasync.py writes it.  # async only

from __future__ import annotations

from collections.abc import Mapping

from omnistorage import paths
from omnistorage._content import Hashes, len_if_bytes
from omnistorage._hashing import MultiHasher
from omnistorage._times import ModTime
from omnistorage.aio._content import AsyncContent, achunks
from omnistorage.aio._store_queries import AsyncStoreQueries
from omnistorage.aio._streams import AsyncAtomicWriter
from omnistorage.capabilities import Capability
from omnistorage.errors import native_cause
from omnistorage.models import WriteResult

__all__ = ["AsyncStoreObjects"]


class AsyncStoreObjects(AsyncStoreQueries):
    """Whole-object reads and writes (see the module docstring)."""

    __slots__ = ()

    # ------------------------------------------------------------------ reads

    async def read_bytes(self, path: str) -> bytes:
        """The whole content of ``path``."""
        key = self._key(path, Capability.READ, "read")
        try:
            return await self._backend.read_object(key)
        except Exception as exc:
            raise self._fail(exc, "read", path) from native_cause(exc)

    async def read_text(self, path: str, *, encoding: str = "utf-8", errors: str = "strict") -> str:
        """The whole content of ``path`` decoded as text."""
        data = await self.read_bytes(path)
        return data.decode(encoding, errors)

    async def read_range(self, path: str, offset: int, length: int) -> bytes:
        """``length`` bytes of ``path`` from ``offset`` (fewer at the end of the file)."""
        if offset < 0 or length < 0:
            raise ValueError(f"offset and length must be >= 0, got {offset} and {length}")
        key = self._key(path, Capability.READ, "read")
        if length == 0:
            if not await self._exists_file(key, path):
                raise self._not_found("read", path)
            return b""
        try:
            reader = await self._backend.new_reader(key, offset=offset, length=length)
            try:
                parts: list[bytes] = []
                got = 0
                while got < length:
                    chunk = await reader.read(length - got)
                    if not chunk:
                        break
                    parts.append(chunk)
                    got += len(chunk)
                return b"".join(parts)
            finally:
                await reader.close()
        except Exception as exc:
            raise self._fail(exc, "read", path) from native_cause(exc)

    # ------------------------------------------------------------------ writes

    def open_writer(
        self,
        path: str,
        *,
        overwrite: bool = False,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        modified: ModTime | None = None,
        size_hint: int | None = None,
        hashes: Hashes = (),
    ) -> AsyncAtomicWriter:
        """A streaming writer for ``path``, atomic exactly where the backend has
        ``ATOMIC_WRITE``.

        Same object and rules as :meth:`open_atomic` (an exception in the ``with``
        block aborts), but it also works on streaming backends such as ``channel``,
        where a reader sees the bytes as they are written.
        """
        plan = self._write_plan(
            path, overwrite, content_type, metadata, modified, size_hint, hashes
        )
        return self._open_writer(path, plan)

    def open_atomic(
        self,
        path: str,
        *,
        overwrite: bool = False,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        modified: ModTime | None = None,
        size_hint: int | None = None,
        hashes: Hashes = (),
    ) -> AsyncAtomicWriter:
        """A streaming writer that publishes ``path`` only on a clean close::

            async with store.open_atomic("logs/app.log") as f:
                await f.write(b"event 1\\n")

        A clean exit publishes the whole object; an exception aborts (nothing
        appears), and so does a cancellation of the async store's writer. Requires
        ``ATOMIC_WRITE``. ``overwrite=False`` makes publishing fail with
        ``AlreadyExists`` if a file is there. ``hashes`` (e.g. ``[HashType.MD5]``) are
        computed while streaming and returned by ``close()`` in ``WriteResult.hashes``.
        """
        paths.validate_key(path)
        self._require(Capability.ATOMIC_WRITE, "write", path)
        plan = self._write_plan(
            path, overwrite, content_type, metadata, modified, size_hint, hashes
        )
        return self._open_writer(path, plan)

    async def write(
        self,
        path: str,
        content: AsyncContent,
        *,
        overwrite: bool = False,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        modified: ModTime | None = None,
        hashes: Hashes = (),
    ) -> WriteResult:
        """Write ``content`` to ``path``: bytes, a binary file object or an iterable of
        bytes (the async store takes async ones too); file objects and iterables are
        streamed in chunks.

        Atomic on backends with ``ATOMIC_WRITE``; ``overwrite=False`` (the default) is
        create-only. ``hashes`` lists hash types to compute while streaming; the
        result's ``hashes`` holds their hex digests. An exception or a cancellation
        aborts: nothing is published.
        """
        if isinstance(content, str):
            raise TypeError("write() takes bytes; use write_text() for str")
        size = len_if_bytes(content)
        plan = self._write_plan(path, overwrite, content_type, metadata, modified, size, hashes)
        if size is None:
            writer = self._open_writer(path, plan)
            async with writer:
                async for chunk in achunks(content):
                    await writer.write(chunk)
                return await writer.close()
        data: bytes | bytearray | memoryview = content  # type: ignore[assignment]
        key, options, kinds, check_first = plan
        # Without CONDITIONAL_WRITE create-only is check-then-write (a documented race).
        if check_first and await self._exists_file(key, path):
            raise self._already_exists("write", path)
        try:
            version = await self._backend.write_object(key, data, options)
        except Exception as exc:
            raise self._fail(exc, "write", path) from native_cause(exc)
        digests = {}
        if kinds:
            hasher = MultiHasher(kinds)
            hasher.update(data)
            digests = hasher.digests()
        return WriteResult(path=path, size=size, hashes=digests, version=version)

    async def write_text(
        self,
        path: str,
        text: str,
        *,
        encoding: str = "utf-8",
        overwrite: bool = False,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        modified: ModTime | None = None,
        hashes: Hashes = (),
    ) -> WriteResult:
        """Write ``text`` encoded with ``encoding``; otherwise as :meth:`write`."""
        return await self.write(
            path,
            text.encode(encoding),
            overwrite=overwrite,
            content_type=content_type,
            metadata=metadata,
            modified=modified,
            hashes=hashes,
        )

    async def write_atomic(
        self,
        path: str,
        content: AsyncContent,
        *,
        overwrite: bool = False,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        modified: ModTime | None = None,
        hashes: Hashes = (),
    ) -> WriteResult:
        """:meth:`write`, but fail before any I/O unless the backend has ``ATOMIC_WRITE``."""
        self._require(Capability.ATOMIC_WRITE, "write", path)
        return await self.write(
            path,
            content,
            overwrite=overwrite,
            content_type=content_type,
            metadata=metadata,
            modified=modified,
            hashes=hashes,
        )
