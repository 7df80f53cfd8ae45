"""Create-only truth under retries on GCS: a lost reply is not a lost write.

A loopback proxy forwards the request that creates the object (a simple
upload, or the final chunk of a resumable upload) to gcp-storage-emulator,
lets it succeed and drops the reply; the writer retries. The real service
would answer the retry with 412 (``ifGenerationMatch=0`` meets our own
object), but the emulator ignores ``ifGenerationMatch``, so the proxy answers
the retried request with a scripted 412 in GCS's JSON error format while the
object the first attempt stored is really there. The write must succeed. A 412
on the first attempt (no retry), or after a retry when the object there is
not what we sent, must still raise AlreadyExists.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from omnistorage import AlreadyExists, Store
from omnistorage.backends.gcs import GCSBackend
from omnistorage.backends.gcs import _writer as gcs_writer_module
from omnistorage.errors import PreconditionFailed
from tests.backends.test_gcs import BUCKET, CHUNK, _admin_client, _endpoint, root
from tests.support.http_proxy import Fault, FaultProxy, ProxiedRequest

__all__ = ["root"]  # the fixture, imported for pytest

Matcher = Callable[[ProxiedRequest], bool]

_PRECONDITION_FAILED = json.dumps(
    {
        "error": {
            "code": 412,
            "message": "At least one of the pre-conditions you specified did not hold.",
            "errors": [
                {
                    "message": "At least one of the pre-conditions you specified did not hold.",
                    "domain": "global",
                    "reason": "conditionNotMet",
                    "locationType": "header",
                    "location": "If-Match",
                }
            ],
        }
    }
).encode()

SIMPLE = 1000
RESUMABLE = 2 * CHUNK + 1000  # two full chunks through the session, then the final one


@pytest.fixture
def proxied(root: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Store, FaultProxy]]:
    _admin_client()
    monkeypatch.setattr(gcs_writer_module, "_UPLOAD_BACKOFF", 0.05)
    with FaultProxy(_endpoint()) as proxy:
        backend = GCSBackend(bucket=BUCKET, endpoint_url=proxy.url, chunk_size=CHUNK)
        yield Store(backend, root), proxy
        backend.close()


def _simple_upload(request: ProxiedRequest) -> bool:
    return request.method == "POST" and request.query.get("uploadType") == ["multipart"]


def _session_put(request: ProxiedRequest) -> bool:
    return request.method == "PUT" and "upload_id" in request.query


def _final_chunk(request: ProxiedRequest) -> bool:
    """The request that creates the object: its Content-Range names the total size."""
    return _session_put(request) and not request.headers.get("content-range", "").endswith("/*")


def _creating(size: int) -> Matcher:
    return _simple_upload if size <= CHUNK else _final_chunk


def _retried(size: int) -> Matcher:
    """The request a retry sends: the simple upload again, or any request to the session."""
    return _simple_upload if size <= CHUNK else _session_put


def _scripted_412(match: Matcher, after: Fault | None = None) -> Fault:
    """Answer 412 to the next ``match``ing request (once ``after`` has fired, if given)."""
    return Fault(
        lambda r: (after is None or bool(after.hits)) and match(r),
        action="respond",
        status=412,
        reply_headers={"Content-Type": "application/json; charset=UTF-8"},
        reply_body=_PRECONDITION_FAILED,
    )


def _body(size: int, seed: int = 0) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(size))


def _count(proxy: FaultProxy, match: Matcher) -> int:
    return sum(1 for r in proxy.requests if match(r))


SIZES = pytest.mark.parametrize("size", [SIMPLE, RESUMABLE], ids=["simple", "resumable"])


@SIZES
def test_a_create_only_write_whose_reply_was_lost_succeeds(
    proxied: tuple[Store, FaultProxy], size: int
) -> None:
    store, proxy = proxied
    body = _body(size)
    modified = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    drop = proxy.add(Fault(_creating(size), action="drop_reply"))
    conflict = proxy.add(_scripted_412(_retried(size), after=drop))
    store.write("mine.bin", body, metadata={"owner": "me"}, modified=modified)
    assert len(drop.hits) == 1  # the first attempt stored the object, its reply was lost
    assert len(conflict.hits) == 1  # the retry met it and was refused
    assert store.read_bytes("mine.bin") == body
    info = store.get_file_info("mine.bin")
    assert info.metadata == {"owner": "me"}
    assert info.modified == modified


@SIZES
def test_a_conflict_on_the_first_attempt_is_another_writers_object(
    proxied: tuple[Store, FaultProxy], size: int
) -> None:
    store, proxy = proxied
    body = _body(size)
    store.write("theirs.bin", body)  # another writer stored exactly these bytes
    conflict = proxy.add(_scripted_412(_creating(size)))
    with pytest.raises(AlreadyExists):
        store.write("theirs.bin", body)  # no retry: the 412 can only be theirs
    assert len(conflict.hits) == 1
    assert store.read_bytes("theirs.bin") == body


@SIZES
@pytest.mark.parametrize("difference", ["bytes", "metadata"])
def test_after_a_retry_an_object_that_is_not_what_we_sent_is_a_conflict(
    proxied: tuple[Store, FaultProxy], size: int, difference: str
) -> None:
    store, proxy = proxied
    theirs = _body(size, seed=1) if difference == "bytes" else _body(size)
    store.write("theirs.bin", theirs, metadata={"owner": "them"})
    ours_metadata = {"owner": "them"} if difference == "bytes" else {"owner": "me"}
    # Our creating request never reaches the server; the retry meets their object.
    refused = proxy.add(Fault(_creating(size), action="refuse"))
    conflict = proxy.add(_scripted_412(_retried(size), after=refused))
    with pytest.raises(AlreadyExists):
        store.write("theirs.bin", _body(size), metadata=ours_metadata)
    assert len(refused.hits) == 1
    assert len(conflict.hits) == 1
    assert store.read_bytes("theirs.bin") == theirs
    assert store.get_file_info("theirs.bin").metadata == {"owner": "them"}


def test_the_retry_goes_to_the_proxy(proxied: tuple[Store, FaultProxy]) -> None:
    """The session URI the emulator hands out points at the proxy (else nothing above
    would test the resumable path)."""
    store, proxy = proxied
    store.write("through.bin", _body(RESUMABLE))
    assert _count(proxy, _final_chunk) == 1


# ------------------------------------------------------------------ conditional deletes


def _delete(request: ProxiedRequest) -> bool:
    return request.method == "DELETE" and "/o/" in request.path


@SIZES
def test_a_conditional_delete_names_the_generation_the_write_created(
    proxied: tuple[Store, FaultProxy], size: int
) -> None:
    """The emulator ignores ifGenerationMatch: the proxy shows the request carries the
    generation the write's own reply named, then scripts the 412 the real service
    sends for another generation. The object stays, and the error is typed."""
    store, proxy = proxied
    mine = store.write("k.bin", _body(size))
    assert mine.version is not None
    generation = _admin_client().bucket(BUCKET).get_blob(f"{store.root}/k.bin").generation
    assert mine.version == str(generation)
    proxy.add(_scripted_412(_delete))
    with pytest.raises(PreconditionFailed):
        store.delete("k.bin", if_version=mine.version)
    assert store.read_bytes("k.bin") == _body(size)
    store.delete("k.bin", if_version=mine.version)
    assert not store.is_file("k.bin")
    deletes = [r for r in proxy.requests if _delete(r)]
    assert [r.query.get("ifGenerationMatch") for r in deletes] == [[mine.version]] * 2


def test_a_conditional_delete_whose_reply_was_lost_is_done(
    proxied: tuple[Store, FaultProxy],
) -> None:
    store, proxy = proxied
    mine = store.write("k.bin", b"mine")
    assert mine.version is not None
    fault = proxy.add(Fault(_delete))  # deleted, then the reply dropped: the SDK retries
    store.delete("k.bin", if_version=mine.version)
    assert len(fault.hits) == 1
    assert not store.is_file("k.bin")
