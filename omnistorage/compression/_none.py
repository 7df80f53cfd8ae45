"""none: the identity codec, so callers never special-case "no compression"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from omnistorage.compression._base import Buffer
from omnistorage.compression._seal import Seal
from omnistorage.errors import ConfigurationError, StreamClosed

__all__ = ["NoneCodec"]


class _Identity:
    """Both compressor and decompressor: returns its input as ``bytes``."""

    __slots__ = ("_finished", "_held")

    def __init__(self) -> None:
        self._finished = False
        self._held = b""

    @property
    def needs_input(self) -> bool:
        return not self._held

    @property
    def seal(self) -> Seal | None:
        """Always ``None``: uncompressed bytes cannot carry a seal."""
        return None

    def compress(self, data: Buffer) -> bytes:
        return self._pass(data)

    def decompress(self, data: Buffer, max_length: int = -1) -> bytes:
        out = self._pass(data)
        if self._held:
            out = self._held + out
            self._held = b""
        if 0 <= max_length < len(out):
            out, self._held = out[:max_length], out[max_length:]
        return out

    def _pass(self, data: Buffer) -> bytes:
        if self._finished:
            raise StreamClosed("'none' codec used after finish()")
        return data if type(data) is bytes else bytes(data)

    def flush(self) -> bytes:
        return b""

    def finish(self) -> bytes:
        self._finished = True
        held, self._held = self._held, b""
        return held


@dataclass(frozen=True, kw_only=True, slots=True)
class NoneCodec:
    """No compression. Bytes pass through; nothing is buffered or checked.

    A truncated stream cannot be detected at this layer (formats detect a
    truncated record), and it cannot be sealed: any marker would be data.
    """

    name: ClassVar[str] = "none"
    extensions: ClassVar[tuple[str, ...]] = ()

    def compressor(self) -> _Identity:
        """Return a pass-through compressor."""
        return _Identity()

    def decompressor(self, *, require_seal: bool = False) -> _Identity:
        """Return a pass-through decompressor.

        Raises:
            ConfigurationError: ``require_seal=True`` (``none`` has no seal).
        """
        if require_seal:
            raise ConfigurationError(
                "the 'none' codec cannot be sealed: require_seal needs gzip, zstd or snappy"
            )
        return _Identity()
