"""ReadOnlyLayer: a backend seen without any way to change it.

It declares the inner backend's features minus every capability that changes
data (:data:`~omnistorage.capabilities.MUTATING_CAPABILITIES`), so a Store over it refuses writes,
deletes (conditional ones too), copies, moves, ``make_folder`` and ``cleanup`` removals with
``CapabilityNotSupported`` before any I/O; the driver methods themselves
refuse too (``PermissionError``), for callers that bypass the Store.
"""

from __future__ import annotations

from omnistorage.capabilities import MUTATING_CAPABILITIES, Features
from omnistorage.driver import ReadOnlyBackend
from omnistorage.ext._layer import Layer

__all__ = ["ReadOnlyLayer"]


class ReadOnlyLayer(ReadOnlyBackend, Layer):
    """Reads, lists and stats pass through; everything that changes data is refused."""

    may_declare = Layer.may_declare - MUTATING_CAPABILITIES
    refusal_subject = "the store"

    def features(self) -> Features:
        inner = super().features()
        return inner.with_capabilities(inner.capabilities - MUTATING_CAPABILITIES)
