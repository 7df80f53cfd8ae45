"""Run gcp-storage-emulator for the tests so that one stalled client cannot wedge it.

The emulator serves every request on one thread with no socket timeout: a
connection that stops sending in the middle of a request (what the tests' fault
proxies do on purpose) blocks every later request for good, and each test after
it then waits for its own timeout. Here the same request handler and storage
run with a per-connection timeout, so a stalled connection is dropped after
``--stall-timeout`` seconds and the emulator goes on serving.

Usage (scripts/servers.sh): python scripts/gcs_emulator.py --host H --port P
"""

from __future__ import annotations

import argparse
import logging
from functools import partial
from http import server

from gcp_storage_emulator.server import RequestHandler
from gcp_storage_emulator.storage import Storage


class _Server(server.HTTPServer):
    # A new emulator on a port whose old socket is in TIME_WAIT starts at once.
    allow_reuse_address = True
    request_queue_size = 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    # Below the clients' 10 s read timeout: a request queued behind a stalled connection
    # is still answered within one attempt of the next test's client.
    parser.add_argument("--stall-timeout", type=float, default=4.0)
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    handler = type("Handler", (RequestHandler,), {"timeout": args.stall_timeout})
    storage = Storage(use_memory_fs=True)
    httpd = _Server((args.host, args.port), partial(handler, storage))
    logging.info(
        "gcs emulator on %s:%d (stall timeout %ss)", args.host, args.port, args.stall_timeout
    )
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()


if __name__ == "__main__":
    main()
