"""SQLBlobBackend: objects in a SQL database (SQLAlchemy 2 Core; SQLite, PostgreSQL).

- **Streaming, bounded memory both ways**: bytes live in chunk rows (1 MiB by
  default); a write stages chunks under a fresh upload id, a read fetches one
  chunk at a time.
- **Atomic publish**: one transaction points the key's row at the staged
  upload (and drops the previous version's chunks). Create-only is the
  primary key: of racing writers exactly one inserts the row.
- **One version per reader**: a reader follows the upload id it first saw;
  once that version is replaced or deleted its chunks are gone and the read
  raises ``ObjectChanged`` (``ChangedDuringRead``).
- **Crash leftovers**: staged uploads of writers that never published, listed
  from the uploads table and removed by ``Store.cleanup``. A publish whose
  upload was cleaned up meanwhile fails instead of pointing at missing data.
- Engines: given a URL the backend owns the engine (disposed on ``close``);
  given an ``Engine`` it borrows it. ``child()`` stores share the backend.
- Prefix listings escape ``%`` and ``_`` (``LIKE … ESCAPE``).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, BinaryIO

from sqlalchemy import Engine, delete, exc, func, insert, literal, select, update

from omnistorage.backends.sql._schema import Tables, make_engine
from omnistorage.capabilities import Capability, Features
from omnistorage.driver import ExtendedBackend, PinnedReader, WriteOptions, Writer
from omnistorage.errors import (
    Classification,
    ConfigurationError,
    ErrorKind,
    ObjectChanged,
    classify_builtin,
)
from omnistorage.models import HashType, Leftover, ObjectInfo

__all__ = ["SQLBlobBackend"]

_FEATURES = Features.of(
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
    ],
    [HashType.MD5],
)


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class SQLBlobBackend(ExtendedBackend):
    """Objects as chunked rows in a SQL database (see the module docstring).

    Args:
        url: a SQLAlchemy URL (``sqlite:///data.db``,
            ``postgresql+psycopg://user:pw@host/db``); the backend owns the engine.
        engine: an existing ``Engine`` to borrow instead of ``url``.
        table_prefix: the tables' name prefix (``<prefix>_blobs`` …).
        create_tables: create missing tables on first use.
        chunk_size: bytes per chunk row.
    """

    name = "sql"

    def __init__(
        self,
        url: str | None = None,
        *,
        engine: Engine | None = None,
        table_prefix: str = "omnistorage",
        create_tables: bool = True,
        chunk_size: int = 1 << 20,
    ) -> None:
        if (url is None) == (engine is None):
            raise ConfigurationError("SQLBlobBackend needs exactly one of url= or engine=")
        if chunk_size < 1024:
            raise ConfigurationError("chunk_size must be at least 1024 bytes")
        try:
            self._tables = Tables(table_prefix)
        except ValueError as error:
            raise ConfigurationError(str(error)) from None
        self._owned = engine is None
        self._engine = engine if engine is not None else make_engine(str(url))
        self._chunk = chunk_size
        if create_tables:
            self._tables.create(self._engine)
        password = self._engine.url.password
        self.secret_values = (str(password),) if password else ()

    @classmethod
    def check_config(cls, options: Mapping[str, object]) -> None:
        if (options.get("url") is None) == (options.get("engine") is None):
            raise ConfigurationError("the sql backend needs exactly one of 'url' or 'engine'")

    def __repr__(self) -> str:
        shown = self._engine.url.render_as_string(hide_password=True)
        return f"SQLBlobBackend({shown!r}, table={self._tables.blobs.name!r})"

    def features(self) -> Features:
        return _FEATURES

    def close(self) -> None:
        if self._owned:
            self._engine.dispose()
        self.closed = True

    def native_path(self, key: str) -> str:
        shown = self._engine.url.render_as_string(hide_password=True)
        return f"{shown}#{self._tables.blobs.name}/{key}"

    def key_from_native(self, native: str) -> str | None:
        marker = f"#{self._tables.blobs.name}/"
        _, sep, key = native.partition(marker)
        return key if sep else None

    def classify_error(self, error: BaseException) -> Classification:
        if isinstance(error, exc.IntegrityError):
            return Classification(ErrorKind.ALREADY_EXISTS)
        if isinstance(error, exc.OperationalError):
            return Classification(ErrorKind.UNAVAILABLE, temporary=True)
        if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
            return Classification(ErrorKind.UNAVAILABLE, temporary=True)
        return classify_builtin(error)

    # ------------------------------------------------------------ rows

    def _row(self, key: str) -> Any:
        blobs = self._tables.blobs
        with self._engine.connect() as conn:
            return conn.execute(select(blobs).where(blobs.c.key == key)).first()

    def _info(self, row: Any) -> ObjectInfo:
        metadata = json.loads(row.metadata) if row.metadata else {}
        return ObjectInfo(
            path=row.key,
            size=row.size,
            modified=_utc(row.modified),
            content_type=row.content_type,
            etag=row.upload,
            hashes={HashType.MD5: row.md5} if row.md5 else {},
            metadata=metadata,
        )

    # ------------------------------------------------------------ basic interface

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return _SQLWriter(self, key, options)

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        pinned = self.open_pinned(key)
        end = pinned.size if length is None else min(pinned.size, offset + length)
        return _ChunkStream(pinned, offset, end)  # type: ignore[return-value]

    def open_pinned(self, key: str) -> PinnedReader:
        row = self._row(key)
        if row is None:
            raise FileNotFoundError(f"no object {key!r}")
        return _SQLPinned(self, row.upload, row.size, row.chunk_size)

    def exists(self, key: str) -> bool:
        blobs = self._tables.blobs
        with self._engine.connect() as conn:
            return conn.execute(select(blobs.c.key).where(blobs.c.key == key)).first() is not None

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

    def delete_many(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.delete(key)

    def list(self, prefix: str, *, recursive: bool = True) -> Iterator[ObjectInfo]:
        blobs = self._tables.blobs
        query = select(blobs.c.key, blobs.c.size, blobs.c.modified).order_by(blobs.c.key)
        if prefix:
            query = query.where(blobs.c.key.like(_like_prefix(prefix), escape="\\"))
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
                yield ObjectInfo(path=key, size=row.size, modified=_utc(row.modified))

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
        blobs, chunks = self._tables.blobs, self._tables.chunks
        if overwrite:
            query = select(blobs.c.upload).where(blobs.c.key == key)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            old = conn.execute(query).first()
            if old is not None:
                conn.execute(update(blobs).where(blobs.c.key == key).values(**values))
                conn.execute(delete(chunks).where(chunks.c.upload == old.upload))
                return
        try:
            with conn.begin_nested():
                conn.execute(insert(blobs).values(**values))
        except exc.IntegrityError:
            if not overwrite:
                raise FileExistsError(f"an object exists at {key!r}") from None
            # A racing overwrite inserted first: replace it now that it is visible.
            self._put_row(conn, key, values, overwrite)

    # ------------------------------------------------------------ crash leftovers

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        uploads, chunks = self._tables.uploads, self._tables.chunks
        query = select(uploads).order_by(uploads.c.started)
        if prefix:
            query = query.where(uploads.c.key.like(_like_prefix(prefix), escape="\\"))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
            for row in rows:
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
                    started=_utc(row.started),
                    handle=row.upload,
                )

    def remove_leftover(self, leftover: Leftover) -> None:
        uploads, chunks = self._tables.uploads, self._tables.chunks
        with self._engine.begin() as conn:
            conn.execute(delete(uploads).where(uploads.c.upload == leftover.handle))
            conn.execute(delete(chunks).where(chunks.c.upload == leftover.handle))


class _SQLWriter(Writer):
    """Stages chunk rows under a fresh upload id; ``close`` publishes in one transaction."""

    def __init__(self, backend: SQLBlobBackend, key: str, options: WriteOptions) -> None:
        self._backend = backend
        self._key = key
        self._options = options
        self._upload = uuid.uuid4().hex
        self._buffer = bytearray()
        self._seq = 0
        self._size = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._done = False
        uploads = backend._tables.uploads
        with backend._engine.begin() as conn:
            conn.execute(
                insert(uploads).values(upload=self._upload, key=key, started=datetime.now(UTC))
            )

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._done:
            raise ValueError("write to a finished writer")
        self._buffer += data
        self._md5.update(data)
        size = len(data) if not isinstance(data, memoryview) else data.nbytes
        self._size += size
        chunk = self._backend._chunk
        while len(self._buffer) >= chunk:
            self._stage(bytes(self._buffer[:chunk]))
            del self._buffer[:chunk]
        return size

    def _stage(self, data: bytes) -> None:
        chunks = self._backend._tables.chunks
        with self._backend._engine.begin() as conn:
            conn.execute(insert(chunks).values(upload=self._upload, seq=self._seq, data=data))
        self._seq += 1

    def close(self) -> None:
        if self._done:
            raise ValueError("writer already finished")
        self._done = True
        backend = self._backend
        tables = backend._tables
        options = self._options
        try:
            if self._buffer:
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
                claimed = conn.execute(
                    delete(tables.uploads).where(tables.uploads.c.upload == self._upload)
                ).rowcount
                if claimed != 1:
                    raise ObjectChanged(
                        f"the staged upload of {self._key!r} was removed (cleanup) before publish"
                    )
                backend._put_row(conn, self._key, values, options.overwrite)
        except BaseException:
            self._discard()
            raise

    def abort(self) -> None:
        if not self._done:
            self._done = True
            self._discard()

    def _discard(self) -> None:
        tables = self._backend._tables
        try:
            with self._backend._engine.begin() as conn:
                conn.execute(delete(tables.uploads).where(tables.uploads.c.upload == self._upload))
                conn.execute(delete(tables.chunks).where(tables.chunks.c.upload == self._upload))
        except exc.SQLAlchemyError:
            pass  # what stays is a leftover that cleanup removes


class _SQLPinned(PinnedReader):
    """Ranged reads of one upload (one version); its chunks vanish once it is replaced."""

    def __init__(self, backend: SQLBlobBackend, upload: str, size: int, chunk: int) -> None:
        self._backend = backend
        self._upload = upload
        self._chunk = chunk
        self.size = size
        self.version = upload
        self._cached: tuple[int, bytes] = (-1, b"")

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
            data = self._chunk_data(seq)[within : within + (end - offset)]
            if not data:
                raise ObjectChanged(f"version {self._upload} is shorter than recorded")
            parts.append(data)
            offset += len(data)
        return b"".join(parts)


class _ChunkStream:
    """A streaming reader over a pinned upload, one chunk in memory at a time."""

    def __init__(self, pinned: PinnedReader, offset: int, end: int) -> None:
        self._pinned = pinned
        self._pos = offset
        self._end = end
        self.closed = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while chunk := self.read(1 << 20):
                parts.append(chunk)
            return b"".join(parts)
        want = min(size, self._end - self._pos)
        if want <= 0:
            return b""
        data = self._pinned.read_range(self._pos, want)
        self._pos += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> _ChunkStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
