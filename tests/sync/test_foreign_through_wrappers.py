"""A foreign name on a real server, seen through a mirror or composite tiers, is counted
by sync like one of its own: an error of the run, and no destination file is deleted.

Each server gets the name from its own SDK or file system, the way another tool would
write it (a tab, a backslash, an empty segment …: names the key grammar refuses).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.composite import CompositeStore, Tier
from omnistorage.multi import MirrorBackend
from omnistorage.sync import sync
from tests.support.remote import azure_store, gcs_store, s3_store, sftp_store, wipe
from tests.sync.support import contents, fill

FILES = {"a.txt": b"alpha", "d/b.txt": b"beta"}


def plant_local(store: Store, name: str) -> None:
    folder = Path(store.unwrap(LocalBackend).root, store.root)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(b"foreign")


def plant_s3(store: Store, name: str) -> None:
    from botocore.client import BaseClient

    client = store.unwrap(BaseClient)
    bucket = store.unwrap().bucket  # type: ignore[attr-defined]
    client.put_object(Bucket=bucket, Key=f"{store.root}/{name}", Body=b"foreign")


def plant_gcs(store: Store, name: str) -> None:
    from google.cloud.storage import Bucket

    store.unwrap(Bucket).blob(f"{store.root}/{name}").upload_from_string(b"foreign")


def plant_azure(store: Store, name: str) -> None:
    from azure.storage.blob import ContainerClient

    store.unwrap(ContainerClient).upload_blob(f"{store.root}/{name}", b"foreign")


def plant_sftp(store: Store, name: str) -> None:
    import paramiko

    backend = store.unwrap()
    sftp = store.unwrap(paramiko.SFTPClient)
    try:
        with sftp.open(f"{backend.root}/{name}", "wb") as handle:  # type: ignore[attr-defined]
            handle.write(b"foreign")
    finally:
        sftp.close()


Server = tuple[Callable[[Path], Store], Callable[[Store, str], None], str]

SERVERS: dict[str, Server] = {
    "local": (lambda p: Store(LocalBackend(p / "local")), plant_local, "tab\there.txt"),
    "s3": (lambda p: s3_store(), plant_s3, "a//b.txt"),
    "gcs": (lambda p: gcs_store(), plant_gcs, "tab\there.txt"),
    "azure": (lambda p: azure_store(), plant_azure, "tab\there.txt"),
    "sftp": (lambda p: sftp_store(), plant_sftp, "back\\slash.txt"),
}


@pytest.fixture(params=sorted(SERVERS))
def planted(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, str]]:
    make, plant, name = SERVERS[request.param]
    if request.param != "local":
        request.applymarker(pytest.mark.server)
    store = make(tmp_path)
    fill(store, FILES)
    plant(store, name)
    yield store, name
    wipe(store)


def wrapped(kind: str, store: Store) -> Store:
    other = Store(MemoryBackend())
    fill(other, FILES)
    if kind == "mirror":
        return Store(MirrorBackend([store, other]))
    return CompositeStore([Tier("hot", store), Tier("cold", other)])


@pytest.mark.parametrize("kind", ["plain", "mirror", "composite"])
def test_a_foreign_name_seen_through_a_wrapper_blocks_every_delete(
    kind: str, planted: tuple[Store, str]
) -> None:
    store, name = planted
    source = store if kind == "plain" else wrapped(kind, store)
    dst = Store(MemoryBackend())
    fill(dst, {"extra.txt": b"must survive", "a.txt": b"stale, older"})
    report = sync(source, dst)
    assert not report.ok
    assert any(name in (e.path or "") + e.error for e in report.errors), report.errors
    assert report.deleted == []
    assert dst.read_bytes("extra.txt") == b"must survive"
    assert contents(dst)["a.txt"] == b"alpha"  # transfers still ran


@pytest.mark.parametrize("kind", ["mirror", "composite"])
def test_a_foreign_name_on_a_wrapped_destination_blocks_deletes(
    kind: str, planted: tuple[Store, str]
) -> None:
    store, _ = planted
    destination = wrapped(kind, store)
    src = Store(MemoryBackend())
    fill(src, {"a.txt": b"alpha"})
    report = sync(src, destination)
    assert not report.ok
    assert report.deleted == []
    assert store.exists("d/b.txt")
