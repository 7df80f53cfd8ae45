"""Readers over ``GetObject``: one streaming body, or ranged blocks fetched in parallel.

- :class:`BodyReader` wraps botocore's ``StreamingBody`` as a raw binary
  stream: ``read(n)`` returns at most ``n`` bytes as they arrive, memory is
  bounded, and failures stay botocore/urllib3 exceptions the driver
  classifies (a cut connection is ``temporary``).
- :class:`ParallelReader` serves a large object from ranged ``GetObject``
  calls fetched ahead on a small thread pool: the first block streams from the
  first response, later blocks are fetched ``concurrency`` at a time with
  ``If-Match`` on the first response's ETag, so a reader never mixes two
  versions of an object (a replaced object fails with
  :class:`~omnistorage.backends.s3._errors.ObjectChangedError`). Memory is
  bounded by about ``(concurrency + 1) x block``. A block that fails with a
  temporary error is fetched again (each range is idempotent).
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import botocore.exceptions

from omnistorage._io import LimitedReader
from omnistorage._net import RetryBudget
from omnistorage.backends.s3._config import MiB
from omnistorage.backends.s3._errors import (
    ObjectChangedError,
    error_code,
    error_status,
    is_precondition_failed,
    retry_temporary,
)
from omnistorage.driver import PinnedReader
from omnistorage.errors import ObjectChanged

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["BodyReader", "ParallelReader", "ReadSettings", "open_reader"]

_BLOCK_ATTEMPTS = 4


@dataclass(frozen=True, slots=True)
class ReadSettings:
    """What a reader needs from its backend."""

    client: S3Client
    bucket: str
    concurrency: int
    """Ranged requests in flight per read; 1 streams one ``GetObject``."""
    block: int
    """Bytes per ranged request of a parallel read."""
    budget: RetryBudget | None = None
    """Bounds the retries of a block whose body stalled (:mod:`omnistorage._net`)."""


def open_reader(s: ReadSettings, key: str, offset: int, length: int | None) -> BinaryIO:
    """A stream over ``length`` bytes (``None``: to the end) of ``key`` from ``offset``.

    A missing key raises the ``NoSuchKey`` ``ClientError`` here; an offset at or past the
    end gives an empty stream. With ``concurrency > 1`` a read longer than one block
    becomes a :class:`ParallelReader`.
    """
    if length == 0:
        s.client.head_object(Bucket=s.bucket, Key=key)
        return io.BytesIO()
    parallel = s.concurrency > 1
    end = None if length is None else offset + length
    first_end = end
    if parallel:
        first_end = offset + s.block if end is None else min(end, offset + s.block)
    try:
        response = _get(s, key, offset, first_end)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "InvalidRange" or error_status(exc) == 416:
            return io.BytesIO()  # the offset is at or past the end (or the object is empty)
        raise
    first = BodyReader(response["Body"])
    if (offset or first_end is not None) and not response.get("ContentRange"):
        # The server ignored Range and sent the whole object: serve the slice from it.
        _skip(first, offset)
        return _binary(first if length is None else LimitedReader(_binary(first), length))
    if first_end is None:
        return _binary(first)
    total = _total_size(response)
    stop = total if end is None else min(end, total)
    if first_end >= stop:
        return _binary(first)
    etag = response.get("ETag", "")
    reader = ParallelReader(
        first,
        lambda start, size: _fetch_block(s, key, etag, start, size),
        start=first_end,
        end=stop,
        block=s.block,
        concurrency=s.concurrency,
    )
    return _binary(reader)


def _get(s: ReadSettings, key: str, start: int, stop: int | None, **extra: Any) -> Any:
    if start or stop is not None:
        last = "" if stop is None else str(stop - 1)
        extra["Range"] = f"bytes={start}-{last}"
    return s.client.get_object(Bucket=s.bucket, Key=key, **extra)


def _fetch_block(s: ReadSettings, key: str, etag: str, start: int, size: int) -> bytes:
    """One block of a parallel read, pinned to ``etag``, retried on temporary errors."""

    def fetch() -> bytes:
        try:
            response = _get(s, key, start, start + size, IfMatch=etag)
        except botocore.exceptions.ClientError as exc:
            if is_precondition_failed(exc):
                raise ObjectChangedError(f"{key!r} changed while it was read") from exc
            raise
        body = response["Body"]
        try:
            data: bytes = body.read()
        finally:
            body.close()
        if len(data) != size:
            raise botocore.exceptions.IncompleteReadError(
                actual_bytes=len(data), expected_bytes=size
            )
        return data

    result: bytes = retry_temporary(fetch, _BLOCK_ATTEMPTS, budget=s.budget)
    return result


def _binary(stream: io.RawIOBase) -> BinaryIO:
    """Our raw streams are binary file objects (``RawIOBase`` is not typed as ``BinaryIO``)."""
    return cast(BinaryIO, stream)


def _skip(reader: io.RawIOBase, count: int) -> None:
    while count > 0:
        skipped = len(reader.read(min(count, MiB)) or b"")
        if not skipped:
            return
        count -= skipped


def _total_size(response: Any) -> int:
    content_range = str(response.get("ContentRange") or "")
    if "/" in content_range:
        total = content_range.rpartition("/")[2]
        if total.isdigit():
            return int(total)
    return int(response.get("ContentLength", 0))


class BodyReader(io.RawIOBase):
    """A botocore ``StreamingBody`` as a raw, non-seekable binary stream."""

    def __init__(self, body: Any) -> None:
        super().__init__()
        self._body = body

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return bytes(self._body.read())
        return bytes(self._body.read(size))

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        return int(self._body.readinto(buffer))

    def close(self) -> None:
        if not self.closed:
            try:
                self._body.close()
            finally:
                super().close()


FetchRange = Callable[[int, int], bytes]
"""``fetch(start, size)``: exactly ``size`` bytes of the object from ``start``."""


class ParallelReader(io.RawIOBase):
    """Bytes ``[first_end, end)`` fetched ahead in blocks, after a first streaming body.

    Args:
        first: the reader over the first block (the first response's body).
        fetch: fetches one later block.
        start: where the first block ends (the next byte to fetch).
        end: one past the last byte to serve.
        block: bytes per ranged request.
        concurrency: blocks fetched (and held) ahead at most.
    """

    def __init__(
        self,
        first: BodyReader,
        fetch: FetchRange,
        *,
        start: int,
        end: int,
        block: int,
        concurrency: int,
    ) -> None:
        super().__init__()
        self._first: BodyReader | None = first
        self._fetch = fetch
        self._next = start
        self._end = end
        self._block = block
        self._concurrency = concurrency
        self._queue: deque[Future[bytes]] = deque()
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix="omnistorage-s3-read"
        )
        self._current = memoryview(b"")
        self._refill()

    def readable(self) -> bool:
        return True

    def _refill(self) -> None:
        pool = self._pool
        while pool is not None and len(self._queue) < self._concurrency and self._next < self._end:
            size = min(self._block, self._end - self._next)
            self._queue.append(pool.submit(self._fetch, self._next, size))
            self._next += size

    def _advance(self) -> bool:
        """Make ``_current`` non-empty; False at the end of the data."""
        while not self._current:
            if self._first is not None:
                chunk = self._first.read(self._block)
                if chunk:
                    self._current = memoryview(chunk)
                    return True
                self._first.close()
                self._first = None
                continue
            if not self._queue:
                return False
            future = self._queue.popleft()
            self._current = memoryview(future.result())
            self._refill()
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        if size == 0 or not self._advance():
            return b""
        piece = self._current[:size]
        self._current = self._current[len(piece) :]
        return bytes(piece)

    def readall(self) -> bytes:
        pieces: list[bytes | memoryview] = []
        while self._advance():
            pieces.append(self._current)
            self._current = memoryview(b"")
        return b"".join(pieces)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if not view.nbytes or not self._advance():
            return 0
        n = min(view.nbytes, len(self._current))
        view[:n] = self._current[:n]
        self._current = self._current[n:]
        return n

    def close(self) -> None:
        if self.closed:
            return
        try:
            for future in self._queue:
                future.cancel()
            self._queue.clear()
            pool, self._pool = self._pool, None
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            self._current = memoryview(b"")
            if self._first is not None:
                self._first.close()
                self._first = None
        finally:
            super().close()


class S3Pinned(PinnedReader):
    """Ranged reads of one version of ``key``: every request carries ``If-Match: <ETag>``.

    Once the object is overwritten or deleted, S3 answers 412 (or 404) and
    :meth:`read_range` raises :class:`~omnistorage.errors.ObjectChanged`.
    """

    def __init__(self, s: ReadSettings, key: str) -> None:
        head = s.client.head_object(Bucket=s.bucket, Key=key)
        self._s = s
        self._key = key
        self.size = int(head.get("ContentLength", 0))
        self._etag = str(head.get("ETag", ""))
        self.version = self._etag.strip('"') or None  # as stat and listings give it

    def read_range(self, offset: int, length: int) -> bytes:
        length = max(0, min(length, self.size - offset))
        if length == 0:
            return b""
        try:
            return _fetch_block(self._s, self._key, self._etag, offset, length)
        except ObjectChangedError as exc:
            raise ObjectChanged(f"{self._key!r} changed after it was opened") from exc
        except botocore.exceptions.ClientError as exc:
            if error_status(exc) == 404 or error_code(exc) in ("NoSuchKey", "NotFound"):
                raise ObjectChanged(f"{self._key!r} was deleted after it was opened") from exc
            raise
