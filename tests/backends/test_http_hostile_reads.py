"""HTTP reads against small hostile servers: servers that lie about versions, ranges
and lengths, and servers that stall. Whatever the server does, a read returns the
exact bytes of one version or raises a typed error; it never returns a mix of two
versions or short data, and a stall is a temporary failure.

The servers are scripted with :mod:`tests.support.hostile_http`; the same classes of
case against the real nginx live in ``test_http_reads.py``.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnistorage import BackendUnavailable, ChangedDuringRead, Store
from omnistorage.backends.http import HTTPBackend
from omnistorage.errors import StorageError
from tests.support.hostile_http import HostileServer, Reply, Request, byte_range

MiB = 1 << 20
V1 = bytes(range(256)) * (3 * MiB // 256)
V2 = bytes(reversed(range(256))) * (3 * MiB // 256)


@dataclass
class Versions:
    """An object that is V1 for its first ``switch_after`` requests and V2 after, served
    by a server that ignores every precondition (If-Range, If-Match, If-Unmodified-Since)
    and announces versions the way ``announce`` says."""

    announce: str
    switch_after: int
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self) -> tuple[bytes, dict[str, str]]:
        with self.lock:
            self.sent += 1
            second = self.sent > self.switch_after
        body = V2 if second else V1
        tag = hashlib.md5(body).hexdigest()[:12]
        stamp = f"Tue, 02 Jan 2024 00:00:0{2 if second else 1} GMT"
        headers = {"Accept-Ranges": "bytes"}
        if self.announce in ("etag", "etag-not-on-206"):
            headers["ETag"] = f'"{tag}"'
        if self.announce in ("etag", "last-modified", "etag-not-on-206", "weak-etag"):
            headers["Last-Modified"] = stamp
        if self.announce == "weak-etag":
            headers["ETag"] = f'W/"{tag}"'
        return body, headers

    def script(self, request: Request, reply: Reply) -> None:
        body, headers = self.current()
        span = byte_range(request.headers.get("range"), len(body))
        if request.method == "HEAD" or span is None:
            reply.send(200, headers, body)
            return
        first, last = span
        if self.announce == "etag-not-on-206":
            headers.pop("ETag")
        headers["Content-Range"] = f"bytes {first}-{last}/{len(body)}"
        reply.send(206, headers, body[first : last + 1])


ANNOUNCE = ["etag", "last-modified", "etag-not-on-206", "weak-etag"]


def _store(server: HostileServer, **options: object) -> Store:
    return Store(HTTPBackend(base_url=f"{server.url}/", **options))  # type: ignore[arg-type]


@pytest.mark.parametrize("announce", ANNOUNCE)
@pytest.mark.parametrize("switch_after", [1, 2, 3, 5])
def test_a_server_ignoring_if_range_cannot_mix_versions_in_a_seekable_read(
    announce: str, switch_after: int
) -> None:
    versions = Versions(announce, switch_after)
    with HostileServer(versions.script) as server:
        store = _store(server)
        try:
            with store.read_seekable("v.bin") as reader:
                first = reader.read(MiB)
                reader.seek(2 * MiB)
                last = reader.read(MiB)
                reader.seek(MiB)
                middle = reader.read(MiB)
        except ChangedDuringRead:
            return
    assert first + middle + last in (V1, V2)


@pytest.mark.parametrize("announce", ["etag", "last-modified", "weak-etag"])
def test_a_seekable_read_of_one_unchanging_version_still_works(announce: str) -> None:
    versions = Versions(announce, switch_after=10**9)
    with HostileServer(versions.script) as server:
        with _store(server).read_seekable("v.bin") as reader:
            reader.seek(MiB + 7)
            assert reader.read(100) == V1[MiB + 7 : MiB + 107]
            reader.seek(0)
            assert reader.read() == V1


def test_a_206_without_the_pinned_etag_cannot_prove_its_version() -> None:
    """RFC 9110 has a 206 carry the ETag a 200 would; one that does not cannot show it is
    the version pinned, so even an unchanged object cannot be read pinned from it."""
    versions = Versions("etag-not-on-206", switch_after=10**9)
    with HostileServer(versions.script) as server:
        store = _store(server)
        with store.read_seekable("v.bin") as reader, pytest.raises(ChangedDuringRead) as info:
            reader.read(100)
        assert "ETag None served" in str(info.value)
        assert store.read_bytes("v.bin") == V1  # a plain read (one GET) is fine


@dataclass
class CutThenReplace:
    """The first GET sends V1 (with its Content-Length) and drops the connection after
    ``cut`` bytes; every later request answers as ``resume`` says, ignoring If-Match."""

    resume: str
    cut: int = 300_000
    gets: int = 0

    def script(self, request: Request, reply: Reply) -> None:
        self.gets += request.method == "GET"
        v1 = {"ETag": '"v1"', "Last-Modified": "Tue, 02 Jan 2024 00:00:01 GMT"}
        v2 = {"ETag": '"v2"', "Last-Modified": "Tue, 02 Jan 2024 00:00:09 GMT"}
        if self.gets == 1:
            reply.head(200, {**v1, "Content-Length": str(len(V1))})
            reply.raw(V1[: self.cut])
            reply.close()
            return
        span = byte_range(request.headers.get("range"), len(V1))
        assert span is not None
        first, last = span
        body, headers = {
            "206-new-etag": (V2, {**v2}),
            "206-no-etag": (V2, {"Last-Modified": v1["Last-Modified"]}),
            "206-new-date": (V2, {"Last-Modified": v2["Last-Modified"]}),
            "206-other-total": (V1[:-1], {**v1}),
            "200-new-etag": (V2, {**v2}),
            "200-same": (V1, {**v1}),
            "206-same": (V1, {**v1}),
        }[self.resume]
        if self.resume.startswith("200"):
            reply.send(200, headers, body)
            return
        last = min(last, len(body) - 1)
        headers["Content-Range"] = f"bytes {first}-{last}/{len(body)}"
        reply.send(206, headers, body[first : last + 1])


@pytest.mark.parametrize(
    "resume", ["206-new-etag", "206-no-etag", "206-new-date", "206-other-total", "200-new-etag"]
)
@pytest.mark.parametrize("read", ["read_bytes", "read_range"])
def test_a_cut_stream_never_resumes_on_another_version(resume: str, read: str) -> None:
    with HostileServer(CutThenReplace(resume).script) as server:
        store = _store(server)
        with pytest.raises(ChangedDuringRead):
            if read == "read_bytes":
                store.read_bytes("v.bin")
            else:
                store.read_range("v.bin", 0, len(V1))


@pytest.mark.parametrize("resume", ["200-same", "206-same"])
def test_a_cut_stream_resumes_on_the_same_version(resume: str) -> None:
    script = CutThenReplace(resume)
    with HostileServer(script.script) as server:
        assert _store(server).read_bytes("v.bin") == V1
    assert script.gets == 2


# ------------------------------------------------------------------ short data

FRAMINGS = ["content-length", "close-delimited", "range-206", "range-206-close", "chunked"]


@dataclass
class Lying:
    """Serves ``data`` (ETag ``"e"``), honestly to HEAD, but every body it sends stops
    ``short`` bytes early, framed as ``framing`` says."""

    data: bytes
    framing: str
    short: int

    def script(self, request: Request, reply: Reply) -> None:
        headers = {"ETag": '"e"', "Accept-Ranges": "bytes"}
        size = len(self.data)
        if request.method == "HEAD":
            reply.send(200, headers, self.data)
            return
        span = byte_range(request.headers.get("range"), size)
        first, last = span if span is not None else (0, size - 1)
        if first >= size:
            reply.send(416, {"Content-Range": f"bytes */{size}"})
            return
        body = self.data[first : last + 1]
        sent = body[: max(0, len(body) - self.short)]
        ranged = self.framing.startswith("range") and span is not None
        status = 206 if ranged else 200
        if ranged:
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        else:
            body, sent = self.data, self.data[: max(0, size - self.short)]
        if self.framing == "chunked":
            reply.head(status, {**headers, "Transfer-Encoding": "chunked"})
            if sent:
                reply.raw(b"%x\r\n%s\r\n" % (len(sent), sent))
            reply.close()  # before the last chunk
        elif self.framing.endswith("close") or self.framing == "close-delimited":
            reply.send(status, headers, sent, length=False)
            reply.close()
        else:
            reply.head(status, {**headers, "Content-Length": str(len(body))})
            reply.raw(sent)
            reply.close()


READS: dict[str, Callable[[Store, int], bytes]] = {
    "read_bytes": lambda s, n: s.read_bytes("x"),
    "read_range": lambda s, n: s.read_range("x", n // 3, n // 2),
    "read_seekable": lambda s, n: s.read_seekable("x").read(),
    "read_seekable_range": lambda s, n: _seek_read(s, n // 3, n // 2),
}


def _seek_read(store: Store, offset: int, length: int) -> bytes:
    with store.read_seekable("x") as reader:
        reader.seek(offset)
        return reader.read(length)


def _expected(read: str, data: bytes) -> bytes:
    n = len(data)
    return data[n // 3 : n // 3 + n // 2] if read.endswith("range") else data


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    size=st.integers(min_value=2, max_value=300_000),
    short=st.integers(min_value=1, max_value=100_000),
    framing=st.sampled_from(FRAMINGS),
    read=st.sampled_from(sorted(READS)),
)
def test_short_data_is_always_an_error(size: int, short: int, framing: str, read: str) -> None:
    """Whatever the framing and however short the body, a read returns every byte it
    asked for or raises a temporary error, never fewer bytes."""
    data = hashlib.sha256(str(size).encode()).digest() * (size // 32 + 1)
    data = data[:size]
    lying = Lying(data, framing, short)
    with HostileServer(lying.script) as server:
        store = _store(server, retries=1)
        failure: StorageError | None = None
        try:
            got = READS[read](store, size)
        except StorageError as error:
            failure = error
    if failure is not None:
        assert failure.temporary or "the server sent" in str(failure), failure
    else:
        assert got == _expected(read, data)  # only when the lie cut nothing that was read


def test_a_206_covering_half_the_range_is_an_error() -> None:
    def half(request: Request, reply: Reply) -> None:
        span = byte_range(request.headers.get("range"), len(V1))
        headers = {"ETag": '"e"', "Accept-Ranges": "bytes"}
        if request.method == "HEAD" or span is None:
            reply.send(200, headers, V1)
            return
        first, last = span
        last = first + (last - first) // 2
        headers["Content-Range"] = f"bytes {first}-{last}/{len(V1)}"
        reply.send(206, headers, V1[first : last + 1])

    with HostileServer(half) as server:
        store = _store(server)
        with pytest.raises(StorageError, match="asked for bytes 0-99"):
            store.read_range("x", 0, 100)
        with pytest.raises(ChangedDuringRead), store.read_seekable("x") as reader:
            reader.read(100)


def test_a_close_delimited_body_shorter_than_heads_size_is_an_error() -> None:
    def short(request: Request, reply: Reply) -> None:
        if request.method == "HEAD":
            reply.head(200, {"Content-Length": "100000", "ETag": '"e1"'})
            return
        reply.send(200, {"ETag": '"e1"'}, V1[:40_000], length=False)

    with HostileServer(short) as server:
        store = _store(server, retries=1)
        for call in (lambda: store.read_bytes("x"), lambda: store.read_seekable("x").read()):
            with pytest.raises(BackendUnavailable, match="40000 of 100000") as info:
                call()
            assert info.value.temporary


# ------------------------------------------------------------------ stalls


@dataclass
class Stalling:
    """Sends the headers (and ``first`` bytes) of an answer, then stalls until released;
    ranges are honoured or ignored (a 200) as ``ranges`` says."""

    ranges: bool
    first: int = 10
    index: bool = False

    def script(self, request: Request, reply: Reply) -> None:
        headers = {"ETag": '"e"', "Accept-Ranges": "bytes"}
        if self.index:
            headers["Content-Type"] = "application/json"
            reply.head(200, {**headers, "Content-Length": "1000"})
            reply.raw(b'[{"name":"a","type":"file","size":1},')
        elif request.method == "HEAD":
            reply.send(200, headers, V1)
            return
        else:
            span = byte_range(request.headers.get("range"), len(V1))
            first, last = span if span is not None and self.ranges else (0, len(V1) - 1)
            if span is not None and self.ranges:
                headers["Content-Range"] = f"bytes {first}-{last}/{len(V1)}"
            status = 206 if span is not None and self.ranges else 200
            reply.head(status, {**headers, "Content-Length": str(last - first + 1)})
            reply.raw(V1[first : first + self.first])
        server_release.wait(20)


server_release = threading.Event()


@pytest.fixture
def released() -> Iterator[None]:
    server_release.clear()
    yield
    server_release.set()


STALLED: dict[str, Callable[[Store], object]] = {
    "read_bytes": lambda s: s.read_bytes("x"),
    "read_range": lambda s: s.read_range("x", 5, 1000),
    "read_seekable": lambda s: s.read_seekable("x").read(),
    "stream": lambda s: s.read("x").read(),
}


@pytest.mark.parametrize("ranges", [True, False], ids=["ranges", "ignores-range"])
@pytest.mark.parametrize("call", sorted(STALLED))
def test_a_body_that_stalls_after_the_headers_is_a_temporary_failure(
    ranges: bool, call: str, released: None
) -> None:
    with HostileServer(Stalling(ranges).script) as server:
        store = _store(server, read_timeout=0.3, retries=1)
        with pytest.raises(BackendUnavailable) as info:
            STALLED[call](store)
        assert info.value.temporary


def test_an_index_that_stalls_after_the_headers_is_a_temporary_failure(released: None) -> None:
    with HostileServer(Stalling(True, index=True).script) as server:
        store = _store(server, read_timeout=0.3, retries=1, listing="nginx-json")
        with pytest.raises(BackendUnavailable) as info:
            list(store.list_files(recursive=True))
        assert info.value.temporary
