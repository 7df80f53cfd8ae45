"""``omnistorage.open()``: one call from a URL to a (de)compressed, text or binary stream.

smart_open's convenience with the Store's guarantees: a write publishes the
whole object atomically on a clean ``close()`` (or ``with`` exit) and nothing
at all on an exception, on ``abort()`` or when the object is dropped without
being closed.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from typing import IO, Any, cast

from omnistorage import paths
from omnistorage.compression import (
    CompressedWriter,
    DecompressedReader,
    codec_for_key,
    get_codec,
)
from omnistorage.errors import ConfigurationError, StreamClosed
from omnistorage.store import Store

__all__ = ["open"]

_MODES = {"rb", "wb", "rt", "wt", "r", "w"}


def open(
    target: str | os.PathLike[str],
    mode: str = "rb",
    *,
    compression: str = "infer",
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
    overwrite: bool = True,
    registry: Any = None,
    **options: Any,
) -> IO[Any]:
    """Open ``target`` for reading or writing, like the builtin ``open``.

    Args:
        target: a URL (``s3://bucket/key.gz``, ``gs://…``, ``az://…``,
            ``sftp://…``, ``memory://name/key``, ``file:///abs/path``), a local
            path, or ``profile:path`` naming a store of ``registry``.
        mode: ``"rb"`` (default), ``"wb"``, ``"rt"``/``"r"``, ``"wt"``/``"w"``.
        compression: ``"infer"`` (from the extension: ``.gz``, ``.zst``,
            ``.sz``), a codec name (``"gzip"``, ``"zstd"``, ``"snappy"``) or
            ``"none"``. Reads of a truncated or corrupt stream raise.
        encoding, errors, newline: for text modes (UTF-8 by default).
        overwrite: writes replace an existing object (``True``, like ``open``)
            or are create-only (``False``: ``AlreadyExists`` at close).
        registry: an :class:`omnistorage.Registry` for ``profile:path`` targets.
        options: backend options (as for :func:`omnistorage.open_store`).

    Writes are atomic: only a clean close publishes. An exception in the
    ``with`` block, ``abort()``, or a stream dropped unclosed publishes
    nothing.
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {sorted(_MODES)}, got {mode!r}")
    store, key = _resolve(os.fspath(target), registry, options)
    codec = codec_for_key(key) if compression == "infer" else get_codec(compression)
    text = "b" not in mode
    if mode.startswith("r"):
        raw: IO[bytes] = store.read(key)
        if codec.name != "none":
            raw = cast(IO[bytes], io.BufferedReader(DecompressedReader(raw, codec)))
        if not text:
            return raw
        return io.TextIOWrapper(
            cast(Any, raw),
            encoding=encoding or "utf-8",
            errors=errors,
            newline=newline,
        )
    atomic = store.open_writer(key, overwrite=overwrite)
    sink: Any = atomic if codec.name == "none" else CompressedWriter(cast(Any, atomic), codec)
    binary = _AtomicBinary(sink, key)
    if not text:
        return cast(IO[bytes], binary)
    wrapped = _AtomicText(
        cast(Any, binary), encoding=encoding or "utf-8", errors=errors, newline=newline
    )
    return cast(IO[str], wrapped)


def _resolve(target: str, registry: Any, options: dict[str, Any]) -> tuple[Store, str]:
    from omnistorage.registry import open_store

    if target.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        split = urlsplit(target)
        if split.netloc not in ("", "localhost"):
            raise ConfigurationError(f"file URLs name no host, got {split.netloc!r}")
        target = unquote(split.path)
    elif "://" in target:
        store = open_store(target, **options)
        if not store.root:
            store.close()
            raise ConfigurationError(f"{target!r} names no object (no key after the location)")
        return Store(store.unwrap(), paths.parent(store.root)), paths.basename(store.root)
    profile, sep, rest = target.partition(":")
    if sep and registry is not None and profile in registry.config.stores:
        return registry.store(profile), paths.validate_key(rest)
    full = os.path.abspath(target)
    folder, name = os.path.split(full)
    return open_store(folder, **options), paths.validate_key(name)


class _AtomicBinary(io.BufferedIOBase):
    """A write stream whose close publishes, and whose exception exit or loss does not."""

    def __init__(self, sink: Any, key: str) -> None:
        super().__init__()
        self._sink = sink
        self._key = key
        self._finished = False

    def writable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._finished

    def write(self, data: Any) -> int:
        if self._finished:
            raise StreamClosed(f"write to a closed stream for {self._key!r}", path=self._key)
        self._sink.write(data)
        return len(data) if not isinstance(data, memoryview) else data.nbytes

    def flush(self) -> None:
        if self._finished:
            return
        # Data becomes visible only at close; a codec flush would end a member early.

    def close(self) -> None:
        if self._finished:
            return
        self._finished = True
        self._sink.close()

    def abort(self) -> None:
        """Discard everything written; nothing is published. Idempotent."""
        if self._finished:
            return
        self._finished = True
        self._sink.abort()

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def __del__(self) -> None:
        if not getattr(self, "_finished", True):
            warnings.warn(
                f"stream for {self._key!r} dropped without close(): nothing was published",
                ResourceWarning,
                stacklevel=1,
            )
            with contextlib.suppress(Exception):  # a finaliser must not raise
                self.abort()


class _AtomicText(io.TextIOWrapper):
    """Text over :class:`_AtomicBinary`: an exception exit aborts instead of publishing."""

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def abort(self) -> None:
        """Discard everything written; nothing is published."""
        binary = self.buffer
        assert isinstance(binary, _AtomicBinary)
        binary.abort()

    def __del__(self) -> None:
        binary = getattr(self, "buffer", None)
        if isinstance(binary, _AtomicBinary) and not binary.closed:
            binary.__del__()
