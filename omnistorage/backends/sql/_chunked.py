"""The chunked layout of :class:`SQLBlobBackend` (the default; tables in ``_schema``).

- **Streaming, bounded memory both ways**: bytes live in chunk rows (1 MiB by
  default); a write stages chunks under a fresh upload id, a read fetches one
  chunk at a time (on SQLite through ``blobopen``: only the bytes asked for).
- **Atomic publish**: one transaction points the key's row at the staged
  upload (and drops the previous version's chunks). Create-only is the
  primary key: of racing writers exactly one inserts the row.
- **One version per reader**: a reader follows the upload id it first saw;
  once that version is replaced or deleted its chunks are gone and the read
  raises ``ObjectChanged`` (``ChangedDuringRead``).
- **Crash leftovers**: staged uploads of writers that never published, listed
  from the uploads table and removed by ``Store.cleanup``. A publish whose
  upload was cleaned up meanwhile fails instead of pointing at missing data.
- Prefix queries (listings, leftovers) keep exactly the keys below the prefix
  (:func:`under_prefix`): ``LIKE`` with ``%`` and ``_`` escaped, and an exact
  comparison, since ``LIKE`` ignores case on SQLite.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, BinaryIO

from sqlalchemy import (
    Engine,
    and_,
    bindparam,
    case,
    delete,
    exc,
    func,
    insert,
    literal,
    literal_column,
    select,
    update,
)

from omnistorage._reader_base import RangeReader
from omnistorage.backends.sql._folding import key_folding
from omnistorage.backends.sql._schema import Tables, sqlite_snapshot
from omnistorage.capabilities import Capability, ETagKind, Features
from omnistorage.driver import PinnedReader, WriteOptions, Writer
from omnistorage.errors import LimitExceeded, ObjectChanged, VersionMismatch
from omnistorage.models import HashType, Leftover, ObjectInfo

__all__ = ["ChunkedLayout", "under_prefix", "utc"]

FEATURES = Features.of(
    [
        Capability.READ,
        Capability.WRITE,
        Capability.DELETE,
        Capability.LIST,
        Capability.METADATA,
        Capability.COPY,
        Capability.MOVE,
        Capability.ATOMIC_WRITE,
        Capability.CONDITIONAL_WRITE,
        Capability.RANGE_READ,
        Capability.SET_MOD_TIME,
        Capability.USER_METADATA,
        Capability.CONTENT_TYPE,
        Capability.PINNED_READ,
        Capability.CONDITIONAL_DELETE,
        Capability.DEFERRED_PUBLISH,
    ],
    [HashType.MD5],
    etag=ETagKind.OPAQUE,
    strong_version=True,  # the upload id of the row set, which pinned reads check
)


def under_prefix(column: Any, prefix: str) -> Any:
    """The condition "``column`` starts with ``prefix``", exactly.

    ``LIKE`` with ``%`` and ``_`` escaped lets the database use the key index, but
    ``LIKE`` is case-insensitive on SQLite (``data/`` matches ``DATA/big.bin``) and
    follows the column's collation elsewhere; the comparison of the key's first
    characters with ``=`` (a function's result has no collation on SQLite; PostgreSQL's
    default collations are deterministic) keeps exactly the keys below ``prefix``.
    Every prefix query of both layouts (listings, leftovers) goes through here."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return and_(
        column.like(escaped + "%", escape="\\"),
        func.substr(column, 1, len(prefix)) == prefix,
    )


def too_large(key: str, limit: int) -> LimitExceeded:
    return LimitExceeded(
        f"write {key!r}: the object exceeds max_blob_size={limit} bytes (raise the option)"
    )


class ChunkedLayout:
    """Objects as chunk rows under three tables (see the module docstring)."""

    features = FEATURES

    def __init__(
        self,
        engine: Engine,
        tables: Tables,
        chunk_size: int,
        max_blob_size: int | None,
        *,
        introspect: bool = True,
    ) -> None:
        """``introspect``: ask the database whether the key column folds names (a
        connection at once); without it the tables are taken as omnistorage makes them
        (keys compared exactly)."""
        self._engine = engine
        self._tables = tables
        self._chunk = chunk_size
        self._max = max_blob_size
        self.table_name = tables.blobs.name
        folds_case, folds_unicode = (
            key_folding(engine, tables.blobs.name, tables.blobs.schema)
            if introspect
            else (False, False)
        )
        if folds_case or folds_unicode:  # a table another tool made with a folding collation
            self.features = replace(
                FEATURES, case_insensitive=folds_case, normalizes_unicode=folds_unicode
            )
        # The hot statements, built once (building a construct costs more than running it).
        blobs, chunks = tables.blobs, tables.chunks
        key: Any = bindparam("key")
        self._select_row = select(blobs).where(blobs.c.key == key)
        self._select_exists = select(blobs.c.key).where(blobs.c.key == key)
        self._select_upload = select(blobs.c.upload).where(blobs.c.key == key)
        self._insert_row = insert(blobs)
        self._insert_chunk = insert(chunks)
        self._update_row = update(blobs).where(blobs.c.key == bindparam("old_key"))
        self._delete_chunks = delete(chunks).where(chunks.c.upload == bindparam("old_upload"))
        small = case((blobs.c.size <= blobs.c.chunk_size, chunks.c.data), else_=None)
        first = and_(chunks.c.upload == blobs.c.upload, chunks.c.seq == 0)
        self._select_read = (
            select(blobs.c.upload, blobs.c.size, blobs.c.chunk_size, small.label("small"))
            .select_from(blobs.outerjoin(chunks, first))
            .where(blobs.c.key == key)
        )

    # ------------------------------------------------------------ rows

    def _row(self, key: str) -> Any:
        with self._engine.connect() as conn:
            return conn.execute(self._select_row, {"key": key}).first()

    def _info(self, row: Any) -> ObjectInfo:
        metadata = json.loads(row.metadata) if row.metadata else {}
        return ObjectInfo(
            path=row.key,
            size=row.size,
            modified=utc(row.modified),
            content_type=row.content_type,
            etag=row.upload,
            hashes={HashType.MD5: row.md5} if row.md5 else {},
            metadata=metadata,
        )

    # ------------------------------------------------------------ basic interface

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return _SQLWriter(self, key, options)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        # One query: the row, and the bytes too when the object is one chunk at most.
        with self._engine.connect() as conn:
            row = conn.execute(self._select_read, {"key": key}).first()
        if row is None:
            raise FileNotFoundError(f"no object {key!r}")
        end = row.size if length is None else min(row.size, offset + length)
        if row.size <= row.chunk_size:
            data = bytes(row.small or b"")
            if len(data) != row.size:
                raise ObjectChanged(f"{key!r} changed while it was read")
            return io.BytesIO(data[offset:end])
        pinned = _SQLPinned(self, row.upload, row.size, row.chunk_size)
        return RangeReader(pinned, offset, end, step=1 << 20, owns_pin=False)  # type: ignore[return-value]

    def open_pinned(self, key: str) -> PinnedReader:
        row = self._row(key)
        if row is None:
            raise FileNotFoundError(f"no object {key!r}")
        return _SQLPinned(self, row.upload, row.size, row.chunk_size)

    def exists(self, key: str) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(self._select_exists, {"key": key}).first() is not None

    def stat(self, key: str) -> ObjectInfo:
        row = self._row(key)
        if row is None:
            raise FileNotFoundError(f"no object {key!r}")
        return self._info(row)

    def delete(self, key: str) -> None:
        blobs, chunks = self._tables.blobs, self._tables.chunks
        with self._engine.begin() as conn:
            row = conn.execute(select(blobs.c.upload).where(blobs.c.key == key)).first()
            if row is None:
                return
            conn.execute(delete(blobs).where(blobs.c.key == key))
            conn.execute(delete(chunks).where(chunks.c.upload == row.upload))

    def delete_version(self, key: str, version: str) -> None:
        """Delete the row only while it is the upload ``version`` (one statement: the
        database's row lock orders it against a concurrent overwrite)."""
        blobs, chunks = self._tables.blobs, self._tables.chunks
        with self._engine.begin() as conn:
            gone = conn.execute(
                delete(blobs).where(blobs.c.key == key, blobs.c.upload == version)
            ).rowcount
            if gone:
                conn.execute(delete(chunks).where(chunks.c.upload == version))
                return
            if conn.execute(select(blobs.c.upload).where(blobs.c.key == key)).first():
                raise VersionMismatch(f"{key!r} holds another upload than {version!r}")

    def delete_many(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.delete(key)

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        blobs = self._tables.blobs
        query = select(blobs.c.key, blobs.c.size, blobs.c.modified).order_by(blobs.c.key)
        if prefix:
            query = query.where(under_prefix(blobs.c.key, prefix))
        last_folder = None
        with self._engine.connect() as conn:
            rows = conn.execution_options(stream_results=True, yield_per=1000).execute(query)
            for row in rows:
                key = row.key
                if not key.startswith(prefix):  # collations may match more than a prefix
                    continue
                rest = key[len(prefix) :]
                if not recursive and "/" in rest:
                    folder = prefix + rest.split("/", 1)[0]
                    if folder != last_folder:
                        last_folder = folder
                        yield ObjectInfo(path=folder, is_dir=True)
                    continue
                yield ObjectInfo(path=key, size=row.size, modified=utc(row.modified))

    # ------------------------------------------------------------ server-side copy and move

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        blobs, chunks = self._tables.blobs, self._tables.chunks
        with self._engine.begin() as conn:
            row = conn.execute(select(blobs).where(blobs.c.key == src)).first()
            if row is None:
                raise FileNotFoundError(f"no object {src!r}")
            upload = uuid.uuid4().hex
            conn.execute(
                insert(chunks).from_select(
                    ["upload", "seq", "data"],
                    select(
                        literal(upload, chunks.c.upload.type), chunks.c.seq, chunks.c.data
                    ).where(chunks.c.upload == row.upload),
                )
            )
            values = dict(row._mapping, key=dst, upload=upload)
            self._put_row(conn, dst, values, overwrite)

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        blobs = self._tables.blobs
        with self._engine.begin() as conn:
            row = conn.execute(select(blobs).where(blobs.c.key == src)).first()
            if row is None:
                raise FileNotFoundError(f"no object {src!r}")
            conn.execute(delete(blobs).where(blobs.c.key == src))
            self._put_row(conn, dst, dict(row._mapping, key=dst), overwrite)

    def _put_row(self, conn: Any, key: str, values: dict[str, Any], overwrite: bool) -> None:
        """Point ``key`` at ``values`` in the open transaction (the one publish step)."""
        if not overwrite:
            # Create-only: the primary key decides; a conflict ends the whole transaction.
            try:
                conn.execute(self._insert_row, values)
            except exc.IntegrityError:
                raise FileExistsError(f"an object exists at {key!r}") from None
            return
        query = self._select_upload
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        old = conn.execute(query, {"key": key}).first()
        if old is not None:
            conn.execute(self._update_row, {**values, "old_key": key})
            conn.execute(self._delete_chunks, {"old_upload": old.upload})
            return
        try:
            with conn.begin_nested():
                conn.execute(self._insert_row, values)
        except exc.IntegrityError:
            # A racing overwrite inserted first: replace it now that it is visible.
            self._put_row(conn, key, values, overwrite)

    # ------------------------------------------------------------ crash leftovers

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        uploads, chunks = self._tables.uploads, self._tables.chunks
        query = select(uploads).order_by(uploads.c.started)
        if prefix:
            query = query.where(under_prefix(uploads.c.key, prefix))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
            for row in rows:
                if not row.key.startswith(prefix):  # whatever the database's collation
                    continue
                size = conn.execute(
                    select(func.coalesce(func.sum(func.length(chunks.c.data)), 0)).where(
                        chunks.c.upload == row.upload
                    )
                ).scalar_one()
                yield Leftover(
                    kind="staged-upload",
                    key=row.key,
                    native=f"{self._tables.uploads.name}/{row.upload}",
                    size=int(size),
                    started=utc(row.started),
                    handle=row.upload,
                )

    def remove_leftover(self, leftover: Leftover) -> None:
        uploads, chunks = self._tables.uploads, self._tables.chunks
        with self._engine.begin() as conn:
            conn.execute(delete(uploads).where(uploads.c.upload == leftover.handle))
            conn.execute(delete(chunks).where(chunks.c.upload == leftover.handle))


class _SQLWriter(Writer):
    """Stages chunk rows under a fresh upload id; ``close`` publishes in one transaction.

    An object that fits in one chunk is never staged: ``close`` inserts its chunk and
    its row in the one publishing transaction (nothing to clean up after a crash).
    """

    def __init__(self, backend: ChunkedLayout, key: str, options: WriteOptions) -> None:
        self._backend = backend
        self._key = key
        self._options = options
        self._upload = uuid.uuid4().hex
        self._buffer = bytearray()
        self._seq = 0
        self._size = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._done = False
        self._staged = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._done:
            raise ValueError("write to a finished writer")
        self._buffer += data
        self._md5.update(data)
        size = len(data) if not isinstance(data, memoryview) else data.nbytes
        self._size += size
        limit = self._backend._max
        if limit is not None and self._size > limit:
            raise too_large(self._key, limit)
        chunk = self._backend._chunk
        while len(self._buffer) >= chunk:
            self._stage(bytes(self._buffer[:chunk]))
            del self._buffer[:chunk]
        return size

    def _stage(self, data: bytes) -> None:
        tables = self._backend._tables
        with self._backend._engine.begin() as conn:
            if not self._staged:
                conn.execute(
                    insert(tables.uploads).values(
                        upload=self._upload, key=self._key, started=datetime.now(UTC)
                    )
                )
            conn.execute(
                self._backend._insert_chunk,
                {"upload": self._upload, "seq": self._seq, "data": data},
            )
        self._staged = True
        self._seq += 1

    def close(self) -> None:
        if self._done:
            raise ValueError("writer already finished")
        self._done = True
        backend = self._backend
        tables = backend._tables
        options = self._options
        try:
            if self._buffer and self._staged:
                self._stage(bytes(self._buffer))
                self._buffer.clear()
            values = {
                "key": self._key,
                "upload": self._upload,
                "size": self._size,
                "chunk_size": backend._chunk,
                "modified": options.modified or datetime.now(UTC),
                "content_type": options.content_type,
                "metadata": json.dumps(dict(options.metadata)) if options.metadata else None,
                "md5": self._md5.hexdigest(),
            }
            with backend._engine.begin() as conn:
                if not self._staged:  # one chunk at most: insert it with the row
                    if self._buffer:
                        conn.execute(
                            backend._insert_chunk,
                            {"upload": self._upload, "seq": 0, "data": bytes(self._buffer)},
                        )
                    backend._put_row(conn, self._key, values, options.overwrite)
                    self.version = self._upload
                    return
                claimed = conn.execute(
                    delete(tables.uploads).where(tables.uploads.c.upload == self._upload)
                ).rowcount
                if claimed != 1:
                    raise ObjectChanged(
                        f"the staged upload of {self._key!r} was removed (cleanup) before publish"
                    )
                backend._put_row(conn, self._key, values, options.overwrite)
                self.version = self._upload
        except BaseException:
            self._discard()
            raise

    def stage(self) -> dict[str, Any]:
        """Stage every byte as chunk rows (one, maybe empty, at least) and publish nothing;
        :func:`~omnistorage.backends.sql._staged.publish_staged` runs the publishing
        transaction later."""
        if self._done:
            raise ValueError("writer already finished")
        self._done = True
        options = self._options
        try:
            if self._buffer or not self._staged:
                self._stage(bytes(self._buffer))
                self._buffer.clear()
        except BaseException:
            self._discard()
            raise
        modified = options.modified or datetime.now(UTC)
        return {
            "key": self._key,
            "upload": self._upload,
            "size": self._size,
            "chunk_size": self._backend._chunk,
            "md5": self._md5.hexdigest(),
            "modified": modified.isoformat(),
            "content_type": options.content_type,
            "metadata": dict(options.metadata),
        }

    def abort(self) -> None:
        if not self._done:
            self._done = True
            self._discard()

    def _discard(self) -> None:
        self._buffer.clear()
        if not self._staged:
            return
        tables = self._backend._tables
        try:
            with self._backend._engine.begin() as conn:
                conn.execute(delete(tables.uploads).where(tables.uploads.c.upload == self._upload))
                conn.execute(delete(tables.chunks).where(tables.chunks.c.upload == self._upload))
        except exc.SQLAlchemyError:
            pass  # what stays is a leftover that cleanup removes


class _SQLPinned(PinnedReader):
    """Ranged reads of one upload (one version); its chunks vanish once it is replaced."""

    def __init__(self, backend: ChunkedLayout, upload: str, size: int, chunk: int) -> None:
        self._backend = backend
        self._upload = upload
        self._chunk = chunk
        self.size = size
        self.version = upload
        self._cached: tuple[int, bytes] = (-1, b"")
        self._sqlite = backend._engine.dialect.name == "sqlite"

    def _chunk_part(self, seq: int, within: int, want: int) -> bytes:
        """Up to ``want`` bytes of chunk ``seq`` from ``within``. SQLite reads just those
        bytes through ``blobopen``, finding the chunk and opening it in one snapshot
        (:func:`~._schema.sqlite_snapshot`: a chunk replaced meanwhile is gone, never
        "no such rowid" or another row's bytes); elsewhere the chunk is fetched once
        and kept."""
        if not self._sqlite:
            return self._chunk_data(seq)[within : within + want]
        chunks = self._backend._tables.chunks
        with self._backend._engine.connect() as conn, sqlite_snapshot(conn) as raw:
            rowid = conn.execute(
                select(literal_column("rowid"))
                .select_from(chunks)
                .where(chunks.c.upload == self._upload, chunks.c.seq == seq)
            ).scalar()
            if rowid is None:
                raise ObjectChanged(f"version {self._upload} was replaced or deleted")
            with raw.blobopen(chunks.name, "data", rowid, readonly=True) as blob:
                blob.seek(within)
                return bytes(blob.read(want))

    def _chunk_data(self, seq: int) -> bytes:
        if self._cached[0] == seq:
            return self._cached[1]
        chunks = self._backend._tables.chunks
        with self._backend._engine.connect() as conn:
            row = conn.execute(
                select(chunks.c.data).where(chunks.c.upload == self._upload, chunks.c.seq == seq)
            ).first()
        if row is None:
            raise ObjectChanged(f"version {self._upload} was replaced or deleted")
        data = bytes(row.data)
        self._cached = (seq, data)
        return data

    def read_range(self, offset: int, length: int) -> bytes:
        end = min(self.size, offset + length)
        parts = []
        while offset < end:
            seq, within = divmod(offset, self._chunk)
            data = self._chunk_part(seq, within, min(end - offset, self._chunk - within))
            if not data:
                raise ObjectChanged(f"version {self._upload} is shorter than recorded")
            parts.append(data)
            offset += len(data)
        return b"".join(parts)


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
