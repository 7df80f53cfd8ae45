"""SFTP failing fast: a closed port, a host that never answers and a server that
stalls mid-session end in a temporary BackendUnavailable within the time limits."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import uuid4

import paramiko
import pytest

from omnistorage import Store
from omnistorage._net import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_BUDGET,
)
from omnistorage.backends.sftp import SFTPBackend
from omnistorage.backends.sftp._session import open_sftp
from omnistorage.errors import BackendUnavailable, ConfigurationError
from omnistorage.registry import open_store
from tests.backends.test_sftp import _backend, _env, _host_key_line
from tests.support.proxy import CuttingProxy

LONG = 60.0
"""A timeout no scheduling delay comes near: a call that ends before it did not wait it."""


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return _env()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Silent:
    """A hung server: its port, and the connections it accepted (one per attempt)."""

    port: int
    accepted: list[socket.socket] = field(default_factory=list)


@pytest.fixture
def silent() -> Iterator[Silent]:
    """A port that accepts TCP connections and never says a word (a hung server)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    server = Silent(int(listener.getsockname()[1]))
    accepted = server.accepted
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server
    stop.set()
    thread.join(timeout=2)
    listener.close()
    for sock in accepted:
        sock.close()


class StallingProxy(CuttingProxy):
    """Forwards like :class:`CuttingProxy`; while ``stall`` is set, server bytes are held."""

    def __init__(self, host: str, port: int) -> None:
        self.stall = threading.Event()
        super().__init__(host, port)

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        if upstream:
            super()._pump(source, sink, upstream)
            return
        try:
            while chunk := source.recv(65536):
                while self.stall.is_set() and not self._stop.is_set():
                    time.sleep(0.05)
                sink.sendall(chunk)
        except OSError:
            pass


def test_defaults_come_from_net() -> None:
    backend = SFTPBackend(host="127.0.0.1", port=_closed_port(), username="u")
    connector = backend._pool._connect.__self__  # type: ignore[attr-defined]
    assert (connector._connect_timeout, connector._read_timeout, connector._retries) == (
        DEFAULT_CONNECT_TIMEOUT,
        DEFAULT_READ_TIMEOUT,
        DEFAULT_RETRIES,
    )
    backend.close()


@pytest.mark.parametrize("op", ["read", "write", "list", "exists"])
def test_closed_port_fails_fast_and_temporary(op: str) -> None:
    # Timeouts far above any scheduling delay: failing inside them means the refusal
    # ended each attempt, not a timeout.
    store = Store(
        SFTPBackend(
            host="127.0.0.1",
            port=_closed_port(),
            username="u",
            root="/r",
            connect_timeout=LONG,
            read_timeout=LONG,
            retry_budget=10 * LONG,
        )
    )
    calls = {
        "read": lambda: store.read_bytes("x"),
        "write": lambda: store.write("x", b"data", overwrite=True),
        "list": lambda: list(store.list_files(recursive=True)),
        "exists": lambda: store.exists("x"),
    }
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as info:
        calls[op]()
    elapsed = time.monotonic() - started
    assert elapsed < LONG, elapsed
    assert info.value.temporary
    assert "cannot connect to SFTP server 127.0.0.1" in str(info.value)
    store.close()


def test_silent_host_fails_within_the_retry_budget_by_default(silent: Silent) -> None:
    store = Store(SFTPBackend(host="127.0.0.1", port=silent.port, username="u", root="/r"))
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as info:
        store.exists("x")
    elapsed = time.monotonic() - started
    # Attempts of 3 s for the banner, 0.1 s apart, while another could still end within
    # the budget if the server then stayed silent for a whole read_timeout: two on an
    # idle machine, one if the first ran late, never a third (it would end past it).
    assert 1 <= len(silent.accepted) <= 2, len(silent.accepted)
    assert len(silent.accepted) * DEFAULT_CONNECT_TIMEOUT <= elapsed <= DEFAULT_RETRY_BUDGET
    assert info.value.temporary
    assert "connect_timeout" in str(info.value)
    store.close()


def test_connect_timeout_and_retries_are_honoured(silent: Silent) -> None:
    backend = SFTPBackend(
        host="127.0.0.1",
        port=silent.port,
        username="u",
        connect_timeout=0.5,
        retries=1,
        retry_budget=10 * LONG,  # the budget never stops the retry, however slow the machine
    )
    store = Store(backend)
    started = time.monotonic()
    with pytest.raises(BackendUnavailable):
        store.exists("x")
    elapsed = time.monotonic() - started
    deadline = time.monotonic() + 30  # the accepting thread may lag on a busy machine
    while len(silent.accepted) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(silent.accepted) == 2  # one retry
    # each attempt waited its 0.5 s, not the default connect_timeout
    assert 2 * 0.5 <= elapsed < 2 * DEFAULT_CONNECT_TIMEOUT, elapsed
    store.close()


def test_a_stalled_server_fails_after_read_timeout(env: dict[str, str], tmp_path: Path) -> None:
    name = f"s-{uuid4().hex}"
    with StallingProxy(env["OMNI_TEST_SFTP_HOST"], int(env["OMNI_TEST_SFTP_PORT"])) as proxy:
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(_host_key_line(env, proxy.port))
        backend = _backend(
            env,
            f"{env['OMNI_TEST_SFTP_ROOT']}/{name}",
            host="127.0.0.1",
            port=proxy.port,
            known_hosts=str(known_hosts),
            read_timeout=1.0,
        )
        store = Store(backend)
        store.write("a.txt", b"a")
        proxy.stall.set()
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match="read_timeout") as info:
            store.read_bytes("a.txt")
        elapsed = time.monotonic() - started
        assert 1.0 <= elapsed < DEFAULT_READ_TIMEOUT, elapsed  # the 1 s, not the default
        assert info.value.temporary
        proxy.stall.clear()
        store.close()
    cleaner = _backend(env, env["OMNI_TEST_SFTP_ROOT"])
    Store(cleaner).delete_folder(name, recursive=True, missing_ok=True)
    cleaner.close()


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"read_timeout": -1.0}, "read_timeout"),
        ({"retries": -1}, "retries"),
        ({"retries": 1.5}, "retries"),
        ({"timeout": float("nan")}, "timeout"),
        ({"max_connections": 0}, "max_connections"),
        ({"port": 70000}, "port"),
        ({"root": "relative/path"}, "root"),
        ({"host_key_policy": "trust-me"}, "host_key_policy"),
        ({"host": ""}, "host"),
    ],
)
def test_check_config_names_the_bad_option(options: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        SFTPBackend.check_config({"host": "127.0.0.1", **options})
    with pytest.raises(ConfigurationError, match=named):
        SFTPBackend(**{"host": "127.0.0.1", **options})  # type: ignore[arg-type]


def test_check_config_accepts_good_options_without_io() -> None:
    SFTPBackend.check_config(
        {"host": "nowhere.invalid", "port": 2222, "connect_timeout": 1, "retries": 0}
    )


def test_url_options_reach_the_backend(env: dict[str, str]) -> None:
    url = f"sftp://u@127.0.0.1:{_closed_port()}/tmp?connect_timeout=1.5&read_timeout=7&retries=0"
    store = open_store(url)
    connector = store.unwrap(SFTPBackend)._pool._connect.__self__  # type: ignore[attr-defined]
    assert (connector._connect_timeout, connector._read_timeout, connector._retries) == (
        1.5,
        7.0,
        0,
    )
    store.close()
    with pytest.raises(ConfigurationError, match="retries"):
        open_store("sftp://u@127.0.0.1/tmp?retries=-2")


def test_a_new_session_on_a_stalled_server_fails_after_read_timeout(
    env: dict[str, str], tmp_path: Path
) -> None:
    name = f"s-{uuid4().hex}"
    with StallingProxy(env["OMNI_TEST_SFTP_HOST"], int(env["OMNI_TEST_SFTP_PORT"])) as proxy:
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(_host_key_line(env, proxy.port))
        backend = _backend(
            env,
            f"{env['OMNI_TEST_SFTP_ROOT']}/{name}",
            host="127.0.0.1",
            port=proxy.port,
            known_hosts=str(known_hosts),
            read_timeout=1.0,
            connect_timeout=1.0,
            retries=0,
        )
        store = Store(backend)
        store.write("a.txt", b"a")
        with store.read("a.txt"):  # holds the pooled session: the next call opens one
            proxy.stall.set()
            started = time.monotonic()
            with pytest.raises(BackendUnavailable) as info:
                store.exists("a.txt")
            elapsed = time.monotonic() - started
            proxy.stall.clear()
        assert 1.0 <= elapsed < DEFAULT_READ_TIMEOUT, elapsed  # the 1 s, not the default
        assert info.value.temporary
        store.close()
    cleaner = _backend(env, env["OMNI_TEST_SFTP_ROOT"])
    Store(cleaner).delete_folder(name, recursive=True, missing_ok=True)
    cleaner.close()


def test_a_subsystem_request_without_reply_is_cut_by_the_watchdog(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """paramiko waits for the subsystem reply without limit; the server here never
    gets the request (fault injection on the real connection), so only the
    watchdog can end the wait."""
    backend = _backend(env, env["OMNI_TEST_SFTP_ROOT"], read_timeout=1.0)
    ssh = backend.as_native(paramiko.SSHClient)
    assert ssh is not None

    def never_answered(channel: paramiko.Channel, name: str) -> None:
        channel._wait_for_event()  # type: ignore[attr-defined]

    monkeypatch.setattr(paramiko.Channel, "invoke_subsystem", never_answered)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="did not start an SFTP session within 1 s"):
        open_sftp(ssh, 1.0)
    assert time.monotonic() - started < DEFAULT_READ_TIMEOUT  # cut at 1 s, never waits on
    monkeypatch.undo()
    sftp = open_sftp(ssh, 1.0)  # the connection itself is fine
    assert sftp.listdir(env["OMNI_TEST_SFTP_ROOT"]) is not None
    sftp.close()
    backend.close()
