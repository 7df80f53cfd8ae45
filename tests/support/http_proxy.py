"""A loopback HTTP reverse proxy that injects faults per request (tests only).

It forwards every request to one upstream server (moto, Azurite, the GCS
emulator …) and, for the requests a :class:`Fault` matches, does one of:

- ``"drop_reply"``: forward the request, let the server act on it, read the
  server's reply and throw it away, then close the client's connection. The
  client sees a dropped connection for a request that *succeeded*: exactly
  the ambiguous failure a retrying SDK turns into a conflict on its retry.
- ``"refuse"``: close the client's connection without forwarding anything.
- ``"cut_reply"``: forward the request and send only the status line, the
  headers and the first ``cut_after`` bytes of the reply body, then close.
- ``"respond"``: do not forward; answer with the scripted ``status``,
  ``reply_headers`` and ``reply_body`` (an error the upstream cannot produce,
  such as a 412 from an emulator that ignores preconditions).

Each fault fires ``times`` times and is then spent; ``hits`` records what
fired. Usage::

    with FaultProxy(os.environ["OMNI_TEST_S3_ENDPOINT"]) as proxy:
        proxy.add(Fault(lambda r: r.method == "PUT" and "uploadId" not in r.query))
        client = make_client(endpoint_url=proxy.url)
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal

__all__ = ["Fault", "FaultProxy", "ProxiedRequest"]

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "expect"}
)


@dataclass(frozen=True)
class ProxiedRequest:
    """What a fault's matcher sees: method, path (without query), parsed query, headers."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class Fault:
    """One fault: which requests (``match``), what to do, how many times."""

    match: Callable[[ProxiedRequest], bool]
    action: Literal["drop_reply", "refuse", "cut_reply", "respond"] = "drop_reply"
    times: int = 1
    cut_after: int = 0
    status: int = 500
    reply_headers: dict[str, str] = field(default_factory=dict)
    reply_body: bytes = b""
    hits: list[ProxiedRequest] = field(default_factory=list)


class FaultProxy:
    """An HTTP/1.1 reverse proxy on 127.0.0.1 in front of ``upstream``."""

    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.scheme != "http" or parsed.hostname is None or parsed.port is None:
            raise ValueError(f"upstream must be http://host:port, got {upstream!r}")
        self._upstream = (parsed.hostname, parsed.port)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.requests: list[ProxiedRequest] = []
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def add(self, fault: Fault) -> Fault:
        """Arm ``fault``; returns it (its ``hits`` fill as it fires)."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, request: ProxiedRequest) -> Fault | None:
        with self._lock:
            self.requests.append(request)
            for fault in self._faults:
                if fault.times > 0 and fault.match(request):
                    fault.times -= 1
                    fault.hits.append(request)
                    return fault
        return None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _make_handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _forward(self) -> None:
            split = urllib.parse.urlsplit(self.path)
            headers = dict(self.headers.items())
            request = ProxiedRequest(
                self.command,
                split.path,
                urllib.parse.parse_qs(split.query, keep_blank_values=True),
                {k.lower(): v for k, v in headers.items()},
            )
            body = self._read_body()
            fault = proxy._take_fault(request)
            if fault is not None and fault.action == "refuse":
                self.close_connection = True
                return
            if fault is not None and fault.action == "respond":
                self.send_response(fault.status)
                for name, value in fault.reply_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(fault.reply_body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(fault.reply_body)
                return
            upstream = http.client.HTTPConnection(*proxy._upstream, timeout=60)
            try:
                forward = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
                if "transfer-encoding" in request.headers:
                    forward.pop("Transfer-Encoding", None)
                    forward.pop("transfer-encoding", None)
                    forward["Content-Length"] = str(len(body))
                upstream.request(self.command, self.path, body=body, headers=forward)
                reply = upstream.getresponse()
                data = reply.read()
                reply_headers = reply.getheaders()
                status, reason = reply.status, reply.reason
            finally:
                upstream.close()
            if fault is not None and fault.action == "drop_reply":
                self.close_connection = True
                return
            self.send_response(status, reason)
            for name, value in reply_headers:
                if name.lower() not in _HOP_BY_HOP and name.lower() not in (
                    "content-length",
                    "transfer-encoding",
                    "date",
                    "server",
                ):
                    self.send_header(name, value)
            if self.command == "HEAD":  # no body: the upstream's length describes the object
                length = {k.lower(): v for k, v in reply_headers}.get("content-length")
                self.send_header("Content-Length", length or "0")
            else:
                self.send_header("Content-Length", str(len(data)))
            if fault is not None and fault.action == "cut_reply":
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data[: fault.cut_after])
                self.close_connection = True
                return
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                parts = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _forward

    return Handler
