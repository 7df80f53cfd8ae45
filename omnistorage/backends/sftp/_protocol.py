"""Raw, pipelined SFTP requests: send several, collect the replies in any order.

paramiko's ``SFTPClient`` waits for each reply before the next request. The
driver pipelines writes, reads, removes and folder reads with three
long-stable private methods of ``SFTPClient`` (``_async_request``,
``_read_response``, ``_convert_status``) and its ``_expecting`` table; every
use of them is in this module.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any, Protocol, cast

import paramiko
from paramiko.message import Message
from paramiko.sftp import (
    CMD_ATTRS,
    CMD_CLOSE,
    CMD_FSTAT,
    CMD_HANDLE,
    CMD_NAME,
    CMD_OPEN,
    CMD_OPENDIR,
    CMD_READDIR,
    CMD_STATUS,
    SFTPError,
)
from paramiko.sftp_attr import SFTPAttributes

__all__ = ["Pipe", "awaiting_replies"]

log = logging.getLogger("omnistorage.backends.sftp")


class _RawClient(Protocol):
    """The parts of paramiko's ``SFTPClient`` used to pipeline requests.

    These are private but have been stable for many releases; every use is
    in this module.
    """

    _expecting: MutableMapping[int, object]

    def _async_request(self, fileobj: object, t: int, *args: object) -> int: ...

    def _read_response(self, waitfor: int | None = None) -> tuple[Any, Any]: ...

    def _convert_status(self, msg: Message) -> None: ...


def awaiting_replies(sftp: paramiko.SFTPClient) -> bool:
    """Some request sent on ``sftp`` is still waiting for its reply."""
    return bool(cast(_RawClient, sftp)._expecting)


class _Replies:
    """Receives the replies to the requests a :class:`Pipe` sent (paramiko calls
    ``_async_response`` for each), so they can be collected in any order."""

    def __init__(self) -> None:
        self.got: dict[int, tuple[int, Message]] = {}

    def _async_response(self, t: int, msg: Message, num: int) -> None:
        self.got[num] = (t, msg)


class Pipe:
    """Raw SFTP requests on one exclusively held session: send now, collect later.

    Every reply is checked; status errors become paramiko's usual exceptions
    (``FileNotFoundError``, ``PermissionError``, ``OSError``, ``EOFError``).
    """

    def __init__(self, sftp: paramiko.SFTPClient) -> None:
        self._raw = cast(_RawClient, sftp)
        self._replies = _Replies()

    def send(self, t: int, *args: object) -> int:
        return self._raw._async_request(self._replies, t, *args)

    def wait(self, num: int) -> tuple[int, Message]:
        got = self._replies.got
        while num not in got:
            self._raw._read_response()
        return got.pop(num)

    def check(self, t: int, msg: Message) -> None:
        """Raise for an error status (paramiko's exceptions); an OK status passes."""
        if t != CMD_STATUS:
            raise SFTPError(f"unexpected SFTP reply type {t}")
        self._raw._convert_status(msg)

    def status(self, num: int) -> None:
        self.check(*self.wait(num))

    def discard(self, num: int) -> None:
        """Collect a reply whose outcome no longer matters."""
        self.wait(num)

    def reply(self, num: int, expected: int) -> Message:
        t, msg = self.wait(num)
        if t == CMD_STATUS:
            self._raw._convert_status(msg)
        if t != expected:
            raise SFTPError(f"unexpected SFTP reply type {t}, expected {expected}")
        return msg

    def open(self, path: str, flags: int) -> bytes:
        num = self.send(CMD_OPEN, path, flags, SFTPAttributes())
        return self.reply(num, CMD_HANDLE).get_binary()

    def fstat(self, handle: bytes) -> SFTPAttributes:
        msg = self.reply(self.send(CMD_FSTAT, handle), CMD_ATTRS)
        return _attrs_from(msg)

    def close_handle(self, handle: bytes) -> None:
        self.status(self.send(CMD_CLOSE, handle))

    def listdir(self, path: str) -> list[tuple[str, SFTPAttributes]]:
        """One folder's entries (name, lstat attributes), without ``.`` and ``..``."""
        handle = self.reply(self.send(CMD_OPENDIR, path), CMD_HANDLE).get_binary()
        entries: list[tuple[str, SFTPAttributes]] = []
        try:
            while True:
                try:
                    msg = self.reply(self.send(CMD_READDIR, handle), CMD_NAME)
                except EOFError:
                    break
                for _ in range(msg.get_int()):
                    raw_name = msg.get_string()
                    msg.get_string()  # longname
                    attrs = _attrs_from(msg)
                    try:
                        name = raw_name.decode("utf-8")
                    except UnicodeDecodeError:
                        log.debug("skipping a non-UTF-8 name in %s: %r", path, raw_name)
                        continue
                    if name not in (".", ".."):
                        entries.append((name, attrs))
        finally:
            self.close_handle(handle)
        return entries


def _attrs_from(msg: Message) -> SFTPAttributes:
    return cast(SFTPAttributes, cast(Any, SFTPAttributes)._from_msg(msg))
