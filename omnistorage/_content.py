"""Small pure helpers the Store uses for content, hashes, metadata and object info."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from omnistorage.models import HashType, ObjectInfo

__all__ = [
    "CHUNK",
    "Content",
    "Hashes",
    "check_metadata",
    "chunks",
    "hash_kinds",
    "len_if_bytes",
    "rebase",
]

CHUNK = 1 << 20

Content = bytes | bytearray | memoryview | IO[bytes] | Iterable[bytes]
"""What :meth:`omnistorage.Store.write` accepts."""
Hashes = Iterable[HashType | str]
"""Hash types to compute while writing."""


def rebase(info: ObjectInfo, path: str) -> ObjectInfo:
    """``info`` with a store-relative path (cheaper than ``dataclasses.replace``)."""
    return ObjectInfo(
        path,
        info.size,
        info.modified,
        info.is_dir,
        info.content_type,
        info.etag,
        info.hashes,
        info.metadata,
        info.modified_ns,
    )


def len_if_bytes(content: Any) -> int | None:
    if isinstance(content, (bytes, bytearray)):
        return len(content)
    if isinstance(content, memoryview):
        return content.nbytes
    return None


def chunks(content: Any) -> Iterator[bytes | bytearray | memoryview]:
    read = getattr(content, "read", None)
    if read is not None:
        while chunk := read(CHUNK):
            yield chunk
        return
    for chunk in content:
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise TypeError(f"write() content chunks must be bytes, not {type(chunk).__name__}")
        yield chunk


def hash_kinds(hashes: Hashes) -> tuple[HashType, ...]:
    if isinstance(hashes, (str, HashType)):
        hashes = (hashes,)
    try:
        return tuple(HashType(kind) for kind in hashes)
    except ValueError as exc:
        known = ", ".join(kind.value for kind in HashType)
        raise ValueError(f"unknown hash type in {hashes!r} (known: {known})") from exc


def check_metadata(metadata: Mapping[str, str], path: str) -> None:
    for name, value in metadata.items():
        if not isinstance(name, str) or not isinstance(value, str) or not name:
            raise ValueError(f"metadata for {path!r} must map non-empty str to str: {name!r}")
