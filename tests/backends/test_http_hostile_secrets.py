"""A server that echoes the ``Authorization`` header back (in its status line, in a
malformed status line, in its body, in a directory index) cannot put the password or
the bearer token into anything the caller sees: the raised error's ``str`` and
``repr``, every exception it chains to, ``traceback.format_exception``, the logs of
every logger at DEBUG, and the spans and events ``MetricsLayer(otel=True)`` exports.
"""

from __future__ import annotations

import base64
import json
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from omnistorage import Store
from omnistorage.backends.http import HTTPBackend
from omnistorage.errors import StorageError
from omnistorage.ext import LoggingLayer, MetricsLayer
from tests.backends.test_debug_secrets import (
    assert_absent,
    debug_log,  # noqa: F401 - a fixture
    exception_texts,
    logged,
)
from tests.support.hostile_http import HostileServer, Reply, Request
from tests.support.otel import span_exporter

PASSWORD = "echoed-Passw0rd-7f3a"
TOKEN = "echoed-bearer-T0ken-91c2"


def _echo(request: Request, reply: Reply) -> None:
    """Answers every request with the caller's Authorization header in it, several ways
    (chosen by the path's first segment)."""
    auth = request.headers.get("authorization", "")
    where = request.path.strip("/").split("/")[0]
    if where == "status":
        reply.send(403, {"Content-Type": "text/plain"}, f"you sent {auth}".encode(), reason=auth)
    elif where == "badstatus":  # http.client refuses this line and quotes it
        reply.raw(f"HTTP/1.1 abc {auth}\r\n\r\n".encode("latin-1"))
        reply.close()
    elif where == "header":  # a temporary status whose headers and body echo it
        reply.send(503, {"X-You-Sent": auth, "Retry-After": "0"}, auth.encode(), reason=auth)
    elif where == "index":  # a folder index served as a content type that echoes it
        body = json.dumps([{"name": "a", "type": "file"}]).encode()
        reply.send(200, {"Content-Type": f"text/{auth}"}, body)
    elif where == "range":  # a 206 for another range, naming the header
        reply.send(206, {"Content-Range": f"bytes 0-1/2 {auth}"}, b"ab", reason=auth)
    else:
        reply.send(404, {}, auth.encode(), reason=f"Not Found {auth}")


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer(_echo) as made:
        yield made


def _span_texts(exporter: Any) -> dict[str, str]:
    texts: dict[str, str] = {}
    for index, span in enumerate(exporter.get_finished_spans()):
        texts[f"span {index} {span.name}"] = repr(
            (dict(span.attributes or {}), span.status.description)
        )
        for event in span.events:
            texts[f"span {index} event {event.name}"] = repr(dict(event.attributes or {}))
    return texts


CALLS: list[tuple[str, str, Callable[[Store], object]]] = [
    ("status", "read_bytes", lambda s: s.read_bytes("status/a.txt")),
    ("status", "read_range", lambda s: s.read_range("status/a.txt", 3, 4)),
    ("status", "read_seekable", lambda s: s.read_seekable("status/a.txt")),
    ("status", "get_file_info", lambda s: s.get_file_info("status/a.txt")),
    ("status", "exists", lambda s: s.exists("status/a.txt")),
    ("status", "list_files", lambda s: list(s.list_files("status"))),
    ("badstatus", "read_bytes", lambda s: s.read_bytes("badstatus/a.txt")),
    ("badstatus", "get_file_info", lambda s: s.get_file_info("badstatus/a.txt")),
    ("header", "read_bytes", lambda s: s.read_bytes("header/a.txt")),
    ("header", "get_file_info", lambda s: s.get_file_info("header/a.txt")),
    ("index", "list_files", lambda s: list(s.list_files("index"))),
    ("range", "read_range", lambda s: s.read_range("range/a.txt", 5, 2)),
    ("missing", "read_bytes", lambda s: s.read_bytes("missing/a.txt")),
]


@pytest.mark.parametrize("auth", ["basic", "bearer"])
def test_echoed_credentials_reach_no_error_traceback_log_or_span(
    server: HostileServer,
    auth: str,
    debug_log: pytest.LogCaptureFixture,  # noqa: F811 - the imported fixture
) -> None:
    exporter = span_exporter()
    options: dict[str, Any] = (
        {"username": "omni", "password": PASSWORD} if auth == "basic" else {"bearer_token": TOKEN}
    )
    http = HTTPBackend(base_url=f"{server.url}/", listing="nginx-json", retries=1, **options)
    store = Store(LoggingLayer(MetricsLayer(http, otel=True)))
    secrets = [PASSWORD, TOKEN, base64.b64encode(f"omni:{PASSWORD}".encode()).decode()]
    texts: dict[str, str] = {}
    raised = 0
    for where, name, call in CALLS:
        try:
            call(store)
        except StorageError as error:
            raised += 1
            label = f"{where} {name}"
            texts.update({f"{label}: {k}": v for k, v in exception_texts(error).items()})
            texts[f"{label}: traceback"] = "".join(traceback.format_exception(error))
        else:
            raise AssertionError(f"{where} {name} did not fail")
    texts.update(logged(debug_log))
    spans = _span_texts(exporter)
    texts.update(spans)
    assert_absent(secrets, texts)
    # The calls really failed with the echo in them, and the spans recorded the failures:
    # the scrubbed forms are there, so the test is not passing on empty texts.
    assert raised == len(CALLS)
    assert any("***" in text for key, text in texts.items() if "traceback" in key)
    assert any("exception.stacktrace" in text and "***" in text for text in spans.values())
    sent = {r.headers.get("authorization", "") for r in server.requests}
    if auth == "basic":
        assert any(PASSWORD in base64.b64decode(h[6:]).decode() for h in sent if h[:6] == "Basic ")
    else:
        assert f"Bearer {TOKEN}" in sent
