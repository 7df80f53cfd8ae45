"""Loopback servers that hang: they accept connections and then go silent.

- ``"silent"``: accepts and never sends a byte (a wedged server, a full accept queue
  behind a load balancer).
- ``"headers"``: reads the request's head, answers ``200 OK`` with a large
  ``Content-Length`` and a few bytes of body, then stalls (a ``HEAD`` gets the
  status line and headers without the blank line that ends them); for SSH it sends
  its banner and then stalls the key exchange.

Every connection is held open until the server is closed, so the client can only
end the wait with its own timeouts.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from types import TracebackType

__all__ = ["StallingServer"]

_SIZE = 10 << 20


def _answer(head: bytes) -> bytes:
    """A plausible start of an answer to the request ``head``: the status line and
    headers (a ranged request gets its ``206``; a folder URL gets JSON), and the first
    bytes of a body that never comes. A ``HEAD`` gets no blank line after the headers."""
    lines = head.decode("latin-1").split("\r\n")
    method, _, rest = lines[0].partition(" ")
    target = rest.rpartition(" ")[0]
    fields = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:] if ":" in line)
    }
    status, extra, length = "200 OK", "", _SIZE
    asked = fields.get("range") or fields.get("x-ms-range", "")  # Azure names its own
    match = re.fullmatch(r"bytes=(\d+)-(\d*)", asked)
    if match:
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) else _SIZE - 1
        status, length = "206 Partial Content", end - start + 1
        extra = f"Content-Range: bytes {start}-{end}/{_SIZE}\r\n"
    kind = "application/json" if target.split("?", 1)[0].endswith("/") else "text/plain"
    headers = (
        f"HTTP/1.1 {status}\r\n"
        f"Content-Type: {kind}\r\n"
        f"Content-Length: {length}\r\n"
        f"{extra}"
        'ETag: "0123456789abcdef0123456789abcdef"\r\n'
        "Last-Modified: Mon, 02 Jan 2023 03:04:05 GMT\r\n"
        "Accept-Ranges: bytes\r\n"
        "x-ms-blob-type: BlockBlob\r\n"
    ).encode("latin-1")
    if method == "HEAD":
        return headers  # the blank line that would end the headers never comes
    return headers + b"\r\n" + (b"[" if kind == "application/json" else b"<")


class StallingServer:
    """A server on ``127.0.0.1:port`` that stalls every connection (see the module doc).

    Args:
        mode: ``"silent"`` or ``"headers"``.
        ssh: in ``"headers"`` mode, send an SSH banner instead of HTTP headers.
    """

    def __init__(self, mode: str = "silent", *, ssh: bool = False) -> None:
        if mode not in ("silent", "headers"):
            raise ValueError(mode)
        self.mode = mode
        self.ssh = ssh
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, name="stalling-server", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._held.append(conn)
                self.connections += 1
            if self.mode == "headers":
                threading.Thread(target=self._answer_then_stall, args=(conn,), daemon=True).start()

    def _answer_then_stall(self, conn: socket.socket) -> None:
        try:
            if self.ssh:
                conn.sendall(b"SSH-2.0-OpenSSH_9.0 stalling\r\n")
                return
            conn.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            conn.sendall(_answer(head.split(b"\r\n\r\n", 1)[0]))
        except OSError:
            return

    def settled_connections(
        self, at_least: int = 1, *, quiet: float = 0.5, timeout: float = 30.0
    ) -> int:
        """``connections`` once it reaches ``at_least`` (waiting up to ``timeout``) and
        then stays the same for ``quiet`` seconds.

        The accepting thread may lag on a busy machine, leaving connections the client
        made in the kernel's queue for a while: waiting for ``at_least`` never counts
        short of it, and the quiet time lets later ones arrive.
        """
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            with self._lock:
                now = self.connections
            if now != last:
                last, since = now, time.monotonic()
            elif now >= at_least and time.monotonic() - since >= quiet:
                return now
            time.sleep(0.02)
        return last

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._listener.close()
        with self._lock:
            held, self._held = self._held, []
        for conn in held:
            with contextlib.suppress(OSError):
                conn.close()

    def __enter__(self) -> StallingServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
