"""March: each side's listing sorted with bounded memory, then walked in lock step.

Backends list in no particular order (S3's is lexicographic, a local folder's
is the directory's). :class:`SortedListing` makes one recursive listing of a
store (about one request per 1000 keys on object stores, one ``scandir`` per
folder locally) and sorts it by path the way an external merge sort does:
entries are kept in memory up to ``run_size``; a full run is sorted and
spilled to a temporary file with :mod:`marshal`, and the sorted runs are
merged lazily. Memory stays near ``run_size`` entries per side whatever the
tree's size; a tree that fits in one run is never written to disk. An ordered
listing (S3's, GCS's) costs little extra: Timsort sorts a sorted run in linear
time, and runs that follow one another are chained instead of merged.

The whole listing is read before the walk starts, so every listing error and
every foreign key (a name the key grammar refuses) is known before the first
action: the engine can promise that no delete happens after any of them.

:func:`march` walks two sorted streams in lock step and yields
``(src, dst)`` pairs, one per path, ``None`` on the side that lacks it.
"""

from __future__ import annotations

import heapq
import itertools
import marshal
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import IO

from omnistorage.store import Store
from omnistorage.sync._entry import Entry, entry_of, plain
from omnistorage.sync._limits import Cancelled

__all__ = ["DEFAULT_RUN_SIZE", "SortedListing", "march"]

DEFAULT_RUN_SIZE = 20_000
"""Entries held in memory per side before a sorted run is spilled to disk."""
_CHUNK = 500
"""Entries per marshal record in a spill file (what a merge holds per run)."""
_CANCEL_EVERY = 1_000
_path = itemgetter(0)


class SortedListing:
    """All files of ``store`` (recursive, foreign keys skipped and counted), sorted by path.

    Call :meth:`load` once (it lists), then iterate as often as needed; call
    :meth:`close` to remove spill files. Attributes after :meth:`load`:
    ``count``, ``bytes`` (known sizes), ``invalid_count`` and ``invalid``
    (native names of foreign keys, the first 1000).
    """

    def __init__(
        self,
        store: Store,
        *,
        run_size: int = DEFAULT_RUN_SIZE,
        spill_dir: str | None = None,
    ) -> None:
        if run_size < 1:
            raise ValueError("run_size must be >= 1")
        self._store = store
        self._run_size = run_size
        self._spill_parent = spill_dir
        self._spill_dir: str | None = None
        self._runs: list[str] = []
        self._memory: list[Entry] = []
        self._ordered = True
        self.count = 0
        self.bytes = 0
        self.invalid_count = 0
        self.invalid: list[str] = []

    def load(
        self,
        cancelled: Callable[[], bool] = lambda: False,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        """List the store. Raises the Store's error if listing fails, :class:`Cancelled`
        if ``cancelled()`` turns true."""
        listing = self._store.list_files(recursive=True)
        buffer: list[Entry] = []
        append = buffer.append
        count = 0
        total = 0
        run_size = self._run_size
        ordered = True
        last = ""
        for info in listing:
            entry = entry_of(info)
            append(entry)
            count += 1
            size = entry[1]
            if size is not None:
                total += size
            if ordered:
                path = entry[0]
                if path < last:
                    ordered = False
                last = path
            if len(buffer) >= run_size:
                self._spill(buffer)
                buffer = []
                append = buffer.append
            if count % _CANCEL_EVERY == 0:
                if cancelled():
                    raise Cancelled
                if on_progress is not None:
                    on_progress(count)
        buffer.sort(key=_path)
        if self._runs and buffer:
            self._spill(buffer)
            buffer = []
        self._memory = buffer
        self._ordered = ordered
        self.count = count
        self.bytes = total
        self.invalid_count = listing.invalid_count
        self.invalid = listing.invalid
        if on_progress is not None:
            on_progress(count)

    def _spill(self, buffer: list[Entry]) -> None:
        buffer.sort(key=_path)
        if self._spill_dir is None:
            self._spill_dir = tempfile.mkdtemp(prefix="omnistorage-sync-", dir=self._spill_parent)
        path = os.path.join(self._spill_dir, f"run-{len(self._runs):05d}")
        with open(path, "wb") as handle:
            for start in range(0, len(buffer), _CHUNK):
                data = marshal.dumps([plain(e) for e in buffer[start : start + _CHUNK]])
                handle.write(len(data).to_bytes(8, "little"))
                handle.write(data)
        self._runs.append(path)

    def __iter__(self) -> Iterator[Entry]:
        if not self._runs:
            return iter(self._memory)
        runs = [_read_run(path) for path in self._runs]
        if self._ordered:  # the listing came sorted: the runs follow one another
            return itertools.chain.from_iterable(runs)
        # Paths are unique within a side, so tuples compare on their path alone.
        return heapq.merge(*runs)

    def close(self) -> None:
        """Remove the spill files (idempotent)."""
        self._memory = []
        self._runs = []
        if self._spill_dir is not None:
            shutil.rmtree(self._spill_dir, ignore_errors=True)
            self._spill_dir = None

    def __enter__(self) -> SortedListing:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _read_run(path: str) -> Iterator[Entry]:
    handle: IO[bytes]
    new = tuple.__new__
    # Unbuffered: a merge keeps every run open at once, so a read buffer per run would cost
    # more memory than the chunks themselves. Each chunk is one read.
    with open(path, "rb", buffering=0) as handle:
        while header := handle.read(8):
            if len(header) < 8:
                header += _read(handle, 8 - len(header))
            chunk = marshal.loads(_read(handle, int.from_bytes(header, "little")))
            for item in chunk:
                yield new(Entry, item)


def _read(handle: IO[bytes], size: int) -> bytes:
    data = handle.read(size)
    while len(data) < size:
        more = handle.read(size - len(data))
        if not more:
            raise EOFError(f"sync spill file truncated ({len(data)} of {size} bytes)")
        data += more
    return data


def march(
    src: Iterable[Entry], dst: Iterable[Entry]
) -> Iterator[tuple[Entry | None, Entry | None]]:
    """Walk two path-sorted streams in lock step: one ``(src, dst)`` pair per path."""
    src_it = iter(src)
    dst_it = iter(dst)
    s = next(src_it, None)
    d = next(dst_it, None)
    while s is not None and d is not None:
        sp = s[0]
        dp = d[0]
        if sp == dp:
            yield s, d
            s = next(src_it, None)
            d = next(dst_it, None)
        elif sp < dp:
            yield s, None
            s = next(src_it, None)
        else:
            yield None, d
            d = next(dst_it, None)
    while s is not None:
        yield s, None
        s = next(src_it, None)
    while d is not None:
        yield None, d
        d = next(dst_it, None)
