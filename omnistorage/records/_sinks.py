"""Where a RecordWriter's encoded bytes go: compress, gather, write to the store.

- :class:`CompressingSink` compresses each batch on the calling thread (or
  gathers batches up to ``gather`` bytes first, for a compressor whose calls
  cost something each) and hands the output to the target (a Store writer)
  in chunks of about ``write_size`` bytes.
- :class:`ThreadedSink` runs a :class:`CompressingSink` on one worker
  thread fed through a bounded queue, so encoding (on the caller's thread)
  overlaps compression and I/O (the codecs release the GIL). The bytes are
  the same as the serial sink's: the same compressor sees the same batches
  in the same order. (Parallel zstd does not use it: libzstd's own threads
  compress, see :func:`omnistorage.records._tuning.make_compressor`.)
"""

from __future__ import annotations

import contextlib
import queue
import threading
from typing import Any, Protocol

from omnistorage.compression import Compressor

__all__ = ["CompressingSink", "Sink", "Target", "ThreadedSink"]


class Target(Protocol):
    """What a RecordWriter writes to: a Store writer (``Store.open_writer``) or alike.

    ``close()`` publishes (its return value is passed back by
    ``RecordWriter.close``); ``abort()`` discards. ``flush()``, when the
    target has it, is called by ``RecordWriter.flush``.
    """

    def write(self, data: bytes, /) -> object: ...

    def close(self) -> Any: ...

    def abort(self) -> object: ...


class Sink(Protocol):
    @property
    def bytes_out(self) -> int: ...

    def push(self, data: bytes) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> Any: ...

    def abort(self) -> None: ...


class CompressingSink:
    """Compress batches; write the output to ``target`` in ``write_size`` chunks.

    With ``gather`` > 0, the stream is compressed in blocks of exactly
    ``gather`` bytes (and the rest at a flush or the end), whatever the sizes
    of the batches pushed: fewer calls for a compressor whose calls cost
    something each, and the same output for the same bytes (ISA-L's deflate
    output depends on where its calls split the input).
    """

    __slots__ = (
        "_compress",
        "_compressor",
        "_gather",
        "_gathered",
        "_gathered_size",
        "_out",
        "_out_size",
        "_target",
        "_write_size",
        "bytes_out",
        "trailer",
    )

    def __init__(
        self, target: Target, compressor: Compressor, write_size: int, gather: int = 0
    ) -> None:
        self._target = target
        self._compressor = compressor
        self._compress = compressor.compress
        self._write_size = write_size
        self._gather = gather
        self._gathered: list[bytes] = []
        self._gathered_size = 0
        self._out: list[bytes] = []
        self._out_size = 0
        self.bytes_out = 0
        self.trailer = b""  # written after the stream's last bytes (a seal)

    def push(self, data: bytes) -> None:
        """Compress ``data`` (the sink keeps it: pass bytes that do not change); write
        when a chunk's worth of output is ready."""
        block = self._gather
        if not block:
            out = self._compress(data)
            if out:
                self._add(out)
            return
        gathered = self._gathered
        gathered.append(data)
        self._gathered_size += len(data)
        if self._gathered_size < block:
            return
        joined = gathered[0] if len(gathered) == 1 else b"".join(gathered)
        cut = len(joined) - len(joined) % block
        rest = joined[cut:]
        self._gathered = [rest] if rest else []
        self._gathered_size = len(rest)
        view = memoryview(joined)
        for start in range(0, cut, block):
            out = self._compress(view[start : start + block])
            if out:
                self._add(out)

    def _compress_gathered(self) -> None:
        if self._gathered:
            gathered = self._gathered
            data = gathered[0] if len(gathered) == 1 else b"".join(gathered)
            gathered.clear()
            self._gathered_size = 0
            out = self._compress(data)
            if out:
                self._add(out)

    def _add(self, out: bytes) -> None:
        self._out.append(out)
        self._out_size += len(out)
        self.bytes_out += len(out)
        if self._out_size >= self._write_size:
            self._drain()

    def _drain(self) -> None:
        out = self._out
        if not out:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        self._out = []
        self._out_size = 0
        self._target.write(data)

    def flush(self) -> None:
        """End the member/frame and hand every byte so far to the target."""
        self._compress_gathered()
        tail = self._compressor.flush()
        if tail:
            self._add(tail)
        self._drain()
        flush = getattr(self._target, "flush", None)
        if flush is not None:
            flush()

    def close(self) -> Any:
        """Finish the stream, write it out, and publish (close) the target."""
        self._compress_gathered()
        tail = self._compressor.finish()
        if tail:
            self._add(tail)
        if self.trailer:
            self._add(self.trailer)
        self._drain()
        return self._target.close()

    def abort(self) -> None:
        self._out = []
        self._gathered = []
        self._target.abort()


_DATA, _FLUSH, _CLOSE, _ABORT = range(4)


class ThreadedSink:
    """A :class:`CompressingSink` on a worker thread behind a queue of ``depth`` batches.

    Memory stays bounded: ``push`` blocks while ``depth`` batches wait.
    ``flush``/``close`` wait for the worker to finish everything queued
    before them. A failure on the worker aborts the target; the next call
    raises it. The worker thread is a daemon, so a writer that is never
    closed cannot keep the interpreter alive (its object is not published).
    """

    __slots__ = (
        "_error",
        "_gather",
        "_gathered",
        "_gathered_size",
        "_inner",
        "_queue",
        "_result",
        "_thread",
    )

    def __init__(self, inner: CompressingSink, depth: int, gather: int = 0) -> None:
        self._inner = inner
        # Batches smaller than gather bytes are joined before they are queued:
        # each hand-off to the worker costs a thread switch.
        self._gather = gather
        self._gathered: list[bytes] = []
        self._gathered_size = 0
        self._queue: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._result: Any = None
        self._thread = threading.Thread(
            target=self._run, name="omnistorage-record-writer", daemon=True
        )
        self._thread.start()

    @property
    def bytes_out(self) -> int:
        return self._inner.bytes_out

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def push(self, data: bytes) -> None:
        self._check()
        if self._gather:
            gathered = self._gathered
            gathered.append(data)
            self._gathered_size += len(data)
            if self._gathered_size < self._gather:
                return
            data = gathered[0] if len(gathered) == 1 else b"".join(gathered)
            gathered.clear()
            self._gathered_size = 0
        self._queue.put((_DATA, data))

    def _push_gathered(self) -> None:
        if self._gathered:
            gathered = self._gathered
            data = gathered[0] if len(gathered) == 1 else b"".join(gathered)
            gathered.clear()
            self._gathered_size = 0
            self._queue.put((_DATA, data))

    def flush(self) -> None:
        self._check()
        self._push_gathered()
        done = threading.Event()
        self._queue.put((_FLUSH, done))
        done.wait()
        self._check()

    def close(self) -> Any:
        if self._error is not None:
            self.abort()  # stop the worker; the target was aborted by the failure
            raise self._error
        self._push_gathered()
        self._queue.put((_CLOSE, None))
        self._thread.join()
        self._check()
        return self._result

    def abort(self) -> None:
        self._gathered = []
        if self._thread.is_alive():
            self._queue.put((_ABORT, None))
            self._thread.join()
        elif self._error is None:
            self._inner.abort()

    def _run(self) -> None:
        inner = self._inner
        get = self._queue.get
        while True:
            kind, payload = get()
            try:
                if self._error is not None:
                    # Failed: keep taking items so producers never block.
                    pass
                elif kind == _DATA:
                    inner.push(payload)
                elif kind == _FLUSH:
                    inner.flush()
                elif kind == _CLOSE:
                    self._result = inner.close()
                else:
                    inner.abort()
            except BaseException as exc:  # noqa: BLE001 - raised by the next call
                self._error = exc
                with contextlib.suppress(Exception):  # the first failure is the one reported
                    inner.abort()
            finally:
                if kind == _FLUSH:
                    payload.set()
            if kind in (_CLOSE, _ABORT):
                return
