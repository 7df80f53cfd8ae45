"""Fan-out writes: one stream into N stores, as a backend the whole toolkit composes with.

>>> from omnistorage import MemoryBackend, Store
>>> from omnistorage.multi import MirrorBackend
>>> a, b = Store(MemoryBackend()), Store(MemoryBackend())
>>> both = Store(MirrorBackend([a, b]))
>>> both.write("events/1.json", b"{}").size
2
>>> a.read_bytes("events/1.json") == b.read_bytes("events/1.json") == b"{}"
True

See :class:`MirrorBackend` for reads, listings and deletes, and
:class:`WritePolicy` (``ALL``, ``quorum(k)``, ``BEST_EFFORT``) for what a
write guarantees. Every finished write produces a :class:`MirrorReport`
(``on_report``); a failed one raises :class:`MirrorWriteError` (or its
:class:`PartialPublish`) carrying it as ``report``. :func:`repair` (also
``MirrorBackend.repair``) brings replicas that missed writes in line.
"""

from omnistorage.multi._backend import MirrorBackend
from omnistorage.multi._policy import ALL, BEST_EFFORT, ReadPolicy, WritePolicy, quorum
from omnistorage.multi._repair import RepairReport, repair
from omnistorage.multi._report import (
    DestinationResult,
    MirrorReport,
    MirrorWriteError,
    PartialPublish,
)

__all__ = [
    "ALL",
    "BEST_EFFORT",
    "DestinationResult",
    "MirrorBackend",
    "MirrorReport",
    "MirrorWriteError",
    "PartialPublish",
    "ReadPolicy",
    "RepairReport",
    "WritePolicy",
    "quorum",
    "repair",
]
