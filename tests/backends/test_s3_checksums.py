"""GetObject checksums (issue 26, item 1): what other tools upload downloads, and the
``FlexibleChecksumError`` seen after rclone touched our multipart objects is moto's.

botocore (>= 1.36, ``response_checksum_validation="when_supported"``) asks for the
object's checksum on every GetObject and checks the bytes of a whole-object read
against it; a multipart object's *composite* checksum (a checksum of the parts'
checksums) comes as ``<value>-<parts>`` with ``x-amz-checksum-type: COMPOSITE``, which
botocore does not check against the bytes. The reader keeps that validation: it is an
end-to-end check of every byte S3 sends.

**Emulator quirk (moto 5.x, not S3).** moto's ``CopyObject`` keeps the source's
checksum value but drops its type and part count (``copy_object`` in
``moto/s3/models.py`` copies ``checksum_value`` and ``checksum_algorithm`` only). A
metadata-replacing copy of a multipart object (what rclone does to update an S3 mtime,
or ``rclone touch``) then serves the composite value as if it were the whole object's
CRC32, and every full GetObject of it fails validation, though its bytes are intact. On
S3 the copy's checksum is consistent (recomputed for the whole object, or still
qualified as composite). We do not switch validation off for it: the reader raises a
typed, temporary :class:`~omnistorage.errors.CorruptDataError` and nothing partial is
published by a sync.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from omnistorage import LocalBackend, Store
from omnistorage.backends.s3 import S3Backend
from omnistorage.errors import CorruptDataError
from omnistorage.sync import Filters, sync
from tests.support.remote import s3_store, wipe
from tests.support.servers import server_env
from tests.sync.conftest import rclone
from tests.sync.test_rclone_oracle import moto_env, remote

pytestmark = pytest.mark.server

MiB = 1 << 20
DATA = os.urandom(12 * MiB)  # above every part size used below


def client(**config: Any) -> Any:
    env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
    return boto3.client(
        "s3",
        endpoint_url=env["OMNI_TEST_S3_ENDPOINT"],
        region_name=env["OMNI_TEST_S3_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(**config),
    )


@pytest.fixture
def s3() -> Iterator[Store]:
    store = s3_store()
    yield store
    wipe(store)


def native(store: Store, path: str) -> tuple[str, str]:
    backend = store.unwrap(S3Backend)
    return backend._bucket, f"{store.root}/{path}"


def checksum_headers(store: Store, path: str) -> dict[str, str]:
    """The ``x-amz-checksum-*`` headers of a GetObject asking for checksums (body unread)."""
    bucket, key = native(store, path)
    response = client().get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    response["Body"].close()
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    return {k: v for k, v in headers.items() if k.startswith("x-amz-checksum-")}


def raw_bytes(store: Store, path: str) -> bytes:
    """The stored bytes, read without asking for (or checking) any checksum."""
    bucket, key = native(store, path)
    quiet = client(response_checksum_validation="when_required")
    data: bytes = quiet.get_object(Bucket=bucket, Key=key)["Body"].read()
    return data


def _boto3_multipart(store: Store, path: str, _: Path) -> None:
    bucket, key = native(store, path)
    parts = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    # A composite CRC32 over 5 MiB parts, as boto3 uploads.
    client().upload_fileobj(io.BytesIO(DATA), bucket, key, Config=parts)


def _put_with(algorithm: str) -> Callable[[Store, str, Path], None]:
    def put(store: Store, path: str, _: Path) -> None:
        bucket, key = native(store, path)
        client().put_object(Bucket=bucket, Key=key, Body=DATA, ChecksumAlgorithm=algorithm)

    return put


def _rclone(*flags: str) -> Callable[[Store, str, Path], None]:
    def upload(store: Store, path: str, tmp: Path) -> None:
        (tmp / "up.bin").write_bytes(DATA)
        rclone("copyto", str(tmp / "up.bin"), f"{remote(store)}/{path}", *flags, env=moto_env())

    return upload


def _ours(store: Store, path: str, _: Path) -> None:
    store.write(path, io.BytesIO(DATA))  # a stream (size unknown): multipart, CRC32 per part


def _our_copy(store: Store, path: str, _: Path) -> None:
    store.write("copy-source.bin", DATA)
    store.copy("copy-source.bin", path)  # CopyObject asking for a fresh CRC32


def _copy_with_checksum(store: Store, path: str, _: Path) -> None:
    _boto3_multipart(store, "src.bin", _)
    bucket, key = native(store, path)
    client().copy_object(
        Bucket=bucket,
        Key=key,
        CopySource={"Bucket": bucket, "Key": native(store, "src.bin")[1]},
        ChecksumAlgorithm="CRC32",
    )


WRITERS = {
    "boto3 upload_fileobj, multipart": _boto3_multipart,
    "boto3 put_object CRC32": _put_with("CRC32"),
    "boto3 put_object SHA1": _put_with("SHA1"),
    "boto3 put_object SHA256": _put_with("SHA256"),
    "rclone, multipart": _rclone("--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"),
    "rclone, one part": _rclone(),
    "omnistorage, multipart": _ours,
    "omnistorage server-side copy": _our_copy,
    "CopyObject with a new checksum": _copy_with_checksum,
}


@pytest.mark.parametrize("writer", list(WRITERS))
@pytest.mark.parametrize("read_concurrency", [1, 4])
def test_objects_other_tools_uploaded_download(
    s3: Store, tmp_path: Path, writer: str, read_concurrency: int
) -> None:
    WRITERS[writer](s3, "obj.bin", tmp_path)
    backend = S3Backend(bucket=native(s3, "")[0], read_concurrency=read_concurrency, **_options())
    reader = Store(backend, s3.root)
    assert reader.read_bytes("obj.bin") == DATA
    with reader.read("obj.bin") as stream:  # streamed in small pieces, to the end
        assert b"".join(iter(lambda: stream.read(100_000), b"")) == DATA
    back = Store(LocalBackend(tmp_path / "down"))
    report = sync(reader, back, filters=Filters.include("obj.bin"))
    assert report.ok, report.errors
    assert back.read_bytes("obj.bin") == DATA
    backend.close()


def _options() -> dict[str, Any]:
    env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
    return {
        "endpoint_url": env["OMNI_TEST_S3_ENDPOINT"],
        "region": env["OMNI_TEST_S3_REGION"],
        "access_key_id": "testing",
        "secret_access_key": "testing",
    }


def test_moto_serves_a_copied_composite_checksum_as_a_whole_object_one(
    s3: Store, tmp_path: Path
) -> None:
    """The emulator quirk of the module docstring, shown step by step."""
    s3.write("m.bin", io.BytesIO(DATA))  # our multipart upload: composite CRC32, two parts
    before = checksum_headers(s3, "m.bin")
    assert before["x-amz-checksum-type"] == "COMPOSITE"
    assert before["x-amz-checksum-crc32"].endswith("-2")
    assert s3.read_bytes("m.bin") == DATA

    # What rclone does to set an S3 mtime: CopyObject onto itself, metadata replaced.
    rclone("touch", "-t", "2020-01-02T03:04:05", f"{remote(s3)}/m.bin", env=moto_env())
    assert s3.get_file_info("m.bin").metadata["mtime"] == "1577934245"
    after = checksum_headers(s3, "m.bin")
    # moto: the composite value kept, its "-2" and its type gone.
    assert after.get("x-amz-checksum-crc32") == before["x-amz-checksum-crc32"].removesuffix("-2")
    assert "x-amz-checksum-type" not in after
    # The bytes are intact: read without a checksum, and by rclone (which checks none).
    assert raw_bytes(s3, "m.bin") == DATA
    rclone("copyto", f"{remote(s3)}/m.bin", str(tmp_path / "cat.bin"), env=moto_env())
    assert (tmp_path / "cat.bin").read_bytes() == DATA

    # Our reader refuses them, typed and temporary, naming the mismatch.
    with pytest.raises(CorruptDataError, match="do not match their checksum") as caught:
        s3.read_bytes("m.bin")
    assert caught.value.temporary
    assert caught.value.path == "m.bin"
    # A sync reports it and publishes nothing.
    back = Store(LocalBackend(tmp_path / "down"))
    report = sync(s3, back, retries=1, retry_backoff=0)
    assert [(e.path, e.type) for e in report.errors] == [("m.bin", "CorruptDataError")]
    assert list(back.list_files(recursive=True)) == []
    assert not any((tmp_path / "down").rglob("*"))  # no temp file either
