"""Every network backend fails a read, a write and a listing within a bounded time when
the server accepts connections and never answers, or answers the headers and stalls
the body: with the defaults (``omnistorage._net``: connect 3 s, silence 10 s, a retry
budget of 15 s), typed ``BackendUnavailable`` and temporary.

The servers are :class:`tests.support.stall.StallingServer` on loopback. The calls of
one backend run at once, in threads, so the whole file takes about one timeout per
backend; each call is timed on its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from omnistorage import BackendUnavailable, Store
from omnistorage._net import DEFAULT_READ_TIMEOUT, RetryBudget
from omnistorage.driver import Backend
from tests.support.stall import StallingServer

LIMIT = 2 * DEFAULT_READ_TIMEOUT
"""What no call may reach: two silent attempts. The budget (15 s) lets a call start an
attempt only when it could end within it, so a call ends near 15 s at the latest; one
that retried a silent server past the budget takes at least two read timeouts (20 s).
The 5 s between is room for a loaded machine, not a measure of speed."""

MODES = ("silent", "headers")


@dataclass
class Outcome:
    seconds: float
    error: BaseException | None


def _run_all(calls: dict[str, Callable[[], object]]) -> dict[str, Outcome]:
    """Run every call at once, each in its own thread; their times and errors."""
    outcomes: dict[str, Outcome] = {}
    lock = threading.Lock()

    def run(name: str, call: Callable[[], object]) -> None:
        started = time.monotonic()
        error: BaseException | None = None
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - recorded and asserted on below
            error = exc
        with lock:
            outcomes[name] = Outcome(time.monotonic() - started, error)

    threads = [
        threading.Thread(target=run, args=(name, call), daemon=True) for name, call in calls.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(LIMIT * 3)
    for name in calls:
        outcomes.setdefault(name, Outcome(float("inf"), None))
    return outcomes


def _check(outcomes: dict[str, Outcome]) -> None:
    problems = []
    for name, outcome in sorted(outcomes.items()):
        error = outcome.error
        if outcome.seconds > LIMIT:
            problems.append(f"{name}: {outcome.seconds:.1f} s (limit {LIMIT:g} s)")
        elif not isinstance(error, BackendUnavailable):
            problems.append(f"{name}: {type(error).__name__}: {error}")
        elif not error.temporary:
            problems.append(f"{name}: not temporary: {error}")
    times = ", ".join(f"{name} {o.seconds:.1f}s" for name, o in sorted(outcomes.items()))
    assert not problems, "\n".join(problems) + f"\n(times: {times})"


@pytest.fixture
def servers() -> Iterator[dict[str, StallingServer]]:
    made = {mode: StallingServer(mode) for mode in MODES}
    yield made
    for server in made.values():
        server.close()


def _store_calls(
    make: Callable[[str], Backend], servers: dict[str, StallingServer]
) -> dict[str, Callable[[], object]]:
    calls: dict[str, Callable[[], object]] = {}
    for mode, server in servers.items():
        for op in ("read", "write", "list", "stat"):
            store = Store(make(server.url))
            calls[f"{mode}-{op}"] = {
                "read": lambda store=store: store.read_bytes("x"),
                "write": lambda store=store: store.write("x", b"data", overwrite=True),
                "list": lambda store=store: list(store.list_files(recursive=True)),
                "stat": lambda store=store: store.get_file_info("x"),
            }[op]
    return calls


def _s3(url: str) -> Backend:
    from omnistorage.backends.s3 import S3Backend

    return S3Backend(
        bucket="b",
        endpoint_url=url,
        region="us-east-1",
        access_key_id="key-id",
        secret_access_key="secret-key",
    )


def _gcs(url: str) -> Backend:
    from omnistorage.backends.gcs import GCSBackend

    return GCSBackend(bucket="b", endpoint_url=url)


def _azure(url: str) -> Backend:
    from omnistorage.backends.azure import AzureBackend

    key = "a2V5" * 16
    return AzureBackend(
        container="c",
        connection_string=(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={key};BlobEndpoint={url}/devstoreaccount1;"
        ),
        detect_hierarchical_namespace=False,
    )


@pytest.mark.parametrize("make", [_s3, _gcs, _azure], ids=["s3", "gcs", "azure"])
def test_an_object_store_that_stalls_fails_in_bounded_time(
    make: Callable[[str], Backend], servers: dict[str, StallingServer]
) -> None:
    _check(_run_all(_store_calls(make, servers)))


def test_a_web_server_that_stalls_fails_in_bounded_time(
    servers: dict[str, StallingServer],
) -> None:
    from omnistorage.backends.http import HTTPBackend

    calls: dict[str, Callable[[], object]] = {}
    for mode, server in servers.items():
        for op in ("read", "stat", "list", "seekable"):
            store = Store(HTTPBackend(base_url=f"{server.url}/files/", listing="nginx-json"))
            calls[f"{mode}-{op}"] = {
                "read": lambda store=store: store.read_bytes("x"),
                "stat": lambda store=store: store.get_file_info("x"),
                "list": lambda store=store: list(store.list_files(recursive=True)),
                "seekable": lambda store=store: store.read_seekable("x").read(),
            }[op]
    _check(_run_all(calls))


def test_an_sftp_server_that_stalls_fails_in_bounded_time() -> None:
    from omnistorage.backends.sftp import SFTPBackend

    made = [StallingServer("silent"), StallingServer("headers", ssh=True)]
    try:
        calls: dict[str, Callable[[], object]] = {}
        for server in made:
            mode = "banner" if server.ssh else "silent"
            for op in ("read", "write", "list"):
                backend = SFTPBackend(
                    host="127.0.0.1", port=server.port, username="u", password="pw", root="/r"
                )
                store = Store(backend)
                calls[f"{mode}-{op}"] = {
                    "read": lambda store=store: store.read_bytes("x"),
                    "write": lambda store=store: store.write("x", b"data", overwrite=True),
                    "list": lambda store=store: list(store.list_files(recursive=True)),
                }[op]
        _check(_run_all(calls))
    finally:
        for server in made:
            server.close()


def test_a_postgresql_server_that_never_answers_fails_in_bounded_time() -> None:
    pytest.importorskip("psycopg")
    from omnistorage.backends.sql import SQLBlobBackend

    server = StallingServer("silent")
    try:
        url = f"postgresql+psycopg://u:pw@127.0.0.1:{server.port}/db"
        calls: dict[str, Callable[[], object]] = {}
        for op in ("read", "write", "list", "open"):
            if op == "open":
                calls[op] = lambda: Store(SQLBlobBackend(url))  # creates its tables: connects
                continue
            store = Store(SQLBlobBackend(url, create_tables=False))
            calls[op] = {
                "read": lambda store=store: store.read_bytes("x"),
                "write": lambda store=store: store.write("x", b"data", overwrite=True),
                "list": lambda store=store: list(store.list_files(recursive=True)),
            }[op]
        _check(_run_all(calls))
    finally:
        server.close()


def test_the_budget_lets_quick_failures_retry_and_stops_silent_ones() -> None:
    budget = RetryBudget(15.0, 3.0, DEFAULT_READ_TIMEOUT)
    now = time.monotonic()
    assert budget.allows(now, 0.5)  # a refused connection, a 503: retried
    assert budget.allows(now - 3.0, 1.0)  # after a connect timeout: one more try
    assert not budget.allows(now - DEFAULT_READ_TIMEOUT, 0.0)  # after a silent attempt: no
    with pytest.raises(ValueError, match="retry_budget"):
        RetryBudget(0)


def _short(make: Callable[..., Backend], url: str, budget: float) -> Backend:
    return make(url, read_timeout=1.0, connect_timeout=1.0, retry_budget=budget)


def _s3_with(url: str, **options: float) -> Backend:
    from omnistorage.backends.s3 import S3Backend

    return S3Backend(
        bucket="b",
        endpoint_url=url,
        region="us-east-1",
        access_key_id="key-id",
        secret_access_key="secret-key",
        **options,  # type: ignore[arg-type]
    )


def _gcs_with(url: str, **options: float) -> Backend:
    from omnistorage.backends.gcs import GCSBackend

    return GCSBackend(bucket="b", endpoint_url=url, **options)  # type: ignore[arg-type]


def _azure_with(url: str, **options: float) -> Backend:
    from omnistorage.backends.azure import AzureBackend

    key = "a2V5" * 16
    return AzureBackend(
        container="c",
        connection_string=(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={key};BlobEndpoint={url}/devstoreaccount1;"
        ),
        detect_hierarchical_namespace=False,
        **options,  # type: ignore[arg-type]
    )


def _http_with(url: str, **options: float) -> Backend:
    from omnistorage.backends.http import HTTPBackend

    return HTTPBackend(base_url=f"{url}/files/", listing="nginx-json", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "make", [_s3_with, _gcs_with, _azure_with, _http_with], ids=["s3", "gcs", "azure", "http"]
)
def test_a_silent_server_is_retried_only_while_the_budget_allows(
    make: Callable[..., Backend],
) -> None:
    # With 1 s timeouts: a budget of 1.5 s leaves room for no retry (another silent
    # second would end past it, however soon it started), one of 10 s for retries (so
    # the call waits through at least two silent seconds, on more connections than
    # without retries: some clients open a second one of their own). Connections are
    # counted at the server, so a loaded machine changes no outcome.
    connections: dict[float, int] = {}
    for budget in (1.5, 10.0):
        with StallingServer("silent") as server:
            store = Store(_short(make, server.url, budget))
            started = time.monotonic()
            with pytest.raises(BackendUnavailable) as info:
                list(store.list_files(recursive=True))
            elapsed = time.monotonic() - started
            connections[budget] = server.settled_connections(1 + connections.get(1.5, 0))
        assert info.value.temporary
        assert elapsed >= (1.0 if budget < 2 else 2.0), (budget, elapsed)  # timeouts waited
        if budget < 2:
            assert elapsed < DEFAULT_READ_TIMEOUT, (budget, elapsed)  # 1 s, not the default
    assert connections[10.0] > connections[1.5], connections
