"""Shared machinery for codecs made of self-contained members.

gzip streams are a sequence of members and zstd streams a sequence of
frames; both are decoded one member at a time by an object that reports
``eof`` and hands back the bytes after the member in ``unused_data``. The two
classes here hold that logic once:

- :class:`MemberCompressor` opens a member lazily on the first non-empty
  ``compress()`` and closes it on ``flush()``, so a flush never produces an
  empty member and every flush ends a complete, independently decodable one.
- :class:`MemberDecompressor` decodes members back to back and knows whether
  the input stopped inside one, which is how truncation is detected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from omnistorage.compression._base import Buffer
from omnistorage.compression._seal import Seal, SealTracker
from omnistorage.errors import CorruptDataError, StreamClosed, TruncatedDataError

__all__ = ["MemberCompressor", "MemberDecompressor"]


class _CompressObj(Protocol):
    def compress(self, data: Buffer, /) -> bytes: ...

    def flush(self) -> bytes: ...


class _DecompressObj(Protocol):
    """One member's decoder with bounded output (the stdlib bz2/lzma/zstd interface)."""

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    @property
    def needs_input(self) -> bool: ...

    def decompress(self, data: Buffer, /, max_length: int = -1) -> bytes: ...


class MemberCompressor:
    """A :class:`~omnistorage.compression.Compressor` over member compress objects.

    ``new_member()`` returns an object whose ``compress()`` feeds the member
    and whose argument-less ``flush()`` ends it (zlib's ``Z_FINISH``,
    python-zstandard's ``COMPRESSOBJ_FLUSH_FINISH``).
    """

    __slots__ = ("_emitted", "_finished", "_member", "_name", "_new_member")

    def __init__(self, new_member: Callable[[], _CompressObj], *, name: str) -> None:
        self._new_member = new_member
        self._name = name
        self._member: _CompressObj | None = None
        self._emitted = False
        self._finished = False

    def compress(self, data: Buffer) -> bytes:
        if self._finished:
            raise StreamClosed(f"{self._name} compressor used after finish()")
        if not data:
            return b""
        member = self._member
        if member is None:
            member = self._member = self._new_member()
        out = member.compress(data)
        if out:
            self._emitted = True
        return out

    def flush(self) -> bytes:
        if self._finished:
            raise StreamClosed(f"{self._name} compressor used after finish()")
        member = self._member
        if member is None:
            return b""
        self._member = None
        self._emitted = True
        return member.flush()

    def finish(self) -> bytes:
        if self._finished:
            raise StreamClosed(f"{self._name} compressor finished twice")
        if self._member is None and not self._emitted:
            # Nothing was ever written: emit one empty member so that the
            # result is a valid stream for command-line tools too.
            self._member = self._new_member()
        out = self.flush()
        self._finished = True
        return out


class MemberDecompressor:
    """A :class:`~omnistorage.compression.Decompressor` over member objects.

    ``new_member()`` returns a single-member decoder with bounded output
    (``decompress(data, max_length)``, ``eof``, ``unused_data``,
    ``needs_input``). ``errors`` are the exceptions it raises on bad input,
    turned into :class:`CorruptDataError`; ``translate`` may turn one into a
    more precise error first (a limit, say). A member object that has a
    ``seal_payload`` attribute other than ``None`` once it ended is a seal,
    verified by ``tracker``.
    """

    __slots__ = (
        "_errors",
        "_finished",
        "_member",
        "_members",
        "_name",
        "_new_member",
        "_pending",
        "_tracker",
        "_translate",
    )

    def __init__(
        self,
        new_member: Callable[[], _DecompressObj],
        *,
        errors: tuple[type[BaseException], ...],
        name: str,
        translate: Callable[[BaseException], BaseException | None] | None = None,
        require_seal: bool = False,
    ) -> None:
        self._tracker = SealTracker(name, require=require_seal)
        self._members = 0  # members/frames ended so far (for messages)
        self._new_member = new_member
        self._errors = errors
        self._name = name
        self._translate = translate
        self._member: _DecompressObj | None = None
        self._pending = b""  # what followed a finished member, not yet given to the next
        self._finished = False

    @property
    def seal(self) -> Seal | None:
        """The last seal seen (see :mod:`omnistorage.compression._seal`)."""
        return self._tracker.seal

    @property
    def needs_input(self) -> bool:
        """False while a call of ``decompress(b"", n)`` would produce more output."""
        if self._pending:
            return False
        member = self._member
        return member is None or member.needs_input

    def decompress(self, data: Buffer, max_length: int = -1) -> bytes:
        if self._finished:
            raise StreamClosed(f"{self._name} decompressor used after finish() or an error")
        if self._pending:
            data = self._pending + bytes(data)
            self._pending = b""
        out: list[bytes] = []
        produced = 0
        while True:
            room = -1 if max_length < 0 else max_length - produced
            if room == 0:
                self._pending = bytes(data)
                break
            member = self._member
            if member is None:
                if not data:
                    break
                member = self._member = self._new_member()
            try:
                chunk = member.decompress(data, room)
            except CorruptDataError:
                self._finished = True  # the member diagnosed it; never resume
                raise
            except self._errors as exc:
                self._finished = True  # never resume inside damaged input
                better = self._translate(exc) if self._translate else None
                if better is not None:
                    raise better from exc
                raise CorruptDataError(f"corrupt {self._name} stream: {exc}") from exc
            if chunk:
                out.append(chunk)
                produced += len(chunk)
                self._tracker.output(len(chunk))
            if not member.eof:
                break  # it holds what it did not decode yet (see needs_input)
            # The member ended; whatever follows starts the next one.
            self._members += 1
            payload: bytes | None = getattr(member, "seal_payload", None)
            if payload is None:
                self._tracker.data()
            else:
                unit = "frame" if self._name == "zstd" else "member"
                try:
                    self._tracker.found(payload, f"in {unit} {self._members}")
                except CorruptDataError:
                    self._finished = True
                    raise
            data = member.unused_data
            self._member = None
            if not data:
                break
        if len(out) == 1:
            return out[0]
        return b"".join(out)

    def finish(self) -> bytes:
        if self._finished:
            return b""
        out: list[bytes] = []
        while not self.needs_input:  # drain output held back by max_length
            out.append(self.decompress(b"", 1 << 20))
        self._finished = True
        if self._member is not None:
            raise TruncatedDataError(
                f"truncated {self._name} stream: the input ended inside a "
                f"{'frame' if self._name == 'zstd' else 'member'}"
            )
        self._tracker.check_end()
        return b"".join(out)
