"""Content hashes computed while streaming (``hashes=`` on writes).

Each :class:`~omnistorage.models.HashType` maps to an incremental hasher with
``update(bytes)`` and a lowercase hex digest, so a write can report the hashes
of exactly the bytes it published without reading them back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Protocol

from omnistorage.models import HashType

__all__ = ["Hasher", "MultiHasher", "new_hasher"]


class Hasher(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def hexdigest(self) -> str: ...


class _Crc32c:
    __slots__ = ("_value",)

    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        import google_crc32c

        self._value = google_crc32c.extend(self._value, bytes(data))

    def hexdigest(self) -> str:
        return f"{self._value:08x}"


def new_hasher(kind: HashType) -> Hasher:
    """A fresh incremental hasher for ``kind``."""
    if kind is HashType.CRC32C:
        return _Crc32c()
    return hashlib.new(kind.value, usedforsecurity=False)


class MultiHasher:
    """Feeds every chunk to one hasher per requested hash type."""

    __slots__ = ("_hashers",)

    def __init__(self, kinds: Iterable[HashType | str]) -> None:
        self._hashers = {HashType(kind): new_hasher(HashType(kind)) for kind in kinds}

    def __bool__(self) -> bool:
        return bool(self._hashers)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        for hasher in self._hashers.values():
            hasher.update(data)

    def digests(self) -> dict[HashType, str]:
        return {kind: hasher.hexdigest() for kind, hasher in self._hashers.items()}
