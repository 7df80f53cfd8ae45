"""HTTP reads against the real nginx: ranged requests, pinned reads that notice a file
replaced or deleted on disk, streams that stay on one version and resume after a cut
reply, listings, and keys full of URL syntax."""

from __future__ import annotations

import string
import threading
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnistorage import ChangedDuringRead, Store
from omnistorage.backends.http import HTTPBackend
from omnistorage.errors import StorageError
from tests.support.http_proxy import Fault, FaultProxy, ProxiedRequest
from tests.support.nginx import NginxTree, nginx_env, nginx_tree

pytestmark = pytest.mark.server

MiB = 1 << 20
OLD = bytes(range(256)) * (3 * MiB // 256)
NEW = bytes(reversed(range(256))) * (3 * MiB // 256)


@pytest.fixture
def tree() -> Iterator[NginxTree]:
    with nginx_tree({"v.bin": OLD, "small.txt": b"0123456789"}) as made:
        yield made


@pytest.fixture(scope="module")
def shared_proxy() -> Iterator[FaultProxy]:
    with FaultProxy(nginx_env()["OMNI_TEST_HTTP_URL"]) as made:
        yield made


@pytest.fixture
def proxy(shared_proxy: FaultProxy) -> FaultProxy:
    """The module's proxy with no fault armed and no request recorded."""
    shared_proxy.clear()
    shared_proxy.requests.clear()
    return shared_proxy


def _via(proxy: FaultProxy, tree: NginxTree, **options: object) -> Store:
    return Store(HTTPBackend(base_url=f"{proxy.url}/files/{tree.name}/", **options))  # type: ignore[arg-type]


def _gets(proxy: FaultProxy) -> list[ProxiedRequest]:
    return [r for r in proxy.requests if r.method == "GET"]


# ------------------------------------------------------------------ ranges


def test_ranged_reads_ask_for_the_range_and_get_206(tree: NginxTree, proxy: FaultProxy) -> None:
    store = _via(proxy, tree)
    assert store.read_range("v.bin", MiB, 100) == OLD[MiB : MiB + 100]
    assert _gets(proxy)[-1].headers["range"] == f"bytes={MiB}-{MiB + 99}"
    with store.read("small.txt") as stream:
        assert stream.read() == b"0123456789"
    assert "range" not in _gets(proxy)[-1].headers


def test_a_server_that_ignores_ranges_is_served_by_skipping(
    tree: NginxTree, proxy: FaultProxy
) -> None:
    proxy.add(
        Fault(
            lambda r: r.method == "GET" and "range" in r.headers,
            "respond",
            times=5,
            status=200,
            reply_body=b"0123456789",
        )
    )
    store = _via(proxy, tree)
    assert store.read_range("small.txt", 3, 4) == b"3456"
    assert store.read_range("small.txt", 8, 10) == b"89"
    assert store.read_range("small.txt", 12, 3) == b""


def test_an_answer_for_another_range_is_an_error(tree: NginxTree, proxy: FaultProxy) -> None:
    proxy.add(
        Fault(
            lambda r: "range" in r.headers,
            "respond",
            status=206,
            reply_headers={"Content-Range": "bytes 0-3/10"},
            reply_body=b"0123",
        )
    )
    with pytest.raises(StorageError, match="the server sent"):
        _via(proxy, tree).read_range("small.txt", 5, 4)


# ------------------------------------------------------------------ one version per reader


def test_a_pinned_read_sends_if_range_on_the_etag(tree: NginxTree, proxy: FaultProxy) -> None:
    store = _via(proxy, tree)
    etag = store.get_file_info("v.bin").etag
    with store.read_seekable("v.bin") as reader:
        reader.seek(2 * MiB)
        assert reader.read(10) == OLD[2 * MiB : 2 * MiB + 10]
    ranged = [r for r in _gets(proxy) if "range" in r.headers]
    assert ranged
    assert all(r.headers["if-range"] == etag for r in ranged)


@pytest.mark.parametrize("size", [len(OLD), len(OLD) + 1], ids=["same-size", "other-size"])
def test_a_file_replaced_on_disk_mid_read_raises_changed_during_read(
    tree: NginxTree, size: int
) -> None:
    store = Store(HTTPBackend(base_url=tree.url("files")))
    with store.read_seekable("v.bin") as reader:
        assert reader.read(MiB) == OLD[:MiB]
        tree.replace("v.bin", (NEW + b"!")[:size])
        with pytest.raises(ChangedDuringRead):
            reader.read(MiB)
        reader.seek(0)  # nor does seeking back serve the old bytes from the new file
        with pytest.raises(ChangedDuringRead):
            reader.read(2 * MiB)


def test_a_file_deleted_mid_read_raises_changed_during_read(tree: NginxTree) -> None:
    store = Store(HTTPBackend(base_url=tree.url("files")))
    with store.read_seekable("v.bin") as reader:
        reader.read(MiB)
        tree.file("v.bin").unlink()
        with pytest.raises(ChangedDuringRead):
            reader.read(MiB)


def test_a_whole_object_instead_of_a_range_means_changed(
    tree: NginxTree, proxy: FaultProxy
) -> None:
    store = _via(proxy, tree)
    with store.read_seekable("v.bin") as reader:
        reader.read(10)
        proxy.add(Fault(lambda r: "if-range" in r.headers, "respond", status=200, reply_body=NEW))
        reader.seek(2 * MiB)
        with pytest.raises(ChangedDuringRead):
            reader.read(10)


def test_without_byte_ranges_a_seekable_read_is_spooled_once(
    tree: NginxTree, proxy: FaultProxy
) -> None:
    proxy.add(
        Fault(
            lambda r: r.method == "HEAD",
            "respond",
            status=200,
            reply_body=b"0123456789",  # its length only: no Accept-Ranges, no validator
        )
    )
    store = _via(proxy, tree)
    with store.read_seekable("small.txt") as reader:
        reader.seek(4)
        assert reader.read(3) == b"456"
        reader.seek(0)
        assert reader.read() == b"0123456789"
    assert len(_gets(proxy)) == 1
    assert "range" not in _gets(proxy)[0].headers


def test_a_stream_keeps_serving_the_version_it_opened(tree: NginxTree) -> None:
    store = Store(HTTPBackend(base_url=tree.url("files")))
    with store.read("v.bin") as stream:
        first = stream.read(MiB)
        tree.replace("v.bin", NEW)
        rest = stream.read()
    assert first + rest == OLD


def test_a_cut_reply_is_resumed_at_the_same_version(tree: NginxTree, proxy: FaultProxy) -> None:
    etag = Store(HTTPBackend(base_url=tree.url("files"))).get_file_info("v.bin").etag
    cut = proxy.add(Fault(lambda r: r.method == "GET", "cut_reply", cut_after=MiB + 123))
    store = _via(proxy, tree)
    assert store.read_bytes("v.bin") == OLD
    assert len(cut.hits) == 1
    resumed = _gets(proxy)[-1]
    assert resumed.headers["if-match"] == etag
    assert resumed.headers["range"].startswith("bytes=")
    assert int(resumed.headers["range"][6:].rstrip("-")) <= MiB + 123


def test_a_cut_reply_of_a_file_that_changed_meanwhile_raises(
    tree: NginxTree, proxy: FaultProxy
) -> None:
    def replaced_before_resume(request: ProxiedRequest) -> bool:
        if "if-match" in request.headers:
            tree.replace("v.bin", NEW)
        return False

    proxy.add(Fault(lambda r: r.method == "GET", "cut_reply", cut_after=MiB))
    proxy.add(Fault(replaced_before_resume))
    with pytest.raises(ChangedDuringRead):
        _via(proxy, tree).read_bytes("v.bin")


def test_cut_replies_beyond_the_retry_budget_fail_temporary(
    tree: NginxTree, proxy: FaultProxy
) -> None:
    proxy.add(Fault(lambda r: r.method == "GET", "cut_reply", times=10, cut_after=1000))
    with pytest.raises(StorageError) as info:
        _via(proxy, tree, retries=2).read_bytes("v.bin")
    assert info.value.temporary
    assert len(_gets(proxy)) == 3


def test_concurrent_seekable_readers_share_the_pool(tree: NginxTree) -> None:
    store = Store(HTTPBackend(base_url=tree.url("files"), max_connections=2))
    failures: list[int] = []

    def read(i: int) -> None:
        with store.read_seekable("v.bin") as reader:
            reader.seek(i * 4096)
            if reader.read(100_000) != OLD[i * 4096 : i * 4096 + 100_000]:
                failures.append(i)

    workers = [threading.Thread(target=read, args=(i,)) for i in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []


# ------------------------------------------------------------------ listings


def test_a_large_folder_index_is_parsed_across_chunks(tree: NginxTree) -> None:
    names = [f"many/{i:05d}-{'x' * (i % 40)}.txt" for i in range(3000)]
    for name in names:
        tree.write(name, b"")
    store = Store(HTTPBackend(base_url=tree.url("listing"), listing="nginx-json"))
    assert sorted(info.path for info in store.list_files("many")) == sorted(names)


def test_names_starting_with_a_dot_are_readable_but_nginx_lists_none(tree: NginxTree) -> None:
    tree.write("dots/.hidden", b"h")
    tree.write("dots/...", b"d")
    tree.write("dots/seen.txt", b"s")
    store = Store(HTTPBackend(base_url=tree.url("listing"), listing="nginx-json"))
    assert store.read_bytes("dots/.hidden") == b"h"
    assert store.read_bytes("dots/...") == b"d"
    assert [info.path for info in store.list_files("dots")] == ["dots/seen.txt"]


def test_foreign_names_on_disk_are_skipped_and_counted(tree: NginxTree) -> None:
    tree.write("foreign/ok.txt", b"ok")
    tree.write("foreign/tab\there.txt", b"t")
    tree.write("foreign/back\\slash.txt", b"b")
    store = Store(HTTPBackend(base_url=tree.url("listing"), listing="nginx-json"))
    listing = store.list_files("foreign", recursive=True)
    assert [info.path for info in listing] == ["foreign/ok.txt"]
    assert listing.invalid_count == 2


def test_an_index_that_is_not_json_is_a_clear_error(tree: NginxTree, proxy: FaultProxy) -> None:
    proxy.add(
        Fault(
            lambda r: r.path.endswith("/"),
            "respond",
            status=200,
            reply_headers={"Content-Type": "text/html"},
            reply_body=b"<html>index</html>",
        )
    )
    store = Store(HTTPBackend(base_url=f"{proxy.url}/listing/{tree.name}/", listing="nginx-json"))
    with pytest.raises(StorageError, match="autoindex_format json"):
        list(store.list_files())


# ------------------------------------------------------------------ keys full of URL syntax

_NAME = st.text(
    alphabet=st.sampled_from(string.ascii_letters + string.digits + " %?#+&=;,@:!$'()*[]{}~-_."),
    min_size=1,
    max_size=12,
).filter(lambda name: name not in (".", "..") and not name.startswith("."))
_SEGMENT = st.one_of(
    _NAME,
    st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N"]), min_size=1, max_size=6),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    keys=st.lists(
        st.lists(_SEGMENT, min_size=1, max_size=3).map("/".join),
        min_size=1,
        max_size=4,
        unique=True,
    )
)
def test_keys_full_of_url_syntax_reach_exactly_their_file(tree: NginxTree, keys: list[str]) -> None:
    folder = f"enc-{uuid.uuid4().hex}"
    written: dict[str, bytes] = {}
    for key in keys:  # a key can be a file or a folder, not both
        if any(other.startswith(f"{key}/") or key.startswith(f"{other}/") for other in written):
            continue
        tree.write(f"{folder}/{key}", key.encode())
        written[key] = key.encode()
    store = Store(HTTPBackend(base_url=tree.url("listing"), listing="nginx-json"), folder)
    for key, data in written.items():
        assert store.read_bytes(key) == data
        assert store.to_key(store.native_path(key)) == key
    assert sorted(i.path for i in store.list_files(recursive=True)) == sorted(written)


def test_percent_encoded_dot_names_are_literal_files_never_traversal(tree: NginxTree) -> None:
    tree.write("enc/inner/%2e%2e", b"literal")
    tree.write("enc/target.txt", b"outside")
    store = Store(HTTPBackend(base_url=tree.url("files")), "enc/inner")
    assert store.read_bytes("%2e%2e") == b"literal"
    assert not store.is_file("%2e%2e/target.txt")
    assert not store.is_file("%2E%2E/target.txt")
