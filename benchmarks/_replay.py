"""An S3 endpoint behind a link with a round-trip time and no server time, for the LIST row.

moto answers a 1,000-key ListObjectsV2 page in about 140 ms of its own CPU, on
the same two cores as the client, so a LIST measured against it is mostly
moto. :class:`ReplayLink` is a loopback HTTP server in front of an S3 endpoint
that answers each GET after ``delay`` seconds (the link), with the answer the
endpoint gave the first time that exact request line was asked (recorded on
the first, untimed, pass): what is left to measure is each client's own cost
per page (its request, its parsing, its objects) and how it overlaps that with
the wait. Every client goes through the same link; each gets the endpoint's
own answers to its own requests (a client that asks for ``encoding-type=url``
gets moto's encoded page). Requests are forwarded with their headers unchanged
(moto does not check signatures); only GETs are recorded and replayed.

The link runs in a process of its own (``replay_link`` starts it): in the
clients' process it would wait for their GIL before every answer, which
delays a client that parses in Python and not one that parses in Rust.

    python benchmarks/_replay.py UPSTREAM [DELAY]   # prints the link's URL, then serves
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

STATS = "/__replay_stats"
"""GET it for ``recorded replayed``: the GETs forwarded so far, and those replayed."""
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class ReplayLink:
    """``url``: the link's endpoint; ``recorded``/``replayed``: GETs forwarded, GETs answered
    from the recording."""

    def __init__(self, upstream: str, delay: float) -> None:
        self._upstream = urlsplit(upstream)
        self._delay = delay
        self._answers: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {}
        self._lock = threading.Lock()
        self.recorded = 0
        self.replayed = 0
        link = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as both clients use it

            def do_GET(self) -> None:
                link._answer(self)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.path == STATS:
            with self._lock:
                found = (200, [], f"{self.recorded} {self.replayed}".encode())
            self._send(handler, found)
            return
        started = time.monotonic()
        with self._lock:
            found = self._answers.get(handler.path)
        if found is None:
            found = self._forward(handler)
            with self._lock:
                self._answers[handler.path] = found
                self.recorded += 1
        else:
            with self._lock:
                self.replayed += 1
        left = self._delay - (time.monotonic() - started)
        if left > 0:
            time.sleep(left)
        self._send(handler, found)

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler, found: tuple[int, list[tuple[str, str]], bytes]
    ) -> None:
        status, headers, body = found
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _forward(self, handler: BaseHTTPRequestHandler) -> tuple[int, list[tuple[str, str]], bytes]:
        up = self._upstream
        conn = http.client.HTTPConnection(up.hostname or "127.0.0.1", up.port or 80, timeout=60)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP}
            headers["Host"] = up.netloc
            conn.request("GET", handler.path, headers=headers)
            reply = conn.getresponse()
            body = reply.read()
            kept = [(k, v) for k, v in reply.getheaders() if k.lower() not in _HOP]
            return reply.status, kept, body
        finally:
            conn.close()

    def serve_forever(self) -> None:
        self._server.serve_forever()


@contextmanager
def replay_link(upstream: str, delay: float = 0.02) -> Iterator[str]:
    """The URL of a :class:`ReplayLink` in front of ``upstream``, served by a process of
    its own, stopped on exit."""
    process = subprocess.Popen(
        [sys.executable, __file__, upstream, str(delay)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"the replay link did not start (it said {url!r})")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def stats(url: str) -> tuple[int, int]:
    """(recorded, replayed) of the link at ``url``."""
    with urllib.request.urlopen(url + STATS, timeout=10) as reply:
        recorded, replayed = reply.read().split()
    return int(recorded), int(replayed)


def main() -> None:
    link = ReplayLink(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.02)
    print(link.url, flush=True)
    link.serve_forever()  # until the parent terminates this process


if __name__ == "__main__":
    main()
