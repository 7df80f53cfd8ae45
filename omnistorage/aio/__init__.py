"""omnistorage.aio: the async twin of the Store, for asyncio services.

- :class:`AsyncStore`: the :class:`omnistorage.Store` contract with the same methods
  and parameters, awaited where they do I/O (a test keeps the two surfaces in step).
- :class:`AsyncBackend`: the async driver contract (:mod:`omnistorage.aio._driver`).
- :class:`SyncBackendAdapter`: any sync driver behind it, on a bounded thread pool of
  its own (no event loop in a hidden thread).
- :class:`AsyncMemoryBackend`: the in-memory reference driver, natively async.
- :func:`open_store`: :func:`omnistorage.open_store`'s URLs and paths, as an
  ``AsyncStore``.
- :mod:`omnistorage.aio.records`: async record writers and readers, sharing the
  sync layers' codecs, formats, seals and rotation.

``import omnistorage`` does not import this package (nor asyncio).

>>> import asyncio
>>> from omnistorage.aio import AsyncMemoryBackend, AsyncStore
>>> async def main() -> bytes:
...     async with AsyncStore(AsyncMemoryBackend()) as store:
...         await store.write("a.txt", b"hi")
...         return await store.read_bytes("a.txt")
>>> asyncio.run(main())
b'hi'
"""

from omnistorage.aio._adapter import DEFAULT_MAX_WORKERS, SyncBackendAdapter
from omnistorage.aio._content import AsyncContent
from omnistorage.aio._driver import AsyncBackend, AsyncPinnedReader, AsyncReader, AsyncWriter
from omnistorage.aio._memory import AsyncMemoryBackend
from omnistorage.aio._open import open_store
from omnistorage.aio._store import AsyncStore
from omnistorage.aio._streams import (
    AsyncAtomicWriter,
    AsyncListing,
    AsyncReadStream,
    AsyncSeekableReader,
)

__all__ = [
    "DEFAULT_MAX_WORKERS",
    "AsyncAtomicWriter",
    "AsyncBackend",
    "AsyncContent",
    "AsyncListing",
    "AsyncMemoryBackend",
    "AsyncPinnedReader",
    "AsyncReadStream",
    "AsyncReader",
    "AsyncSeekableReader",
    "AsyncStore",
    "AsyncWriter",
    "SyncBackendAdapter",
    "open_store",
]
