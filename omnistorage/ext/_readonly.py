"""ReadOnlyLayer: a backend seen without any way to change it.

It declares the inner backend's features minus every capability that writes
(WRITE, DELETE, COPY, MOVE, ATOMIC_WRITE, CONDITIONAL_WRITE, MKDIR,
SET_MOD_TIME, USER_METADATA, CONTENT_TYPE), so a Store over it refuses writes,
deletes, copies, moves, ``make_folder`` and ``cleanup`` removals with
``CapabilityNotSupported`` before any I/O; the driver methods themselves
refuse too (``PermissionError``), for callers that bypass the Store.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn

from omnistorage._bound import refusal
from omnistorage.capabilities import Capability, Features
from omnistorage.driver import WriteOptions, Writer
from omnistorage.ext._layer import Layer
from omnistorage.models import Leftover

__all__ = ["ReadOnlyLayer"]

_WRITES = frozenset(
    {
        Capability.WRITE,
        Capability.DELETE,
        Capability.COPY,
        Capability.MOVE,
        Capability.ATOMIC_WRITE,
        Capability.CONDITIONAL_WRITE,
        Capability.MKDIR,
        Capability.SET_MOD_TIME,
        Capability.USER_METADATA,
        Capability.CONTENT_TYPE,
    }
)


class ReadOnlyLayer(Layer):
    """Reads, lists and stats pass through; everything that changes data is refused."""

    may_declare = Layer.may_declare - _WRITES

    def features(self) -> Features:
        inner = super().features()
        return inner.with_capabilities(inner.capabilities - _WRITES)

    def _refuse(self, what: str) -> NoReturn:
        raise PermissionError(f"{what}: the store is read-only")

    @refusal
    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        self._refuse(f"write {key!r}")

    @refusal
    def delete(self, key: str) -> None:
        self._refuse(f"delete {key!r}")

    @refusal
    def delete_many(self, keys: Iterable[str]) -> None:
        self._refuse("delete")

    @refusal
    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._refuse(f"copy to {dst!r}")

    @refusal
    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._refuse(f"move {src!r}")

    @refusal
    def mkdir(self, key: str) -> None:
        self._refuse(f"mkdir {key!r}")

    @refusal
    def rmdir(self, key: str) -> None:
        self._refuse(f"rmdir {key!r}")

    @refusal
    def remove_leftover(self, leftover: Leftover) -> None:
        self._refuse(f"cleanup {leftover.native!r}")
