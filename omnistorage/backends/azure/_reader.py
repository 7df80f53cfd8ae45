"""The read stream: a raw stream over a ranged download's chunks."""

from __future__ import annotations

import io
from collections.abc import Iterator

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobClient, StorageStreamDownloader

from omnistorage.backends.azure._client import budget_scope
from omnistorage.driver import PinnedReader
from omnistorage.errors import ObjectChanged

__all__ = ["DownloadReader"]


class DownloadReader(io.RawIOBase):
    """A raw stream over a downloader's chunks (one ranged GET per chunk, 4 MiB each)."""

    def __init__(self, downloader: StorageStreamDownloader[bytes]) -> None:
        super().__init__()
        self._chunks: Iterator[bytes] | None = downloader.chunks()
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        while not self._pending:
            if self._chunks is None:
                return False
            with budget_scope():  # the SDK may read a chunk's body three times
                chunk = next(self._chunks, None)
            if chunk is None:
                self._chunks = None
                return False
            self._pending = memoryview(chunk)
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if not self._fill():
            return 0
        view = memoryview(buffer).cast("B")
        n = min(len(view), len(self._pending))
        view[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def readall(self) -> bytes:
        parts = []
        while self._fill():
            parts.append(bytes(self._pending))
            self._pending = memoryview(b"")
        return b"".join(parts)

    def close(self) -> None:
        self._chunks = None
        self._pending = memoryview(b"")
        super().close()


class AzurePinned(PinnedReader):
    """Ranged downloads of one version of a blob: each carries ``If-Match: <ETag>``.

    Once the blob is overwritten or deleted the service answers 412 (or 404)
    and :meth:`read_range` raises :class:`~omnistorage.errors.ObjectChanged`.
    """

    def __init__(self, blob: BlobClient) -> None:
        props = blob.get_blob_properties()
        self._blob = blob
        self.size = int(props.size)
        self._etag = str(props.etag)
        self.version = self._etag

    def read_range(self, offset: int, length: int) -> bytes:
        length = max(0, min(length, self.size - offset))
        if length == 0:
            return b""
        try:
            with budget_scope():
                data: bytes = self._blob.download_blob(
                    offset=offset,
                    length=length,
                    etag=self._etag,
                    match_condition=MatchConditions.IfNotModified,
                ).readall()
        except ResourceModifiedError as exc:
            raise ObjectChanged(f"{self._blob.blob_name!r} changed after it was opened") from exc
        except ResourceNotFoundError as exc:
            raise ObjectChanged(
                f"{self._blob.blob_name!r} was deleted after it was opened"
            ) from exc
        except HttpResponseError as exc:
            if exc.status_code == 412:
                raise ObjectChanged(
                    f"{self._blob.blob_name!r} changed after it was opened"
                ) from exc
            raise
        return data
