"""Every HTTP status the backend can meet has a typed error, and temporary failures are
retried within a bounded budget. Statuses nginx cannot be made to give are scripted by
a fault proxy in front of it (``respond``); dropped replies are real dropped replies."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from urllib3 import HTTPResponse

from omnistorage import (
    BackendUnavailable,
    CapabilityNotSupported,
    InvalidPath,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    Store,
)
from omnistorage._net import DEFAULT_READ_TIMEOUT, DEFAULT_RETRY_BUDGET
from omnistorage.backends.http import HTTPBackend
from omnistorage.backends.http._client import MAX_RETRY_AFTER, _BoundedRetry
from omnistorage.errors import StorageError
from omnistorage.ext import RetryLayer
from tests.support.http_proxy import Fault, FaultProxy, ProxiedRequest
from tests.support.nginx import NginxTree, nginx_tree

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def tree() -> Iterator[NginxTree]:
    with nginx_tree({"f.txt": b"0123456789", "dir/inner.txt": b"inner"}) as made:
        yield made


@pytest.fixture(scope="module")
def shared_proxy(tree: NginxTree) -> Iterator[FaultProxy]:
    with FaultProxy(tree.env["OMNI_TEST_HTTP_URL"]) as made:
        yield made


@pytest.fixture
def proxy(shared_proxy: FaultProxy) -> FaultProxy:
    """The module's proxy with no fault armed and no request recorded."""
    shared_proxy.clear()
    shared_proxy.requests.clear()
    return shared_proxy


def _store(proxy: FaultProxy, tree: NginxTree, **options: Any) -> Store:
    return Store(
        HTTPBackend(base_url=f"{proxy.url}/listing/{tree.name}/", listing="nginx-json", **options)
    )


def _every(request: ProxiedRequest) -> bool:
    return True


# (status, the error class, temporary, extra reply headers)
STATUSES: list[tuple[int, type[StorageError], bool, dict[str, str]]] = [
    (302, StorageError, False, {"Location": "http://elsewhere.example/f.txt"}),
    (307, StorageError, False, {"Location": "/other/f.txt"}),
    (304, StorageError, False, {}),
    (400, StorageError, False, {}),
    (401, PermissionDenied, False, {"WWW-Authenticate": 'Basic realm="x"'}),
    (403, PermissionDenied, False, {}),
    (404, NotFound, False, {}),
    (405, CapabilityNotSupported, False, {}),
    (407, PermissionDenied, False, {}),
    (408, BackendUnavailable, True, {}),
    (410, NotFound, False, {}),
    (412, PreconditionFailed, False, {}),
    (414, InvalidPath, False, {}),
    (418, StorageError, False, {}),
    (425, BackendUnavailable, True, {}),
    (429, BackendUnavailable, True, {"Retry-After": "0"}),
    (451, StorageError, False, {}),
    (500, BackendUnavailable, True, {}),
    (501, CapabilityNotSupported, False, {}),
    (502, BackendUnavailable, True, {}),
    (503, BackendUnavailable, True, {}),
    (504, BackendUnavailable, True, {}),
    (507, BackendUnavailable, True, {}),
    (599, BackendUnavailable, True, {}),
    (204, StorageError, False, {}),
]


@pytest.mark.parametrize(
    ("status", "error", "temporary", "headers"), STATUSES, ids=[str(s[0]) for s in STATUSES]
)
def test_every_status_has_a_typed_error(
    tree: NginxTree,
    proxy: FaultProxy,
    status: int,
    error: type[StorageError],
    temporary: bool,
    headers: dict[str, str],
) -> None:
    proxy.add(Fault(_every, "respond", times=1000, status=status, reply_headers=headers))
    store = _store(proxy, tree, retries=0)
    calls: dict[str, Callable[[], object]] = {
        "read": lambda: store.read_bytes("f.txt"),
        "range": lambda: store.read_range("f.txt", 2, 3),
        "stat": lambda: store.get_file_info("f.txt"),
        "seekable": lambda: store.read_seekable("f.txt"),
        "list": lambda: list(store.list_files("dir")),
    }
    for op, call in calls.items():
        if status == 204 and op in ("stat", "list"):
            continue  # 2xx to HEAD is a file there; an empty 204 body is no JSON index
        if status in (404, 410) and op == "list":
            assert call() == []  # a folder that is not there lists as empty
            continue
        with pytest.raises(error) as info:
            call()
        assert type(info.value) is error or error is StorageError, (op, type(info.value))
        assert info.value.temporary is temporary, op
        if not (error is NotFound and op == "stat"):  # the Store words a missing stat itself
            assert str(status) in str(info.value), op


def test_a_redirect_to_the_folder_url_means_not_a_file(tree: NginxTree) -> None:
    store = Store(HTTPBackend(base_url=tree.url("files")))  # nginx: dir -> 301 dir/
    with pytest.raises(NotFound, match="a folder"):
        store.read_bytes("dir")
    assert not store.is_file("dir")
    with pytest.raises(NotFound):
        store.get_file_info("dir")


def test_redirects_elsewhere_are_not_followed(tree: NginxTree, proxy: FaultProxy) -> None:
    moved = proxy.add(
        Fault(
            lambda r: r.path.endswith("/f.txt"),
            "respond",
            times=10,
            status=301,
            reply_headers={"Location": f"{proxy.url}/listing/{tree.name}/dir/inner.txt"},
        )
    )
    with pytest.raises(StorageError, match="does not follow redirects"):
        _store(proxy, tree).read_bytes("f.txt")
    assert len(moved.hits) == 1
    assert not any(r.path.endswith("/inner.txt") for r in proxy.requests)


def test_a_range_past_the_end_is_no_bytes_not_an_error(tree: NginxTree) -> None:
    store = Store(HTTPBackend(base_url=tree.url("files")))  # nginx answers 416
    assert store.read_range("f.txt", 10, 5) == b""
    assert store.read_range("f.txt", 50, 5) == b""


def test_a_refused_head_falls_back_to_a_one_byte_get(tree: NginxTree, proxy: FaultProxy) -> None:
    proxy.add(Fault(lambda r: r.method == "HEAD", "respond", times=10, status=405))
    store = _store(proxy, tree)
    info = store.get_file_info("f.txt")
    assert info.size == 10
    assert info.etag
    assert [r.headers.get("range") for r in proxy.requests if r.method == "GET"] == ["bytes=0-0"]


def test_a_refused_head_pins_a_seekable_read_by_spooling(
    tree: NginxTree, proxy: FaultProxy
) -> None:
    proxy.add(Fault(lambda r: r.method == "HEAD", "respond", times=10, status=405))
    with _store(proxy, tree).read_seekable("f.txt") as reader:
        reader.seek(4)
        assert reader.read(3) == b"456"
    assert [r.headers.get("range") for r in proxy.requests if r.method == "GET"] == [None]


# ------------------------------------------------------------------ retries


def test_a_dropped_reply_is_retried_and_the_read_succeeds(
    tree: NginxTree, proxy: FaultProxy
) -> None:
    dropped = proxy.add(Fault(lambda r: r.method == "GET", "drop_reply"))
    assert _store(proxy, tree).read_bytes("f.txt") == b"0123456789"
    assert len(dropped.hits) == 1
    assert len([r for r in proxy.requests if r.method == "GET"]) == 2


def test_a_refused_connection_is_retried(tree: NginxTree, proxy: FaultProxy) -> None:
    proxy.add(Fault(lambda r: r.method == "HEAD", "refuse", times=2))
    assert _store(proxy, tree, retries=2).get_file_info("f.txt").size == 10


def test_a_503_storm_fails_temporary_within_the_budget(tree: NginxTree, proxy: FaultProxy) -> None:
    storm = proxy.add(Fault(_every, "respond", times=1000, status=503))
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as info:
        _store(proxy, tree, retries=2).read_bytes("f.txt")
    elapsed = time.monotonic() - started
    assert info.value.temporary
    assert len(storm.hits) == 3  # the first attempt and two retries
    assert elapsed < DEFAULT_RETRY_BUDGET


def test_a_short_retry_after_is_honoured(tree: NginxTree, proxy: FaultProxy) -> None:
    proxy.add(Fault(_every, "respond", status=503, reply_headers={"Retry-After": "1"}))
    started = time.monotonic()
    assert _store(proxy, tree).read_bytes("f.txt") == b"0123456789"
    assert time.monotonic() - started >= 1


def test_a_long_retry_after_is_cut_and_handed_to_the_caller(
    tree: NginxTree, proxy: FaultProxy
) -> None:
    proxy.add(Fault(_every, "respond", times=10, status=429, reply_headers={"Retry-After": "120"}))
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as info:
        _store(proxy, tree, retries=1).read_bytes("f.txt")
    assert time.monotonic() - started < 60  # one retry after at most 2 s, never the 120
    assert getattr(info.value.__cause__, "retry_after", None) == 120
    # the wait the client itself takes is cut exactly
    asked = HTTPResponse(headers={"Retry-After": "120"}, status=429)
    assert _BoundedRetry(total=1).get_retry_after(asked) == MAX_RETRY_AFTER


def test_a_retry_layer_above_resumes_after_the_budget(tree: NginxTree, proxy: FaultProxy) -> None:
    proxy.add(Fault(_every, "respond", times=3, status=503))
    backend = HTTPBackend(base_url=f"{proxy.url}/files/{tree.name}/", retries=1)
    store = Store(RetryLayer(backend, attempts=3, base_delay=0.01))
    assert store.read_bytes("f.txt") == b"0123456789"


def test_a_slow_server_times_out_as_temporary(tree: NginxTree) -> None:
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])  # never answers
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    port = listener.getsockname()[1]
    try:
        store = Store(HTTPBackend(base_url=f"http://127.0.0.1:{port}/", read_timeout=0.3))
        started = time.monotonic()
        with pytest.raises(BackendUnavailable) as info:
            store.read_bytes("x")
        assert info.value.temporary
        assert time.monotonic() - started < DEFAULT_READ_TIMEOUT  # the 0.3 s, not the default
    finally:
        listener.close()
        for conn in accepted:
            conn.close()
