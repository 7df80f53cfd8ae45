"""The HTTP backend runs the read-only conformance suite against the real nginx that
``scripts/servers.sh`` starts: with nginx's JSON index (LIST), without one, over TLS
with basic auth, and with a bearer token. Also: URLs, options and credentials."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from omnistorage import (
    BackendUnavailable,
    Capability,
    CapabilityNotSupported,
    ConfigurationError,
    NotFound,
    PermissionDenied,
    Store,
    open_store,
)
from omnistorage.backends.http import HTTPBackend
from omnistorage.testing import READONLY_FIXTURE, ReadOnlyConformance
from tests.support.nginx import NginxTree, nginx_tree

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def tree() -> Iterator[NginxTree]:
    with nginx_tree(READONLY_FIXTURE) as made:
        yield made


class TestHTTPWithListing(ReadOnlyConformance):
    backend_name = "http"

    @pytest.fixture
    def populated_store(self, tree: NginxTree) -> Store:
        return Store(HTTPBackend(base_url=tree.url("listing"), listing="nginx-json"))


class TestHTTPWithoutListing(ReadOnlyConformance):
    backend_name = "http-nolist"

    @pytest.fixture
    def populated_store(self, tree: NginxTree) -> Store:
        return Store(HTTPBackend(base_url=tree.url("files")))


class TestHTTPSWithBasicAuth(ReadOnlyConformance):
    """TLS against the test CA, basic auth, and the store's root below the base URL."""

    backend_name = "https-basic"
    variants = ("plain",)

    @pytest.fixture
    def populated_store(self, tree: NginxTree) -> Store:
        env = tree.env
        backend = HTTPBackend(
            base_url=env["OMNI_TEST_HTTPS_URL"],
            username=env["OMNI_TEST_HTTP_USER"],
            password=env["OMNI_TEST_HTTP_PASSWORD"],
            ca_file=env["OMNI_TEST_HTTP_CA_FILE"],
            listing="nginx-json",
        )
        return Store(backend, f"basic/{tree.name}")


class TestHTTPWithBearerToken(ReadOnlyConformance):
    backend_name = "http-bearer"
    variants = ("child",)

    @pytest.fixture
    def populated_store(self, tree: NginxTree) -> Store:
        return Store(
            HTTPBackend(
                base_url=tree.url("bearer"),
                bearer_token=tree.env["OMNI_TEST_HTTP_TOKEN"],
                listing="nginx-json",
            )
        )


# ------------------------------------------------------------------ URLs and options


def test_open_store_reads_an_http_url_with_options_in_the_query(tree: NginxTree) -> None:
    store = open_store(f"{tree.url('listing')}?listing=nginx-json&retries=1")
    assert store.root == f"listing/{tree.name}"
    assert store.supports(Capability.LIST)
    assert store.read_bytes("data/a.csv") == READONLY_FIXTURE["data/a.csv"]
    assert sorted(store.list_folders("data")) == ["data/sub"]


def test_open_store_takes_basic_auth_from_the_url(tree: NginxTree) -> None:
    env = tree.env
    server = env["OMNI_TEST_HTTP_URL"].replace("://", f"://omni:{env['OMNI_TEST_HTTP_PASSWORD']}@")
    store = open_store(f"{server}/basic/{tree.name}/")
    assert store.read_bytes("top.txt") == READONLY_FIXTURE["top.txt"]
    assert env["OMNI_TEST_HTTP_PASSWORD"] not in repr(store)


def test_omnistorage_open_reads_one_https_object(tree: NginxTree) -> None:
    import omnistorage

    url = f"{tree.url('files', tls=True)}data/a.csv"
    with omnistorage.open(url, "rt", ca_file=tree.env["OMNI_TEST_HTTP_CA_FILE"]) as text:
        assert text.read() == READONLY_FIXTURE["data/a.csv"].decode()


def test_a_certificate_nobody_vouches_for_is_refused_and_not_temporary(tree: NginxTree) -> None:
    store = Store(HTTPBackend(base_url=tree.url("files", tls=True)))
    with pytest.raises(BackendUnavailable) as info:
        store.read_bytes("top.txt")
    assert not info.value.temporary
    assert "certificate" in str(info.value).lower()


def test_verify_false_skips_the_certificate_check(tree: NginxTree) -> None:
    from urllib3.exceptions import InsecureRequestWarning

    store = Store(HTTPBackend(base_url=tree.url("files", tls=True), verify=False))
    with pytest.warns(InsecureRequestWarning):  # urllib3 says so on every such request
        assert store.read_bytes("top.txt") == READONLY_FIXTURE["top.txt"]


def test_wrong_basic_credentials_are_permission_denied(tree: NginxTree) -> None:
    store = Store(HTTPBackend(base_url=tree.url("basic"), username="omni", password="not-it"))
    with pytest.raises(PermissionDenied) as info:
        store.read_bytes("top.txt")
    assert "401" in str(info.value)
    assert "not-it" not in str(info.value)


def test_a_missing_or_wrong_bearer_token_is_permission_denied(tree: NginxTree) -> None:
    for token in (None, "wrong-token"):
        store = Store(HTTPBackend(base_url=tree.url("bearer"), bearer_token=token))
        with pytest.raises(PermissionDenied):
            store.get_file_info("top.txt")


def test_an_unreadable_file_is_permission_denied(tree: NginxTree) -> None:
    path = tree.write("locked/secret.txt", b"secret")
    path.chmod(0o000)
    try:
        store = Store(HTTPBackend(base_url=tree.url("files")))
        with pytest.raises(PermissionDenied) as info:
            store.read_bytes("locked/secret.txt")
        assert "403" in str(info.value)
    finally:
        path.chmod(0o644)
        path.unlink()


def test_listing_a_location_without_an_index_is_permission_denied(tree: NginxTree) -> None:
    store = Store(HTTPBackend(base_url=tree.url("files"), listing="nginx-json"))
    with pytest.raises(PermissionDenied):
        list(store.list_files("data"))


def test_stat_reports_size_mtime_etag_and_content_type(tree: NginxTree) -> None:
    store = Store(HTTPBackend(base_url=tree.url("files")))
    info = store.get_file_info("data/a.csv")
    on_disk = tree.file("data/a.csv").stat()
    assert info.size == on_disk.st_size
    assert info.modified is not None
    assert int(info.modified.timestamp()) == int(on_disk.st_mtime)
    assert info.etag == f'"{int(on_disk.st_mtime):x}-{on_disk.st_size:x}"'  # nginx's ETag
    assert info.content_type == "text/csv" or info.content_type == "application/octet-stream"
    assert store.get_file_info("top.txt").content_type == "text/plain"


def test_listings_carry_sizes_and_modification_times(tree: NginxTree) -> None:
    store = Store(HTTPBackend(base_url=tree.url("listing"), listing="nginx-json"))
    for info in store.list_files("data", recursive=True):
        on_disk = tree.file(info.path).stat()
        assert info.size == on_disk.st_size
        assert info.modified is not None
        assert int(info.modified.timestamp()) == int(on_disk.st_mtime)


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"base_url": "ftp://host/x/"}, "http:// or https://"),
        ({"base_url": "http:///nohost/"}, "no host"),
        ({"base_url": "http://host/x/?token=abc"}, "query"),
        ({"base_url": "http://host/x/#frag"}, "fragment"),
        ({"base_url": "http://user:hunter22@host/x/"}, "credentials"),
        ({"base_url": "http://host:99999/"}, "port"),
        ({"base_url": "http://h/", "listing": "apache"}, "listing"),
        ({"base_url": "http://h/", "password": "hunter22"}, "'password' needs 'username'"),
        ({"base_url": "http://h/", "username": "u", "bearer_token": "t0ken"}, "not both"),
        ({"base_url": "http://h/", "retries": -1}, "retries"),
        ({"base_url": "http://h/", "connect_timeout": 0}, "connect_timeout"),
        ({"base_url": "http://h/", "max_connections": 0}, "max_connections"),
        ({"base_url": "http://h/", "verify": False, "ca_file": "/ca.pem"}, "verify=False"),
    ],
)
def test_bad_options_are_refused_by_name_without_echoing_secrets(
    options: dict[str, Any], complaint: str
) -> None:
    for build in (lambda: HTTPBackend(**options), lambda: HTTPBackend.check_config(options)):
        with pytest.raises(ConfigurationError) as info:
            build()
        assert complaint in str(info.value)
        assert "hunter22" not in str(info.value)


def test_url_options_of_the_wrong_type_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="verify"):
        open_store("http://127.0.0.1:1/files/?verify=perhaps")
    with pytest.raises(ConfigurationError, match="unknown option"):
        open_store("http://127.0.0.1:1/files/?listings=nginx-json")


def test_the_repr_names_the_location_and_never_the_credentials() -> None:
    backend = HTTPBackend(base_url="https://example.org/a b/", username="u", password="pw-secret")
    assert repr(backend) == (
        "HTTPBackend(base_url='https://example.org/a%20b/', listing='none', auth='basic')"
    )
    assert "pw-secret" not in repr(Store(backend))


def test_native_paths_are_percent_encoded_urls() -> None:
    store = Store(HTTPBackend(base_url="http://example.org/base/"))
    assert store.native_path("a b/%2e%2e/q?x#y") == (
        "http://example.org/base/a%20b/%252e%252e/q%3Fx%23y"
    )
    assert store.to_key("http://example.org/base/a%20b/%252e%252e") == "a b/%2e%2e"
    with pytest.raises(Exception, match="not a path inside"):
        store.to_key("http://example.org/other/x")


def test_writes_are_refused_even_by_the_driver_itself() -> None:
    backend = HTTPBackend(base_url="http://127.0.0.1:1/")
    with pytest.raises(PermissionError):
        backend.delete("x")
    store = Store(backend)
    with pytest.raises(CapabilityNotSupported):
        store.write("x", b"1")


def test_importing_omnistorage_does_not_import_the_http_client() -> None:
    code = "import omnistorage, sys; print('urllib3' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_a_missing_file_is_not_found_on_every_read_path(tree: NginxTree) -> None:
    store = Store(HTTPBackend(base_url=tree.url("files")))
    for call in (
        lambda: store.read_bytes("nope.txt"),
        lambda: store.read_range("nope.txt", 5, 5),
        lambda: store.read_seekable("nope.txt"),
        lambda: store.get_file_info("nope.txt"),
    ):
        with pytest.raises(NotFound):
            call()
    assert not store.is_file("nope.txt")


def test_ping_without_listings_asks_for_a_reserved_name(tree: NginxTree) -> None:
    """A store with no LIST still answers ping (a HEAD of a name in the reserved temp
    namespace), and a server that is not there fails it with a temporary error."""
    Store(HTTPBackend(base_url=tree.url("files"))).ping()
    dead = Store(HTTPBackend(base_url="http://127.0.0.1:1/", retries=0))
    with pytest.raises(BackendUnavailable) as info:
        dead.ping()
    assert info.value.temporary
    assert info.value.op == "ping"
