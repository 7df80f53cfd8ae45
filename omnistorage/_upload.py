"""The machinery of a multipart upload, written once for the drivers that stream in parts.

- :class:`PartStream` cuts a byte stream into parts whose sizes a driver gives
  (``size_of(n)`` for part ``n``, counted from 1: S3's layout, Azure's growing blocks).
  A full part is handed on only once more data follows, so the last part, which may be
  the only one, stays buffered for the driver's ``close`` (one request for a small
  object, the last part otherwise).
- :class:`PartPool` uploads parts on at most ``limit`` threads with at most ``limit``
  in flight: handing over a part blocks while ``limit`` are in flight (back-pressure, so
  memory stays near ``(limit + 1) x part size``); the first failure is raised by the next
  :meth:`~PartPool.submit` or :meth:`~PartPool.drain`; :meth:`~PartPool.stop` cancels
  what has not started and waits for what has, so nothing is uploaded after an abort
  returns.

What a part is, how an upload starts, completes, is made create-only and is aborted
stay the driver's: these classes do no I/O of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Generic, TypeVar

__all__ = ["PartPool", "PartStream"]

T = TypeVar("T")


class PartStream:
    """Cuts written bytes into parts of ``size_of(n)`` bytes and hands each full part to
    ``send(n, body)`` once more data follows it (see the module docstring)."""

    __slots__ = ("_send", "_size_of", "buffer", "sent")

    def __init__(
        self, size_of: Callable[[int], int], send: Callable[[int, bytes | bytearray], None]
    ) -> None:
        self._size_of, self._send = size_of, send
        self.buffer = bytearray()
        """The bytes not handed on yet (at most one part)."""
        self.sent = 0
        """Parts handed on so far."""

    def feed(self, view: memoryview) -> None:
        """Take ``view``: buffer it, handing on every part that more data follows."""
        while view.nbytes:
            target = self._size_of(self.sent + 1)
            if len(self.buffer) >= target:
                # The buffered part is full and more data follows: it is not the last part.
                body, self.buffer = self.buffer, bytearray()
                self._hand_on(body)
                continue
            if not self.buffer and view.nbytes > target:
                self._hand_on(bytes(view[:target]))
                view = view[target:]
                continue
            room = target - len(self.buffer)
            self.buffer += view[:room]
            view = view[room:]

    def flush_part(self, *, empty_too: bool = False) -> None:
        """Hand on what is buffered as the next part (the last one, at close or staging).
        With ``empty_too``, an empty buffer is handed on too (an empty object as one
        part)."""
        if self.buffer or empty_too:
            body, self.buffer = self.buffer, bytearray()
            self._hand_on(body)

    def take(self) -> bytearray:
        """The buffered bytes, leaving the buffer empty (a single request's body)."""
        body, self.buffer = self.buffer, bytearray()
        return body

    def _hand_on(self, body: bytes | bytearray) -> None:
        self._send(self.sent + 1, body)
        self.sent += 1


class PartPool(Generic[T]):
    """Runs part uploads on up to ``limit`` threads, at most ``limit`` in flight, and keeps
    each part's result by its number (see the module docstring)."""

    def __init__(self, limit: int, name: str) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self._limit, self._name = limit, name
        self._executor: ThreadPoolExecutor | None = None
        self._pending: dict[int, Future[T]] = {}
        self.results: dict[int, T] = {}
        """Each finished part's result, by part number."""

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def submit(self, number: int, upload: Callable[[], T]) -> None:
        """Start ``upload`` as part ``number`` once fewer than ``limit`` parts are in
        flight; raises the first failure of an earlier part instead."""
        self._wait_below(self._limit)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._limit, thread_name_prefix=self._name
            )
        self._pending[number] = self._executor.submit(upload)

    def drain(self) -> None:
        """Wait for every part in flight; raises the first failure."""
        self._wait_below(1)

    def ordered(self) -> list[T]:
        """The results in part order (after :meth:`drain`)."""
        return [self.results[n] for n in sorted(self.results)]

    def stop(self) -> None:
        """Cancel the parts not started, wait for those running; results are kept.
        Idempotent; the pool may not be used afterwards."""
        executor, self._executor = self._executor, None
        pending, self._pending = self._pending, {}
        for future in pending.values():
            future.cancel()
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _wait_below(self, limit: int) -> None:
        """Collect finished parts; wait until fewer than ``limit`` are in flight."""
        while self._pending:
            done = [n for n, f in self._pending.items() if f.done()]
            if not done and len(self._pending) < limit:
                return
            if not done:
                wait(self._pending.values(), return_when=FIRST_COMPLETED)
                continue
            for number in sorted(done):
                future = self._pending.pop(number)
                self.results[number] = future.result()  # a failed part fails the upload
