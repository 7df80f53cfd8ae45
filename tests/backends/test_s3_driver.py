"""S3 driver specifics: part sizing, error classification, parallel ranged reads,
multipart copies, listings with folder markers, batch deletes, metadata.

Tests that talk to a server use the moto server that ``scripts/servers.sh`` starts.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import botocore.exceptions
import pytest
from botocore.client import BaseClient
from botocore.utils import parse_timestamp as botocore_parse_timestamp
from hypothesis import given
from hypothesis import strategies as st

from omnistorage import Store
from omnistorage.backends.s3 import ObjectChangedError, ObjectExistsError, S3Backend
from omnistorage.backends.s3._config import (
    MAX_OBJECT_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    layout,
    parse_timestamp,
)
from omnistorage.backends.s3._errors import classify
from omnistorage.backends.s3._writer import multipart_etag
from omnistorage.driver import WriteOptions
from omnistorage.errors import (
    AlreadyExists,
    BackendUnavailable,
    ErrorKind,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    StorageError,
)
from omnistorage.models import HashType
from tests.backends.test_s3 import (
    empty_bucket,
    incomplete_uploads,
    new_bucket,
    object_keys,
    s3_store,
    settings,
    shared_client,
)

MiB = 1 << 20


@pytest.fixture(scope="module")
def bucket() -> Iterator[str]:
    name = new_bucket()
    yield name
    empty_bucket(name)


# ---------------------------------------------------------------- part sizing (no I/O)


def test_unknown_sizes_up_to_5_tib_fit_in_10000_parts() -> None:
    for base in (MIN_PART_SIZE, 8 * MiB, 64 * MiB):
        sizes = [layout(base).size_of(n, base) for n in range(1, MAX_PARTS + 1)]
        assert sum(sizes) >= MAX_OBJECT_SIZE, base
        assert max(sizes) <= MAX_PART_SIZE
        assert sizes[0] == base
        assert sizes == sorted(sizes)


def test_a_size_hint_grows_the_first_part() -> None:
    parts = layout(8 * MiB)
    assert parts.base(None) == 8 * MiB
    assert parts.base(1000) == 8 * MiB
    hint = 200 * 1024 * MiB  # 200 GiB
    base = parts.base(hint)
    assert base * MAX_PARTS >= hint
    assert base % MiB == 0
    assert parts.base(MAX_OBJECT_SIZE) * MAX_PARTS >= MAX_OBJECT_SIZE


def test_a_size_hint_over_5_tib_is_refused_before_io() -> None:
    backend = S3Backend(bucket="b", client=offline_client())
    with pytest.raises(ValueError, match="5 TiB"):
        backend.new_writer("k", WriteOptions(size_hint=MAX_OBJECT_SIZE + 1))


def offline_client() -> Any:
    """A client for a closed port: only useful under a botocore ``Stubber``."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )


# ---------------------------------------------------------------- classification (no I/O)


def client_error(code: str, status: int, operation: str = "GetObject") -> Exception:
    response: Any = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return botocore.exceptions.ClientError(response, operation)


@pytest.mark.parametrize(
    ("exc", "kind", "temporary"),
    [
        (client_error("NoSuchKey", 404), ErrorKind.NOT_FOUND, False),
        (client_error("404", 404, "HeadObject"), ErrorKind.NOT_FOUND, False),
        (client_error("NoSuchBucket", 404), ErrorKind.BUCKET_NOT_FOUND, False),
        (client_error("AccessDenied", 403), ErrorKind.PERMISSION_DENIED, False),
        (client_error("PreconditionFailed", 412), ErrorKind.PRECONDITION_FAILED, False),
        (client_error("ConditionalRequestConflict", 409), ErrorKind.PRECONDITION_FAILED, True),
        (client_error("SlowDown", 503), ErrorKind.UNAVAILABLE, True),
        (client_error("ServiceUnavailable", 503), ErrorKind.UNAVAILABLE, True),
        (client_error("InternalError", 500), ErrorKind.UNAVAILABLE, True),
        (client_error("RequestTimeout", 400), ErrorKind.UNAVAILABLE, True),
        (client_error("Weird", 502), ErrorKind.UNAVAILABLE, True),
        (client_error("KeyTooLongError", 400), ErrorKind.INVALID_PATH, False),
        (client_error("NotImplemented", 501), ErrorKind.NOT_SUPPORTED, False),
        (client_error("InvalidArgument", 400), ErrorKind.UNKNOWN, False),
        (ObjectExistsError("k"), ErrorKind.ALREADY_EXISTS, False),
        (ObjectChangedError("k"), ErrorKind.PRECONDITION_FAILED, False),
        (
            botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"),
            ErrorKind.UNAVAILABLE,
            True,
        ),
        (
            botocore.exceptions.ConnectionClosedError(endpoint_url="http://x"),
            ErrorKind.UNAVAILABLE,
            True,
        ),
        (
            botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"),
            ErrorKind.UNAVAILABLE,
            True,
        ),
        (
            botocore.exceptions.ConnectTimeoutError(endpoint_url="http://x"),
            ErrorKind.UNAVAILABLE,
            True,
        ),
        (
            botocore.exceptions.ResponseStreamingError(error="reset"),
            ErrorKind.UNAVAILABLE,
            True,
        ),
        (
            botocore.exceptions.IncompleteReadError(actual_bytes=1, expected_bytes=2),
            ErrorKind.UNAVAILABLE,
            True,
        ),
        (botocore.exceptions.NoCredentialsError(), ErrorKind.PERMISSION_DENIED, False),
        (ConnectionResetError(), ErrorKind.UNAVAILABLE, True),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_errors_are_classified(exc: Exception, kind: ErrorKind, temporary: bool) -> None:
    verdict = classify(exc)
    assert (verdict.kind, verdict.temporary) == (kind, temporary)


def test_throttling_reaches_the_caller_as_a_temporary_error(bucket: str) -> None:
    from botocore.stub import Stubber

    store = Store(S3Backend(bucket=bucket, client=offline_client()), "t")
    with Stubber(store.unwrap(BaseClient)) as stub:
        stub.add_client_error("head_object", "SlowDown", "Reduce your request rate", 503)
        with pytest.raises(BackendUnavailable) as info:
            store.is_file("x")
    assert info.value.temporary


def test_a_precondition_failure_outside_create_only_is_not_already_exists(bucket: str) -> None:
    from botocore.stub import Stubber

    store = Store(S3Backend(bucket=bucket, client=offline_client()), "t")
    with Stubber(store.unwrap(BaseClient)) as stub:
        stub.add_client_error("put_object", "PreconditionFailed", "If-Match failed", 412)
        with pytest.raises(PreconditionFailed):
            store.write("x", b"data", overwrite=True)


# ---------------------------------------------------------------- writes


def test_unknown_size_streams_through_a_multipart_upload(bucket: str) -> None:
    store = s3_store(bucket, part_size=5 * MiB, max_concurrency=2)
    chunks = [bytes([i]) * MiB for i in range(11)]
    store.write("stream.bin", iter(chunks))
    info = store.get_file_info("stream.bin")
    assert info.size == 11 * MiB
    assert info.etag is not None
    assert info.etag.endswith("-3")
    assert not info.hashes  # a multipart ETag is no MD5
    assert store.read_bytes("stream.bin") == b"".join(chunks)


def test_exactly_one_part_is_a_single_put(bucket: str) -> None:
    store = s3_store(bucket, part_size=5 * MiB)
    store.write("one.bin", b"q" * (5 * MiB))
    info = store.get_file_info("one.bin")
    assert info.etag is not None
    assert "-" not in info.etag
    assert info.hashes


@pytest.mark.parametrize(
    ("size", "parts"),
    [(5 * MiB + 1, 0), (10 * MiB, 0), (10 * MiB + 1, 3), (0, 0)],
    ids=["just-over-a-part", "at-the-cutoff", "just-over-the-cutoff", "empty"],
)
@pytest.mark.parametrize("chunk", [MiB, 3 * MiB + 7, None], ids=["1MiB", "odd", "whole"])
def test_a_known_size_up_to_the_cutoff_is_one_put(
    bucket: str, size: int, parts: int, chunk: int | None
) -> None:
    """part_size 5 MiB, 1 part in flight: the cutoff is (1 + 1) x 5 MiB; a writer told
    the size sends one PutObject up to it (an MD5 ETag), multipart above it."""
    store = s3_store(bucket, part_size=5 * MiB, max_concurrency=1)
    body = bytes(range(251)) * (size // 251) + b"z" * (size % 251)
    key = f"known-{uuid4().hex}.bin"
    with store.open_writer(key, size_hint=size) as writer:
        step = chunk or max(size, 1)
        for start in range(0, size, step):
            writer.write(body[start : start + step])
    info = store.get_file_info(key)
    assert info.etag is not None
    assert info.etag.endswith(f"-{parts}") if parts else "-" not in info.etag
    assert store.read_bytes(key) == body


@pytest.mark.parametrize("hint", [0, MiB, 10 * MiB])
def test_more_data_than_the_size_hint_turns_to_multipart(bucket: str, hint: int) -> None:
    store = s3_store(bucket, part_size=5 * MiB, max_concurrency=1)
    chunks = [bytes([i]) * (2 * MiB + i) for i in range(8)]  # 16 MiB + 28 bytes
    key = f"wrong-hint-{uuid4().hex}.bin"
    with store.open_writer(key, size_hint=hint) as writer:
        for piece in chunks:
            writer.write(piece)
    info = store.get_file_info(key)
    assert info.etag is not None
    assert "-" in info.etag
    assert store.read_bytes(key) == b"".join(chunks)
    assert not incomplete_uploads(bucket)


def test_a_create_only_put_of_known_size_keeps_the_existing_object(bucket: str) -> None:
    store = s3_store(bucket, part_size=5 * MiB)
    store.write("taken.bin", b"first")
    with pytest.raises(AlreadyExists):
        store.write("taken.bin", b"s" * (12 * MiB))  # one conditional PUT, refused
    assert store.read_bytes("taken.bin") == b"first"


def test_multipart_etag_matches_the_service(bucket: str) -> None:
    client = shared_client()
    key = f"etag-{uuid4().hex}"
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etags = [
        client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=bytes([n]) * (5 * MiB)
        )["ETag"]
        for n in (1, 2)
    ]
    parts: Any = [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), etags, strict=True)]
    done = client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
    )
    assert done["ETag"].strip('"') == multipart_etag(etags)


def test_a_retried_complete_that_already_succeeded_is_success(bucket: str) -> None:
    """The first CompleteMultipartUpload worked but its answer was lost; the retry finds no
    upload. The writer checks the object's ETag and reports success."""
    endpoint, region = settings()
    store = s3_store(
        bucket,
        client=None,
        endpoint_url=endpoint,
        region=region,
        access_key_id="k",
        secret_access_key="s",
        part_size=5 * MiB,
    )
    client: Any = store.unwrap(BaseClient)
    real = client.complete_multipart_upload

    def complete_then_lose_the_answer(**kwargs: Any) -> Any:
        real(**kwargs)
        raise client_error("NoSuchUpload", 404, "CompleteMultipartUpload")

    client.complete_multipart_upload = complete_then_lose_the_answer
    store.write("lost.bin", io.BytesIO(b"l" * (6 * MiB)))  # a stream: multipart
    assert store.read_bytes("lost.bin") == b"l" * (6 * MiB)
    store.close()


def test_metadata_and_content_type_round_trip_through_multipart(bucket: str) -> None:
    store = s3_store(bucket, part_size=5 * MiB)
    store.write(
        "meta.bin",
        io.BytesIO(b"m" * (6 * MiB)),
        content_type="application/x-test",
        metadata={"owner": "team-a"},
    )
    info = store.get_file_info("meta.bin")
    assert (info.content_type, dict(info.metadata)) == ("application/x-test", {"owner": "team-a"})


def test_metadata_s3_cannot_carry_is_refused_before_io(bucket: str) -> None:
    store = s3_store(bucket)
    with pytest.raises(StorageError, match="printable ASCII"):
        store.write("m.txt", b"x", metadata={"owner": "caf\u00e9"})
    with pytest.raises(StorageError, match="printable ASCII"):
        store.write("m.txt", b"x", metadata={"bad name": "v"})
    assert not store.exists("m.txt")


# ---------------------------------------------------------------- reads


def test_range_reads_at_the_edges(bucket: str) -> None:
    store = s3_store(bucket)
    backend = store.unwrap()
    store.write("empty", b"")
    store.write("ten", b"0123456789")
    prefix = store.root + "/"
    assert store.read_range("empty", 0, 5) == b""
    assert backend.new_reader(prefix + "ten", offset=10).read() == b""
    assert backend.new_reader(prefix + "ten", offset=99, length=3).read() == b""
    assert backend.new_reader(prefix + "ten", offset=4).read() == b"456789"
    with pytest.raises(botocore.exceptions.ClientError):
        backend.new_reader(prefix + "nothing", offset=0, length=0)


@pytest.fixture
def parallel_store(bucket: str) -> Store:
    return s3_store(bucket, read_concurrency=3, read_block_size=64 * 1024)


DATA = bytes(range(256)) * 4096  # 1 MiB: 16 blocks of 64 KiB


def test_parallel_reads_return_the_same_bytes(parallel_store: Store) -> None:
    store = parallel_store
    store.write("p.bin", DATA)
    assert store.read_bytes("p.bin") == DATA
    pieces = []
    with store.read("p.bin") as stream:
        while piece := stream.read(10_000):
            pieces.append(piece)
    assert b"".join(pieces) == DATA
    assert store.read_range("p.bin", 100_000, 300_000) == DATA[100_000:400_000]
    assert store.read_range("p.bin", len(DATA) - 5, 100) == DATA[-5:]
    with store.read_seekable("p.bin") as f:
        f.seek(500_000)
        assert f.read(200_000) == DATA[500_000:700_000]


def test_a_parallel_read_never_mixes_two_versions(parallel_store: Store) -> None:
    store = parallel_store
    store.write("v.bin", DATA)
    with store.read("v.bin") as stream:
        stream.read(1000)
        store.write("v.bin", DATA[::-1], overwrite=True)
        with pytest.raises(PreconditionFailed):
            while stream.read(64 * 1024):
                pass


def test_closing_a_parallel_read_early_is_clean(parallel_store: Store) -> None:
    store = parallel_store
    store.write("c.bin", DATA)
    stream = store.read("c.bin")
    assert stream.read(10) == DATA[:10]
    stream.close()
    assert stream.closed


def test_missing_keys_are_not_found_on_every_read_path(parallel_store: Store) -> None:
    with pytest.raises(NotFound):
        parallel_store.read_bytes("ghost")
    with pytest.raises(NotFound):
        parallel_store.read_range("ghost", 10, 10)


# ---------------------------------------------------------------- listing, stat


def test_folder_markers_are_skipped_and_sub_folders_listed(bucket: str) -> None:
    store = s3_store(bucket)
    root = store.root + "/"
    for key in ("dir/", "dir/a.txt", "dir/sub/", "dir/sub/b.txt", "empty-folder/"):
        shared_client().put_object(Bucket=bucket, Key=root + key, Body=b"")
    assert sorted(i.path for i in store.list_files(recursive=True)) == [
        "dir/a.txt",
        "dir/sub/b.txt",
    ]
    assert sorted(store.list_folders("dir")) == ["dir/sub"]
    shallow = list(store.unwrap().list(root + "dir/", recursive=False))
    assert sorted((i.path, i.is_dir) for i in shallow) == [
        (root + "dir/a.txt", False),
        (root + "dir/sub", True),
    ]
    assert not store.is_file("dir")


def test_stat_and_listing_agree(bucket: str) -> None:
    store = s3_store(bucket)
    store.write("s.txt", b"abc")
    stat = store.get_file_info("s.txt")
    (listed,) = store.list_files()
    assert (stat.size, stat.modified, stat.etag) == (listed.size, listed.modified, listed.etag)
    assert stat.modified is not None
    assert stat.modified.utcoffset() is not None
    assert stat.hashes[HashType.MD5] == "900150983cd24fb0d6963f7d28e17f72"


# ---------------------------------------------------------------- copies, deletes


def test_multipart_copy_keeps_content_and_metadata(bucket: str) -> None:
    store = s3_store(bucket, part_size=5 * MiB, multipart_copy_threshold=5 * MiB)
    data = bytes(range(256)) * (12 * 4096)  # 12 MiB: three copied parts
    store.write("src.bin", data, content_type="application/x-big", metadata={"k": "v"})
    store.copy("src.bin", "dst.bin")
    info = store.get_file_info("dst.bin")
    assert (info.size, info.content_type, dict(info.metadata)) == (
        len(data),
        "application/x-big",
        {"k": "v"},
    )
    assert info.etag is not None
    assert info.etag.endswith("-3")
    assert store.read_bytes("dst.bin") == data
    with pytest.raises(AlreadyExists):
        store.copy("src.bin", "dst.bin")
    store.copy("src.bin", "dst.bin", overwrite=True)
    assert incomplete_uploads(bucket, store.root + "/") == []


def test_delete_many_batches_by_1000(bucket: str) -> None:
    store = s3_store(bucket)
    backend: Any = store.unwrap()
    calls: list[int] = []
    client = store.unwrap(BaseClient)

    def count(params: Any, **_: Any) -> None:
        calls.append(len(params["Delete"]["Objects"]))

    client.meta.events.register("before-parameter-build.s3.DeleteObjects", count)
    try:
        store.write("keep/a", b"a")
        backend.delete_many([f"{store.root}/gone/{i}" for i in range(2500)])
        assert calls == [1000, 1000, 500]
        assert object_keys(bucket, store.root + "/") == [store.root + "/keep/a"]
    finally:
        client.meta.events.unregister("before-parameter-build.s3.DeleteObjects", count)


def test_per_key_delete_errors_raise(bucket: str) -> None:
    from botocore.stub import Stubber

    store = Store(S3Backend(bucket=bucket, client=offline_client()), "t")
    with Stubber(store.unwrap(BaseClient)) as stub:
        # No file "d" (S3 declares MKDIR: the folder check looks for a file first).
        stub.add_client_error("head_object", service_error_code="404", http_status_code=404)
        stub.add_response(
            "list_objects_v2",
            {"Contents": [{"Key": "t/d/a", "Size": 1}], "IsTruncated": False, "KeyCount": 1},
        )
        stub.add_response(
            "list_objects_v2",
            {"Contents": [{"Key": "t/d/a", "Size": 1}], "IsTruncated": False, "KeyCount": 1},
        )
        stub.add_response(
            "delete_objects",
            {"Errors": [{"Key": "t/d/a", "Code": "AccessDenied", "Message": "no"}]},
        )
        with pytest.raises(PermissionDenied, match="AccessDenied"):
            store.delete_folder("d", recursive=True)


def test_a_server_that_ignores_range_still_gives_the_slice() -> None:
    from botocore.response import StreamingBody
    from botocore.stub import Stubber

    data = b"0123456789"
    client = offline_client()
    backend = S3Backend(bucket="b", client=client)
    with Stubber(client) as stub:
        stub.add_response(
            "get_object",
            {"Body": StreamingBody(io.BytesIO(data), len(data)), "ContentLength": len(data)},
            {"Bucket": "b", "Key": "k", "Range": "bytes=3-6"},
        )
        assert backend.new_reader("k", offset=3, length=4).read() == b"3456"
    assert backend.as_native(BaseClient) is client


# ---------------------------------------------------------------- listing timestamps


@given(
    when=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
    ),
    spelling=st.sampled_from(
        ["%Y-%m-%dT%H:%M:%S.{ms}Z", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"]
    ),
)
def test_listing_timestamps_parse_as_botocore_parses_them(when: datetime, spelling: str) -> None:
    text = when.strftime(spelling.replace("{ms}", f"{when.microsecond // 1000:03d}"))
    ours = parse_timestamp(text)
    assert ours == botocore_parse_timestamp(text)  # the same instant
    assert ours.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    [
        "Mon, 23 Nov 2026 21:43:17 GMT",  # an HTTP date (HeadObject's Last-Modified)
        "2026-11-23T21:43:17+01:00",
        "2026-11-23T21:43:17+01:00Z",  # an offset and a Z: not read as UTC by us
        "1795470197",
    ],
)
def test_other_timestamps_go_to_botocore(text: str) -> None:
    try:
        expected = botocore_parse_timestamp(text)
    except ValueError:
        with pytest.raises(ValueError, match="Invalid timestamp"):
            parse_timestamp(text)
        return
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text", ["2026-13-45T99:99:99.000Z", "not a timeZ", "Z"])
def test_a_malformed_timestamp_raises_as_botocore_does(text: str) -> None:
    with pytest.raises(ValueError, match="Invalid timestamp"):
        botocore_parse_timestamp(text)
    with pytest.raises(ValueError, match="Invalid timestamp"):
        parse_timestamp(text)


def test_a_built_client_lists_modified_times_in_utc(bucket: str) -> None:
    endpoint, region = settings()
    store = s3_store(
        bucket,
        client=None,
        endpoint_url=endpoint,
        region=region,
        access_key_id="k",
        secret_access_key="s",
    )
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)
    store.write("timed.bin", b"t")
    (listed,) = store.list_files("", recursive=True)
    assert listed.modified is not None
    assert listed.modified.utcoffset() == timedelta(0)
    assert before <= listed.modified <= datetime.now(UTC) + timedelta(seconds=2)
    assert listed.modified == store.get_file_info("timed.bin").modified
    store.close()
