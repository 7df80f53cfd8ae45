"""Stream objects the Store hands out, and small reader helpers drivers may use.

- :class:`ReadStream` wraps a driver's reader so errors surface as omnistorage errors.
- :class:`AtomicWriter` wraps a driver's :class:`~omnistorage.driver.Writer`: it
  publishes on :meth:`~AtomicWriter.close` (or a clean ``with`` exit) and
  aborts on an exception; it never publishes from ``__del__``.
- :class:`SeekableReader` gives random access over ranged reads.
- :class:`LimitedReader` caps a stream at a length (for drivers' ranged reads).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterable
from typing import BinaryIO, Protocol

from omnistorage._hashing import MultiHasher
from omnistorage.driver import PinnedReader, Writer
from omnistorage.errors import StorageError, StreamClosed, native_cause
from omnistorage.models import HashType, ObjectInfo, WriteResult

__all__ = ["CHUNK", "AtomicWriter", "LimitedReader", "ReadStream", "SeekableReader"]

CHUNK = 1 << 20
"""The size of the reads a Store makes when it streams an object through itself."""


class FailFn(Protocol):
    def __call__(self, exc: BaseException, op: str, path: str | None) -> StorageError: ...


class ReadStream(io.RawIOBase):
    """A driver reader whose failures are raised as omnistorage errors.

    ``info`` is what the backend said about the file when it opened it (store-relative
    path): the :class:`~omnistorage.ObjectInfo` of the version being read, on backends
    that declare ``READ_INFO``; ``None`` elsewhere.
    """

    def __init__(
        self, inner: BinaryIO, fail: FailFn, path: str, info: ObjectInfo | None = None
    ) -> None:
        super().__init__()
        self._inner = inner
        self._fail = fail
        self._path = path
        self.info = info

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        try:
            return self._inner.read(-1 if size is None else size)
        except Exception as exc:
            raise self._fail(exc, "read", self._path) from native_cause(exc)

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        self._check_open()
        try:
            readinto = getattr(self._inner, "readinto", None)
            if readinto is not None:
                return int(readinto(buffer))
            data = self._inner.read(len(buffer))
        except Exception as exc:
            raise self._fail(exc, "read", self._path) from native_cause(exc)
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        self._check_open()
        try:
            return self._inner.readline(-1 if size is None else size)
        except Exception as exc:
            raise self._fail(exc, "read", self._path) from native_cause(exc)

    def close(self) -> None:
        if not self.closed:
            try:
                self._inner.close()
            except Exception as exc:
                raise self._fail(exc, "read", self._path) from native_cause(exc)
            finally:
                super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise StreamClosed(f"read from closed stream {self._path!r}", path=self._path)


class WriteTally:
    """What the sync and async store writers both keep of a write: the path, the bytes
    and hashes counted so far, whether it is finished, and the result of the publish
    (:class:`AtomicWriter` and :class:`~omnistorage.aio.AsyncAtomicWriter`)."""

    def _tally(self, fail: FailFn, path: str, hashes: Iterable[HashType | str]) -> None:
        self._fail = fail
        self._path = path
        self._size = 0
        self._done = False
        self._hasher = MultiHasher(hashes) if hashes else None
        self._result: WriteResult | None = None

    @property
    def path(self) -> str:
        """The store-relative path being written."""
        return self._path

    @property
    def closed(self) -> bool:
        """True once published or aborted."""
        return self._done

    def tell(self) -> int:
        """Bytes written so far."""
        return self._size

    def _check_live(self, op: str) -> None:
        """``StreamClosed`` for ``op`` once the writer is published or aborted."""
        if self._done:
            raise StreamClosed(f"{op} finished writer {self._path!r}", path=self._path)

    def _count(self, data: bytes | bytearray | memoryview) -> int:
        """Count ``data``, just written; its length."""
        if self._hasher is not None:
            self._hasher.update(data)
        n = len(data) if not isinstance(data, memoryview) else data.nbytes
        self._size += n
        return n

    def _earlier_result(self) -> WriteResult:
        """What a ``close()`` of a finished writer returns: the publish's result, or
        ``StreamClosed`` if it was aborted."""
        if self._result is not None:
            return self._result
        raise StreamClosed(f"writer {self._path!r} was aborted", path=self._path)

    def _published(self, version: str | None) -> WriteResult:
        hashes = self._hasher.digests() if self._hasher is not None else {}
        self._result = WriteResult(path=self._path, size=self._size, hashes=hashes, version=version)
        return self._result


class AtomicWriter(WriteTally, io.BufferedIOBase):
    """A file-like writer that publishes the whole object on close, or nothing.

    - :meth:`write` buffers or uploads; nothing is visible yet.
    - :meth:`close` (also :meth:`commit`) publishes atomically and returns a
      :class:`~omnistorage.models.WriteResult`.
    - :meth:`abort` discards everything.
    - As a context manager: a clean exit publishes, an exception aborts.
    - Garbage collection of an unfinished writer aborts it (with a
      ``ResourceWarning``); it never publishes.

    Any failure in :meth:`write` aborts the upload; the writer is then dead.

    It is a real :class:`io.BufferedIOBase` (``writable()``, ``closed``,
    ``flush()``), so ``io.TextIOWrapper``, ``shutil.copyfileobj``, ``tarfile``
    and pandas' ``to_csv`` write to it directly. ``close()`` after the first
    returns the same result (closing twice is harmless, as for files); only a
    clean ``close()`` publishes, never garbage collection or an exception.
    """

    def __init__(
        self,
        writer: Writer,
        fail: FailFn,
        path: str,
        op: str = "write",
        *,
        hashes: Iterable[HashType | str] = (),
    ) -> None:
        self._writer = writer
        self._op = op
        self._tally(fail, path, hashes)

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        """No-op: data becomes visible only on close."""
        self._check_live("flush on")

    def drain(self) -> None:
        """Wait until the backend holds every byte written so far (parts or blocks
        staged, still invisible: :meth:`omnistorage.driver.Writer.flush`). :meth:`flush`
        stays the cheap stream flush; this one may wait on the network. A failure
        aborts the write, as a failed :meth:`write` does."""
        self._check_live("drain on")
        try:
            self._writer.flush()
        except Exception as exc:
            self._abort_quietly()
            raise self._fail(exc, self._op, self._path) from native_cause(exc)

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        """Write ``data``; returns ``len(data)``."""
        self._check_live("write to")
        try:
            self._writer.write(data)
        except Exception as exc:
            self._abort_quietly()
            raise self._fail(exc, self._op, self._path) from native_cause(exc)
        return self._count(data)

    def writelines(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:  # type: ignore[override]
        for chunk in chunks:
            self.write(chunk)

    def close(self) -> WriteResult:  # type: ignore[override]
        """Publish. On failure nothing is published and the error is raised.

        A second ``close()`` returns the first one's result; closing an aborted
        writer raises ``StreamClosed``.
        """
        if self._done:
            return self._earlier_result()
        self._done = True
        try:
            self._writer.close()
        except Exception as exc:
            with contextlib.suppress(Exception):  # the publish error is the one to report
                self._writer.abort()
            raise self._fail(exc, self._op, self._path) from native_cause(exc)
        return self._published(self._writer.version)

    commit = close

    def abort(self) -> None:
        """Discard the write. Idempotent."""
        if self._done:
            return
        self._done = True
        try:
            self._writer.abort()
        except Exception as exc:
            raise self._fail(exc, "abort", self._path) from native_cause(exc)

    def _abort_quietly(self) -> None:
        self._done = True
        with contextlib.suppress(Exception):  # already failing: the first error is reported
            self._writer.abort()

    def __enter__(self) -> AtomicWriter:
        if self._done:
            raise StreamClosed(f"writer {self._path!r} already finished", path=self._path)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            self._abort_quietly()
        elif not self._done:
            self.close()

    def __del__(self) -> None:
        if not getattr(self, "_done", True):
            warnings.warn(
                f"unfinished writer for {self._path!r} was aborted (never closed)",
                ResourceWarning,
                stacklevel=1,
            )
            self._abort_quietly()


class LimitedReader(io.RawIOBase):
    """Reads at most ``limit`` bytes from ``inner``; closing it closes ``inner``."""

    def __init__(self, inner: BinaryIO, limit: int) -> None:
        super().__init__()
        self._inner = inner
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: self._left]
        data = self._inner.read(len(view))
        n = len(data)
        view[:n] = data
        self._left -= n
        return n

    def read(self, size: int | None = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if size is None or size < 0 else min(size, self._left)
        data = self._inner.read(want)
        self._left -= len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def close(self) -> None:
        if not self.closed:
            try:
                self._inner.close()
            finally:
                super().close()


def seek_position(pos: int, size: int, offset: int, whence: int) -> int:
    """The position ``seek(offset, whence)`` moves to from ``pos`` in an object of ``size``
    bytes (past the end is allowed, as for files); ``ValueError`` for a bad ``whence`` or a
    negative result. Shared by the sync and async seekable readers."""
    if whence == io.SEEK_SET:
        target = offset
    elif whence == io.SEEK_CUR:
        target = pos + offset
    elif whence == io.SEEK_END:
        target = size + offset
    else:
        raise ValueError(f"invalid whence {whence}")
    if target < 0:
        raise ValueError(f"negative seek position {target}")
    return target


class SeekableReader(io.RawIOBase):
    """Random access to ONE version of an object, over a driver's :class:`PinnedReader`.

    Every read is a ``read_range`` on the pinned version; if the object changes
    the driver raises and this reader raises ``ChangedDuringRead`` (never bytes
    of two versions). Wrap it in :class:`io.BufferedReader` for small reads.
    """

    def __init__(self, pinned: PinnedReader, fail: FailFn, path: str) -> None:
        super().__init__()
        self._pinned = pinned
        self._size = pinned.size
        self._fail = fail
        self._path = path
        self._pos = 0

    @property
    def size(self) -> int:
        """The pinned version's size."""
        return self._size

    @property
    def version(self) -> str | None:
        """The pinned version's token (``PinnedReader.version``), when the driver has one."""
        return self._pinned.version

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = seek_position(self._pos, self._size, offset, whence)
        return self._pos

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self.closed:
            raise StreamClosed(f"read on closed reader {self._path!r}", path=self._path)
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        try:
            data = self._pinned.read_range(self._pos, want)
        except Exception as exc:
            raise self._fail(exc, "read", self._path) from native_cause(exc)
        n = len(data)
        memoryview(buffer)[:n] = data
        self._pos += n
        return n

    def readall(self) -> bytes:
        # RawIOBase.readall reads in 8 KiB steps, one request each on remote backends;
        # the rest of the pinned version is asked for at once (one ranged request, or
        # the driver's own parallel blocks), since all of it is returned anyway.
        if self.closed:
            raise StreamClosed(f"read on closed reader {self._path!r}", path=self._path)
        want = self._size - self._pos
        if want <= 0:
            return b""
        try:
            data = self._pinned.read_range(self._pos, want)
        except Exception as exc:
            raise self._fail(exc, "read", self._path) from native_cause(exc)
        self._pos += len(data)
        return data

    def close(self) -> None:
        if not self.closed:
            try:
                self._pinned.close()
            finally:
                super().close()


class SpooledPinned(PinnedReader):
    """The fallback pin for backends without ``PINNED_READ``: one streaming read of
    the object into a spooled temporary file (memory up to ``max_memory``, then
    disk), so every later range comes from that single version. Without ``source`` it
    starts empty and is filled by :meth:`append` (the async store's spool)."""

    def __init__(self, source: BinaryIO | None = None, *, max_memory: int = 1 << 20) -> None:
        import tempfile

        self._file = tempfile.SpooledTemporaryFile(max_size=max_memory)  # noqa: SIM115
        self.size = 0
        if source is None:
            return
        try:
            while chunk := source.read(1 << 20):
                self.append(chunk)
        except BaseException:
            self._file.close()
            raise

    def append(self, data: bytes) -> None:
        """Add ``data`` at the end (while the spool is being filled, before any read)."""
        self._file.write(data)
        self.size += len(data)

    def read_range(self, offset: int, length: int) -> bytes:
        self._file.seek(offset)
        return self._file.read(length)

    def close(self) -> None:
        self._file.close()
