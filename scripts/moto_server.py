"""Run moto's S3 server for the tests with S3's atomic conditional writes.

moto checks ``If-None-Match: *`` (and ``If-Match``) and then stores the object
in two steps, with nothing held between them, while its server answers each
request on its own thread: two racing create-only PUTs can both pass the check
and both be told they won. S3 decides each conditional write atomically, and
the conformance suite's racing-writer tests hold the client to that, so under
load they failed on moto's race, not on ours. Here the same moto application
runs with every changing request (PUT, POST, DELETE) applied one at a time:
the body is read first, outside the lock, so a slow sender delays only itself.
Reads stay concurrent.

Usage (scripts/servers.sh): python scripts/moto_server.py -H HOST -p PORT
"""

from __future__ import annotations

import argparse
import io
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

_CHANGING = frozenset({"PUT", "POST", "DELETE"})

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
App = Callable[[Environ, StartResponse], Iterable[bytes]]


def serialised(app: App) -> App:
    """``app`` with changing requests applied one at a time (bodies read before)."""
    lock = threading.Lock()

    def handle(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in _CHANGING:
            return app(environ, start_response)
        stream = environ["wsgi.input"]
        if environ.get("wsgi.input_terminated"):  # chunked: the stream ends itself
            body = stream.read()
        else:
            body = stream.read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        with lock:
            return list(app(environ, start_response))  # the response is built inside

    return handle


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        serialised(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
