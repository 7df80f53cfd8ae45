"""The portable :class:`Store`: one contract, implemented once, over any driver.

A Store is a folder (``root``) inside one backend. It is immutable, cheap and
safe to share between threads; :meth:`Store.child` makes a sub-folder store
sharing the same backend. Every path argument is a key relative to the
store's root (see :mod:`omnistorage.paths`); every path it returns is too.

What the Store guarantees on every backend:

1. Keys follow one grammar; nothing escapes the root. Bad keys raise
   :class:`~omnistorage.errors.InvalidPath` before any I/O.
2. Writes are atomic where the backend declares ``ATOMIC_WRITE`` (all the
   built-in ones do): a reader sees the old object or the whole new one; an
   exception, a failed upload or a dropped writer publishes nothing.
3. ``overwrite=False`` (the default) is create-only, atomic where the backend
   declares ``CONDITIONAL_WRITE``; elsewhere it is a check-then-write whose
   race the backend's docs name.
4. Reads and writes stream with bounded memory.
5. Listing is folder-aware: ``list_files("data")`` never returns ``database.txt``.
6. Every failure is a :class:`~omnistorage.errors.StorageError` with the
   native exception as ``__cause__``; unsupported operations fail before I/O.
7. Credentials never appear in ``repr`` or error messages.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from omnistorage import paths
from omnistorage._content import rebase
from omnistorage._io import AtomicWriter, ReadStream, SeekableReader, SpooledPinned
from omnistorage._kernel import WritePlan
from omnistorage._store_objects import StoreObjects
from omnistorage.capabilities import Capability
from omnistorage.driver import Backend
from omnistorage.errors import native_cause
from omnistorage.models import ObjectInfo

__all__ = ["Store"]

_CHUNK = 1 << 20


class Store(StoreObjects):
    """A folder inside a backend, with the whole omnistorage contract.

    The checks that need no I/O (keys, capabilities, error mapping, native
    paths, ``unwrap``) live in :class:`~omnistorage._kernel.StoreKernel`,
    shared with :class:`omnistorage.aio.AsyncStore`; this class holds the reads,
    writes, queries and listings, and its bases the folder operations and
    transfers (``_store_ops.py``) and the queries they share (``_store_base.py``).

    Args:
        backend: the driver to use. The Store does not copy it; children share it.
        root: a folder path inside the backend (``""`` is the backend's root).
    """

    __slots__ = ()

    _DRIVER = Backend
    _OTHER_DRIVER = "an async driver goes in omnistorage.aio.AsyncStore"

    def child(self, path: str) -> Store:
        """A store rooted at the folder ``path`` below this one, sharing the backend."""
        self._check_open()
        return Store(self._backend, paths.join(self._root, paths.validate_folder(path)))

    # ------------------------------------------------------------------ reads

    def read(self, path: str) -> BinaryIO:
        """Open ``path`` for streaming reads. The caller closes the stream.

        Raises ``NotFound`` (at open or at the first read) when there is no file. Where
        the backend declares ``READ_INFO``, the stream's ``info`` is the
        :class:`~omnistorage.ObjectInfo` of the version it reads (from the same request);
        elsewhere it is ``None``.
        """
        key = self._key(path, Capability.READ, "read")
        try:
            inner = self._backend.new_reader(key)
        except Exception as exc:
            raise self._fail(exc, "read", path) from native_cause(exc)
        info = getattr(inner, "info", None)
        if isinstance(info, ObjectInfo):
            info = rebase(info, path)
        return ReadStream(inner, self._fail, path, info)  # type: ignore[return-value]

    def read_seekable(self, path: str) -> BinaryIO:
        """A seekable, buffered reader over ONE version of ``path``.

        With ``PINNED_READ`` the driver pins the version there now (ETag,
        generation, open handle) and every range read checks it: if the object
        is overwritten or deleted meanwhile, reads raise
        :class:`~omnistorage.errors.ChangedDuringRead`, never bytes of two
        versions. Without it, the object is streamed once into a spooled
        temporary file (memory up to 1 MiB, then disk) at open, which is one
        version by construction. ``NotFound`` when there is no file.
        """
        key = self._key(path, Capability.READ, "read")
        try:
            if Capability.PINNED_READ in self._caps:
                pinned = self._backend.open_pinned(key)
            else:
                source = self._backend.new_reader(key)
                try:
                    pinned = SpooledPinned(source)
                finally:
                    source.close()
        except Exception as exc:
            raise self._fail(exc, "read", path) from native_cause(exc)
        raw = SeekableReader(pinned, self._fail, path)
        return io.BufferedReader(raw, buffer_size=_CHUNK)

    # ------------------------------------------------------------------ writes

    def _open_writer(self, path: str, plan: WritePlan) -> AtomicWriter:
        """The driver's writer for a checked write, opened now."""
        # Without CONDITIONAL_WRITE create-only is check-then-write (a documented race).
        if plan.check_first and self._exists_file(plan.key, path):
            raise self._already_exists("write", path)
        try:
            writer = self._backend.new_writer(plan.key, plan.options)
        except Exception as exc:
            raise self._fail(exc, "write", path) from native_cause(exc)
        return AtomicWriter(writer, self._fail, path, hashes=plan.kinds)
