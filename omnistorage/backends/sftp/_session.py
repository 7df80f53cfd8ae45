"""SFTP sessions: a pool of channels on one SSH connection, reconnecting as needed.

One SSH connection carries up to ``max_connections`` SFTP sessions (channels),
each used by one operation at a time (paramiko's ``SFTPClient`` is not safe
for concurrent use). Every wait for a reply on a session is bounded by
``read_timeout`` (a stalled server fails the call with a temporary
``TimeoutError``). An operation waits up to ``timeout`` for a free session;
a thread that already holds one (an open reader, a writer) gets another
without waiting, so nested use cannot deadlock. A dropped connection fails
the calls in flight with :class:`SFTPConnectionError`; the next call
reconnects (idempotent calls on a stale pooled session are retried once).
Temporary files that a broken connection could not remove are removed on
the next one.

After ``fork`` the child never touches the parent's SSH connection (its
socket is shared, its reader thread did not survive): every pool forgets its
sessions and locks in the child and connects afresh on first use.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import TypeVar

import paramiko

from omnistorage.backends.sftp._errors import SFTPConnectionError, is_connection_problem
from omnistorage.backends.sftp._protocol import awaiting_replies

__all__ = ["PoolTimeout", "Session", "SessionPool", "open_sftp"]

log = logging.getLogger("omnistorage.backends.sftp")

T = TypeVar("T")

_WINDOW_SIZE = 16 << 20  # SSH channel window and packet size of each SFTP session
_MAX_PACKET_SIZE = 64 << 10


class PoolTimeout(TimeoutError):
    """No session became free within the pool's ``timeout`` (all in use)."""


class Session:
    """One SFTP channel, checked out by one operation at a time."""

    __slots__ = ("owner", "reused", "sftp", "ssh")

    def __init__(self, sftp: paramiko.SFTPClient, ssh: paramiko.SSHClient) -> None:
        self.sftp = sftp
        self.ssh = ssh
        self.owner = 0
        self.reused = False

    def alive(self) -> bool:
        channel = self.sftp.get_channel()
        if channel is None or channel.closed:
            return False
        transport = channel.get_transport()
        return transport is not None and transport.is_active()

    def idle(self) -> bool:
        """No request of this session is waiting for its reply."""
        return not awaiting_replies(self.sftp)

    def close(self) -> None:
        """Close the channel; on a dead connection that may fail, which is fine."""
        try:
            self.sftp.close()
        except (OSError, paramiko.SSHException, EOFError) as exc:
            log.debug("closing a broken SFTP session: %r", exc)


def open_sftp(ssh: paramiko.SSHClient, timeout: float | None = None) -> paramiko.SFTPClient:
    """A new SFTP session on ``ssh``, owned by the caller.

    With ``timeout``, every step waits at most that long for the server: opening
    the channel, starting the ``sftp`` subsystem (paramiko waits for that reply
    without a limit, so a watchdog closes the channel) and the version exchange;
    the channel keeps the timeout for every later reply. A step that times out
    raises ``TimeoutError``.
    """
    transport = ssh.get_transport()
    if transport is None or not transport.is_active():
        raise paramiko.SSHException("the SSH connection is not active")
    channel = transport.open_session(
        window_size=_WINDOW_SIZE, max_packet_size=_MAX_PACKET_SIZE, timeout=timeout
    )
    fired = threading.Event()
    watchdog: threading.Timer | None = None
    if timeout is not None:
        channel.settimeout(timeout)

        def expire() -> None:
            fired.set()
            channel.close()

        watchdog = threading.Timer(timeout, expire)
        watchdog.daemon = True
        watchdog.start()
    try:
        channel.invoke_subsystem("sftp")
    except BaseException as exc:
        channel.close()
        if fired.is_set():
            raise TimeoutError(
                f"the server did not start an SFTP session within {timeout:g} s"
            ) from exc
        raise
    finally:
        if watchdog is not None:
            watchdog.cancel()
    try:
        return paramiko.SFTPClient(channel)
    except BaseException:
        channel.close()
        raise


_POOLS: weakref.WeakSet[SessionPool] = weakref.WeakSet()
_INHERITED: list[object] = []  # the parent's connections, kept from garbage collection


def _after_fork_in_child() -> None:
    for pool in list(_POOLS):
        pool._forget_parent()


os.register_at_fork(after_in_child=_after_fork_in_child)


class SessionPool:
    """Up to ``max_connections`` sessions on one SSH connection made by ``connect``.

    ``prepare`` runs on each new session until it succeeds once (the backend
    creates or checks its root folder there). ``where`` (``host:port``) names
    the server in error messages.
    """

    def __init__(
        self,
        *,
        connect: Callable[[], paramiko.SSHClient],
        prepare: Callable[[paramiko.SFTPClient], None],
        where: str,
        timeout: float,
        read_timeout: float,
        max_connections: int,
    ) -> None:
        self.closed = False
        self._read_timeout = read_timeout
        self._connect = connect
        self._prepare = prepare
        self._prepared = False
        self._where = where
        self._timeout = timeout
        self._max = max_connections
        self._cond = threading.Condition()
        self._connect_lock = threading.Lock()
        self._ssh: paramiko.SSHClient | None = None
        self._idle: list[Session] = []
        self._busy = 0
        self._held: dict[int, int] = {}
        self._orphans: set[str] = set()
        self._pid = os.getpid()
        _POOLS.add(self)

    def _check_pid(self) -> None:
        """A forked child that ``os.register_at_fork`` did not reach (a fork made
        outside ``os.fork``) still never uses the parent's connection."""
        if self._pid != os.getpid():
            self._forget_parent()

    def _forget_parent(self) -> None:
        """In a forked child: drop (never close: that would talk on the parent's
        socket) every inherited session and the connection; fresh locks."""
        self._pid = os.getpid()
        _INHERITED.extend(self._idle)
        if self._ssh is not None:
            _INHERITED.append(self._ssh)
        self._cond = threading.Condition()
        self._connect_lock = threading.Lock()
        self._ssh = None
        self._idle = []
        self._busy = 0
        self._held = {}

    def connected(self) -> paramiko.SSHClient:
        """The live SSH connection, (re)connecting when there is none."""
        self._check_pid()
        with self._connect_lock:
            ssh = self._ssh
            if ssh is not None:
                transport = ssh.get_transport()
                if transport is not None and transport.is_active():
                    return ssh
                self._ssh = None
                ssh.close()
            if self.closed:
                raise SFTPConnectionError("the sftp backend is closed")
            ssh = self._connect()
            self._ssh = ssh
            return ssh

    def _drop(self, ssh: paramiko.SSHClient) -> None:
        """Forget a connection that failed, so the next session reconnects."""
        with self._connect_lock:
            if self._ssh is ssh:
                self._ssh = None
        ssh.close()

    def _open_session(self) -> Session:
        for attempt in range(2):
            ssh = self.connected()
            try:
                sftp = open_sftp(ssh, self._read_timeout)
            except paramiko.ChannelException as exc:  # e.g. the server's MaxSessions
                raise SFTPConnectionError(
                    f"{self._where} refused another SFTP session ({exc}); lower max_connections"
                ) from exc
            except (paramiko.SSHException, EOFError, OSError) as exc:
                self._drop(ssh)
                if attempt == 0:
                    continue  # the connection died since it was checked: reconnect once
                raise SFTPConnectionError(
                    f"cannot open an SFTP session on {self._where}: {exc}"
                ) from exc
            session = Session(sftp, ssh)
            try:
                if not self._prepared:
                    self._prepare(sftp)
                    self._prepared = True
                if self._orphans:
                    self._sweep(sftp)
            except BaseException:
                session.close()
                raise
            return session
        raise AssertionError("unreachable")

    def orphan(self, tmp: str) -> None:
        """Remember a temporary file to remove once a connection works again."""
        with self._cond:
            self._orphans.add(tmp)
        log.debug("temporary file %s will be removed on reconnection", tmp)

    def _sweep(self, sftp: paramiko.SFTPClient) -> None:
        """Remove temporary files that an earlier, broken connection could not (best
        effort: the operation that opened this session must not fail because of it)."""
        with self._cond:
            orphans, self._orphans = sorted(self._orphans), set()
        for done, path in enumerate(orphans):
            try:
                sftp.remove(path)
            except FileNotFoundError:
                continue
            except (OSError, paramiko.SSHException, EOFError) as exc:
                channel = sftp.get_channel()
                if channel is None or channel.closed:  # try the rest on the next connection
                    with self._cond:
                        self._orphans.update(orphans[done:])
                    return
                log.warning("cannot remove temporary file %s: %s", path, exc)

    def acquire(self) -> Session:
        """A session for the calling thread; give it back with :meth:`release`."""
        self._check_pid()
        me = threading.get_ident()
        deadline = time.monotonic() + self._timeout
        stale: list[Session] = []
        session: Session | None = None
        with self._cond:
            while True:
                if self.closed:
                    raise SFTPConnectionError("the sftp backend is closed")
                while self._idle and session is None:
                    candidate = self._idle.pop()
                    if candidate.alive():
                        session = candidate
                    else:
                        stale.append(candidate)
                if session is not None or self._busy < self._max or self._held.get(me):
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PoolTimeout(
                        f"no free SFTP session on {self._where} within "
                        f"{self._timeout:g} s (max_connections={self._max}, all in use)"
                    )
                self._cond.wait(remaining)
            self._busy += 1
            self._held[me] = self._held.get(me, 0) + 1
        for dead in stale:
            dead.close()
        if session is None:
            try:
                session = self._open_session()
            except BaseException:
                self._forget(me)
                raise
        session.owner = me
        return session

    def _forget(self, owner: int) -> None:
        with self._cond:
            self._busy -= 1
            left = self._held.get(owner, 0) - 1
            if left > 0:
                self._held[owner] = left
            else:
                self._held.pop(owner, None)
            self._cond.notify()

    def release(self, session: Session, clean: bool) -> None:
        """Return a session to the pool, or close it when it is broken or surplus."""
        keep = False
        with self._cond:
            self._busy -= 1
            left = self._held.get(session.owner, 0) - 1
            if left > 0:
                self._held[session.owner] = left
            else:
                self._held.pop(session.owner, None)
            if (
                clean
                and not self.closed
                and session.ssh is self._ssh
                and len(self._idle) < self._max
                and session.alive()
                and session.idle()
            ):
                session.reused = True
                self._idle.append(session)
                keep = True
            self._cond.notify()
        if not keep:
            session.close()

    def failed(self, session: Session, exc: BaseException, doing: str) -> BaseException | None:
        """Release ``session`` after ``exc``; return the error to raise instead when the
        connection was lost (else ``None``: raise ``exc`` itself)."""
        alive = session.alive()
        clean = alive and isinstance(exc, OSError) and not is_connection_problem(exc)
        self.release(session, clean)
        if not isinstance(exc, Exception):  # KeyboardInterrupt and the like stay as they are
            return None
        if isinstance(exc, TimeoutError) and not isinstance(exc, PoolTimeout):
            return SFTPConnectionError(
                f"SFTP server {self._where} sent no reply within {self._read_timeout:g} s "
                f"(read_timeout) during {doing}"
            )
        if alive and not isinstance(exc, (paramiko.SSHException, EOFError)):
            return None
        if isinstance(exc, (SFTPConnectionError, PoolTimeout)):
            return None
        return SFTPConnectionError(
            f"SFTP connection to {self._where} lost during {doing}: {type(exc).__name__}: {exc}"
        )

    def call(self, fn: Callable[[paramiko.SFTPClient], T], doing: str, *, retry: bool) -> T:
        """Run ``fn`` on a pooled session. With ``retry`` (idempotent calls), a call
        that finds its pooled session's connection dead runs once more on a new one."""
        session, result = self.call_keep(fn, doing, retry=retry)
        self.release(session, clean=True)
        return result

    def call_keep(
        self, fn: Callable[[paramiko.SFTPClient], T], doing: str, *, retry: bool
    ) -> tuple[Session, T]:
        """As :meth:`call`, but the caller keeps the session and releases it."""
        for attempt in range(2):
            session = self.acquire()
            try:
                return session, fn(session.sftp)
            except BaseException as exc:
                reused = session.reused
                lost = self.failed(session, exc, doing)
                if lost is None:
                    raise
                if retry and reused and attempt == 0 and not isinstance(exc, TimeoutError):
                    log.debug("stale SFTP session (%s); retrying on a new one", lost)
                    continue
                raise lost from exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close every idle session and the connection; later calls fail."""
        with self._cond:
            self.closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for session in idle:
            session.close()
        with self._connect_lock:
            ssh, self._ssh = self._ssh, None
        if ssh is not None:
            ssh.close()
