"""GCS pinned reads: every ranged request asks for the generation the reader opened.

gcp-storage-emulator ignores the ``generation`` parameter (the conformance
tests that overwrite during a read are strict xfails there, see
``PINNED_GAP``), so this checks the requests themselves through a recording
proxy, and the "gone" answer with a delete, which the emulator does honour.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from omnistorage import Store
from omnistorage.backends.gcs import GCSBackend
from omnistorage.errors import ChangedDuringRead
from tests.backends.test_gcs import BUCKET, _admin_client, _endpoint, root
from tests.support.http_proxy import FaultProxy

__all__ = ["root"]  # the fixture, imported for pytest

_MiB = 1 << 20


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    _admin_client()
    with FaultProxy(_endpoint()) as running:
        yield running


def test_every_ranged_read_names_the_opened_generation(proxy: FaultProxy, root: str) -> None:
    store = Store(GCSBackend(bucket=BUCKET, endpoint_url=proxy.url), root)
    data = bytes(range(256)) * (3 * _MiB // 256)
    store.write("p.bin", data)
    generation = store.unwrap(GCSBackend).open_pinned(f"{root}/p.bin").version
    assert generation is not None
    assert generation.isdigit()
    before = len(proxy.requests)
    with store.read_seekable("p.bin") as reader:
        reader.seek(2 * _MiB)
        tail = reader.read()
        reader.seek(10)
        head = reader.read(100)
    assert tail == data[2 * _MiB :]
    assert head == data[10:110]
    media = [r for r in proxy.requests[before:] if r.query.get("alt") == ["media"]]
    assert media, "no ranged reads went through the proxy"
    for request in media:
        assert request.query.get("generation") == [generation], request
        assert request.headers.get("range", "").startswith("bytes="), request


def test_a_pinned_read_of_an_object_deleted_meanwhile_raises_changed(root: str) -> None:
    store = Store(GCSBackend(bucket=BUCKET, endpoint_url=_endpoint()), root)
    store.write("gone.bin", b"x" * (2 * _MiB))
    with store.read_seekable("gone.bin") as reader:
        assert reader.read(10) == b"x" * 10
        store.delete("gone.bin")
        reader.seek(_MiB + 5)
        with pytest.raises(ChangedDuringRead):
            reader.read(10)
