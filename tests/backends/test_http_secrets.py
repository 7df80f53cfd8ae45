"""HTTP credentials (basic auth from options or the URL, bearer tokens) never reach logs,
messages or reprs: a full session against nginx with every logger at DEBUG, refused
calls included, is grepped for each secret in every quoting it may travel in."""

from __future__ import annotations

import base64
import logging
import socket
from collections.abc import Callable, Iterator

import pytest

from omnistorage import Store, open_store
from omnistorage.backends.http import HTTPBackend
from omnistorage.errors import StorageError
from tests.backends.test_debug_secrets import (
    assert_absent,
    debug_log,  # noqa: F401 - a fixture
    exception_texts,
    logged,
)
from tests.support.nginx import NginxTree, nginx_tree

pytestmark = pytest.mark.server

PASSWORD_IN_URL = "url-pass-W0rd"  # a basic-auth password that only ever travels in a URL
WRONG_TOKEN = "wrong-bearer-T0ken"


@pytest.fixture
def tree() -> Iterator[NginxTree]:
    with nginx_tree({"a.txt": b"abc", "sub/b.bin": bytes(range(256)) * 64}) as made:
        yield made


def _session(store: Store) -> None:
    assert store.read_bytes("a.txt") == b"abc"
    assert store.read_range("sub/b.bin", 10, 5) == bytes(range(10, 15))
    with store.read_seekable("sub/b.bin") as reader:
        reader.seek(1000)
        reader.read(100)
    store.get_file_info("a.txt")
    assert sorted(info.path for info in store.list_files(recursive=True)) == ["a.txt", "sub/b.bin"]
    assert not store.is_file("missing")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_no_http_credential_reaches_logs_messages_or_reprs(
    tree: NginxTree,
    debug_log: pytest.LogCaptureFixture,  # noqa: F811 - the imported fixture
) -> None:
    env = tree.env
    password, token = env["OMNI_TEST_HTTP_PASSWORD"], env["OMNI_TEST_HTTP_TOKEN"]
    secrets = [password, token, PASSWORD_IN_URL, WRONG_TOKEN]
    secrets += [
        base64.b64encode(f"omni:{pw}".encode()).decode() for pw in (password, PASSWORD_IN_URL)
    ]
    texts: dict[str, str] = {}

    basic = Store(
        HTTPBackend(
            base_url=tree.url("basic"), username="omni", password=password, listing="nginx-json"
        )
    )
    bearer = Store(
        HTTPBackend(base_url=tree.url("bearer"), bearer_token=token, listing="nginx-json")
    )
    for store in (basic, bearer):
        _session(store)
        texts[f"repr {store.unwrap().base_url}"] = repr(store) + repr(store.unwrap())

    server = env["OMNI_TEST_HTTP_URL"].replace("://", f"://omni:{PASSWORD_IN_URL}@")
    refused: list[Callable[[], object]] = [
        lambda: open_store(f"{server}/basic/{tree.name}/").read_bytes("a.txt"),  # 401
        lambda: Store(
            HTTPBackend(base_url=tree.url("bearer"), bearer_token=WRONG_TOKEN)
        ).read_bytes("a.txt"),
        lambda: open_store(
            f"http://omni:{PASSWORD_IN_URL}@127.0.0.1:{_closed_port()}/x/"
        ).read_bytes("a.txt"),
        lambda: HTTPBackend(base_url=f"http://omni:{PASSWORD_IN_URL}@127.0.0.1/x/"),
        lambda: open_store(f"http://omni:{PASSWORD_IN_URL}@127.0.0.1:notaport/x/"),
    ]
    for index, call in enumerate(refused):
        with pytest.raises(StorageError) as info:
            call()
        texts.update({f"refused {index}: {k}": v for k, v in exception_texts(info.value).items()})

    # The password that came in a URL is registered with the scrubber: urllib3's logger
    # cannot carry it even when something logs it there.
    logging.getLogger("urllib3.connectionpool").debug("credential %s", PASSWORD_IN_URL)
    logging.getLogger("urllib3").debug("token %s", token)

    texts.update(logged(debug_log))
    assert_absent(secrets, texts)
    urllib3_records = [r for r in debug_log.records if r.name.startswith("urllib3")]
    assert len(urllib3_records) > 10  # the session was logged, so the grep means something
    assert any("***" in r.getMessage() for r in urllib3_records)
