"""Moving one file's bytes for ``cp``, ``mv``, ``put`` and ``get``.

A transfer between two locations on one backend is server-side
(:meth:`omnistorage.Store.copy` / :meth:`~omnistorage.Store.move`: a rename on
local disks, CopyObject on S3), unless a bandwidth limit is set: then the bytes
always stream through this process, so the limit holds. Streamed transfers go
in 1 MiB chunks into :meth:`omnistorage.Store.open_writer`, which publishes
only on a clean close: an error *or a* ``KeyboardInterrupt`` (Ctrl-C) inside
the ``with`` block aborts the writer (temp file removed, multipart upload
aborted), so an interrupted copy publishes nothing. The modification time,
content type and user metadata are kept where the destination stores them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from omnistorage.capabilities import Capability
from omnistorage.cli._address import Location
from omnistorage.cli._progress import Meter
from omnistorage.models import ObjectInfo
from omnistorage.store import Store

__all__ = ["CHUNK", "Throttle", "Transferred", "pump", "transfer", "upload"]

CHUNK = 1 << 20


class Throttle:
    """Limits a stream to ``rate`` bytes per second (``None``: no limit).

    A sleep-based pacer: after ``n`` bytes the caller waits until the stream is no
    further ahead than ``rate`` allows since the first byte. Sleeping in the main
    thread keeps Ctrl-C working. ``clock`` and ``sleep`` (seconds) default to
    ``time.monotonic`` and ``time.sleep``.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"a bandwidth limit must be positive, got {rate}")
        self.rate = rate
        """The limit in bytes per second, or ``None``."""
        self._clock = clock
        self._sleep = sleep
        self._start: float | None = None
        self._sent = 0

    def wait(self, nbytes: int) -> None:
        """Account for ``nbytes`` just sent and sleep as long as the limit needs."""
        if self.rate is None:
            return
        now = self._clock()
        if self._start is None:
            self._start = now
        self._sent += nbytes
        due = self._start + self._sent / self.rate
        if due > now:
            self._sleep(due - now)


@dataclass(frozen=True, slots=True)
class Transferred:
    """One file done: where from, where to, how many bytes, and whether server-side."""

    src: str
    dst: str
    bytes: int
    server_side: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "src": self.src,
            "dst": self.dst,
            "bytes": self.bytes,
            "server_side": self.server_side,
        }


def pump(source: BinaryIO, write: Callable[[bytes], Any], meter: Meter, throttle: Throttle) -> int:
    """Copy ``source`` to ``write`` in chunks, counting and pacing; returns the bytes."""
    total = 0
    # read1 returns what is there (a pipe's bytes) instead of waiting for a full chunk.
    read = getattr(source, "read1", source.read)
    while chunk := read(CHUNK):
        write(chunk)
        total += len(chunk)
        meter.add(len(chunk))
        throttle.wait(len(chunk))
    return total


def transfer(
    src: Location,
    info: ObjectInfo,
    dst: Location,
    *,
    move: bool,
    overwrite: bool,
    meter: Meter,
    throttle: Throttle,
) -> Transferred:
    """Copy (or move) the file ``src`` (whose ``info`` the caller fetched) to ``dst``.

    Raises the library's errors: ``NotFound`` (source gone), ``AlreadyExists``
    (``overwrite=False`` and the destination exists; nothing is changed) …
    A move deletes the source only after the destination was published.
    """
    if src.same_backend(dst) and throttle.rate is None:
        shared = Store(src.store.unwrap())
        if move:
            shared.move(src.full_key(), dst.full_key(), overwrite=overwrite)
        else:
            shared.copy(src.full_key(), dst.full_key(), overwrite=overwrite)
        meter.add(info.size or 0)
        return Transferred(src.text, dst.text, info.size or 0, server_side=True)
    target = dst.store
    writer = target.open_writer(
        dst.path,
        overwrite=overwrite,
        size_hint=info.size,
        modified=info.modified_ns if target.supports(Capability.SET_MOD_TIME) else None,
        content_type=info.content_type if target.supports(Capability.CONTENT_TYPE) else None,
        metadata=dict(info.metadata)
        if info.metadata and target.supports(Capability.USER_METADATA)
        else None,
    )
    with writer:
        source = src.store.read(src.path)
        try:
            size = pump(source, writer.write, meter, throttle)
        finally:
            source.close()
        writer.close()
    if move:
        src.store.delete(src.path)
    return Transferred(src.text, dst.text, size, server_side=False)


def upload(
    source: BinaryIO,
    name: str,
    dst: Location,
    *,
    overwrite: bool,
    size_hint: int | None,
    meter: Meter,
    throttle: Throttle,
) -> Transferred:
    """Stream ``source`` (stdin) into ``dst``; published only when it ends cleanly."""
    with dst.store.open_writer(dst.path, overwrite=overwrite, size_hint=size_hint) as writer:
        size = pump(source, writer.write, meter, throttle)
        writer.close()
    return Transferred(name, dst.text, size, server_side=False)
