"""Small hostile HTTP servers for the HTTP backend's tests (stdlib only).

A :class:`HostileServer` answers every request with a script: a function that
gets the parsed :class:`Request` and a :class:`Reply` that writes raw bytes to
the socket, so a script can lie in ways a well-behaved server never does: a
status line of its own (``HTTP/1.1 200 Authorization: Basic …``), a ``206``
for another range, an ETag that changes between requests, a body shorter than
its ``Content-Length`` or close-delimited, a body that stalls after the
headers, a gzip bomb of an index. Usage::

    def script(request: Request, reply: Reply) -> None:
        reply.send(200, {"ETag": '"v1"'}, b"hello")

    with HostileServer(script) as server:
        store = Store(HTTPBackend(base_url=f"{server.url}/"))

Every request is recorded in ``server.requests``. A script that raises closes
the connection (as a crash would).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

__all__ = ["HostileServer", "Reply", "Request", "byte_range"]


@dataclass(frozen=True)
class Request:
    """What a script sees: method, path (with its query) and lower-cased headers."""

    method: str
    path: str
    headers: dict[str, str]


class Reply:
    """Raw writes to the client's connection."""

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        self._handler = handler
        self.keep_alive = True

    def raw(self, data: bytes) -> None:
        """Write ``data`` as it is."""
        self._handler.wfile.write(data)
        self._handler.wfile.flush()

    def head(
        self,
        status: int,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        *,
        reason: str = "OK",
    ) -> None:
        """The status line (``reason`` as given, whatever it holds) and the headers."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        lines = [f"HTTP/1.1 {status} {reason}"] + [f"{name}: {value}" for name, value in items]
        self.raw(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def send(
        self,
        status: int,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        *,
        reason: str = "OK",
        length: bool = True,
    ) -> None:
        """A whole answer. With ``length`` a ``Content-Length`` of the body is added;
        without it the body is close-delimited (the connection closes after it)."""
        items = list(headers.items() if isinstance(headers, Mapping) else headers)
        if length:
            items.append(("Content-Length", str(len(body))))
        else:
            items.append(("Connection", "close"))
            self.keep_alive = False
        self.head(status, items, reason=reason)
        if self._handler.command != "HEAD":
            self.raw(body)

    def close(self) -> None:
        """Close the connection now (whatever was promised)."""
        self.keep_alive = False
        self._handler.close_connection = True
        try:
            self._handler.wfile.flush()
            self._handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


Script = Callable[[Request, Reply], None]


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` of a ``Range: bytes=a-b`` header for an object of ``size`` bytes."""
    if not header or not header.startswith("bytes="):
        return None
    first_text, _, last_text = header[6:].partition("-")
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    return first, min(last, size - 1)


class HostileServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 that answers with ``script``."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self.release = threading.Event()
        """Set to free scripts that stall (they wait on it)."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body in separate writes, no delay

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _answer(self) -> None:
                request = Request(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}
                )
                with server._lock:
                    server.requests.append(request)
                reply = Reply(self)
                try:
                    server.script(request, reply)
                except Exception:  # noqa: BLE001 - a crashing script drops the connection
                    reply.close()
                    return
                if not reply.keep_alive:
                    self.close_connection = True

            do_GET = do_HEAD = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def gets(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == "GET"]

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
