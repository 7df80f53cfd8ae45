"""A backup that fails keeps the file: never an overwrite or a delete without its backup.

Each way a backup store can refuse a file (a missing bucket on a real S3 server, a
folder removed under a local store, a refused permission, any other error) is tried on
each write path a backup takes: streamed to another backend, copied server-side and
moved server-side on the destination's own backend.
"""

from __future__ import annotations

import errno
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.driver import Backend, WriteOptions, Writer
from omnistorage.ext import Layer
from omnistorage.sync import copy_file, execute, plan, sync
from tests.support.remote import s3_store, wipe
from tests.support.servers import server_env
from tests.sync.support import contents, fill

OLD = {"same": b"s", "changed": b"old bytes", "gone": b"extra on the destination"}
NEW = {"same": b"s", "changed": b"new bytes!"}


class RefusingLayer(Layer):
    """Raises ``error()`` for every write, copy or move whose target lies under ``prefix``
    (fault injection: how a backup folder refuses files)."""

    def __init__(self, inner: Backend, prefix: str, error: Callable[[], Exception]) -> None:
        super().__init__(inner)
        self.prefix = prefix
        self.error = error

    def _refuse(self, key: str) -> None:
        if key.startswith(self.prefix):
            raise self.error()

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        self._refuse(key)
        return super().new_writer(key, options)

    def copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._refuse(dst)
        super().copy(src, dst, overwrite=overwrite)

    def move(self, src: str, dst: str, *, overwrite: bool) -> None:
        self._refuse(dst)
        super().move(src, dst, overwrite=overwrite)


def not_found() -> Exception:
    return FileNotFoundError(errno.ENOENT, "no such folder")


def denied() -> Exception:
    return PermissionError(errno.EACCES, "permission denied")


def broken() -> Exception:
    return OSError(errno.EIO, "input/output error")


def assert_nothing_lost(report: object, dst: Store) -> None:
    assert not report.ok  # type: ignore[attr-defined]
    assert report.deleted == []  # type: ignore[attr-defined]
    assert any(e.op == "backup" or "backup" in e.error for e in report.errors)  # type: ignore[attr-defined]
    held = contents(dst)
    assert held["gone"] == OLD["gone"]
    assert held["changed"] == OLD["changed"]


@pytest.mark.parametrize("error", [not_found, denied, broken], ids=["notfound", "denied", "eio"])
@pytest.mark.parametrize("same_backend", [True, False], ids=["server-side", "streamed"])
def test_a_refused_backup_keeps_the_file_on_every_write_path(
    error: Callable[[], Exception], same_backend: bool
) -> None:
    src = Store(MemoryBackend())
    fill(src, NEW)
    if same_backend:  # backups are server-side copies (update) and moves (delete)
        layer = RefusingLayer(MemoryBackend(), "backup/", error)
        dst, backup = Store(layer, "dst"), Store(layer, "backup")
    else:  # backups are streamed to another backend
        dst = Store(MemoryBackend())
        backup = Store(RefusingLayer(MemoryBackend(), "", error))
    fill(dst, OLD)
    report = sync(src, dst, backup_dir=backup, retries=0)
    assert_nothing_lost(report, dst)
    assert contents(backup) == {}


def test_a_backup_folder_removed_under_a_local_store_keeps_the_file(
    tmp_path: Path,
) -> None:
    src = Store(LocalBackend(tmp_path / "src"))
    dst = Store(LocalBackend(tmp_path / "dst"))
    backup = Store(LocalBackend(tmp_path / "backup"))
    fill(src, NEW)
    fill(dst, OLD)
    shutil.rmtree(tmp_path / "backup")  # the backup store's folder is gone
    report = sync(src, dst, backup_dir=backup, retries=0)
    assert_nothing_lost(report, dst)


@pytest.mark.server
def test_a_backup_into_a_missing_s3_bucket_keeps_the_file() -> None:
    from omnistorage.backends.s3 import S3Backend

    env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
    missing = Store(
        S3Backend(
            bucket=f"missing-{uuid.uuid4().hex[:20]}",
            endpoint_url=env["OMNI_TEST_S3_ENDPOINT"],
            region=env["OMNI_TEST_S3_REGION"],
            access_key_id="testing",
            secret_access_key="testing",
        )
    )
    src, dst = Store(MemoryBackend()), s3_store()
    try:
        fill(src, NEW)
        fill(dst, OLD)
        report = sync(src, dst, backup_dir=missing, retries=0)
        assert_nothing_lost(report, dst)
    finally:
        wipe(dst)
        missing.close()


def test_a_file_gone_before_its_backup_is_not_reported_deleted() -> None:
    src, dst, backup = Store(MemoryBackend()), Store(MemoryBackend()), Store(MemoryBackend())
    fill(dst, {"gone": b"x"})
    made = plan(src, dst)
    dst.delete("gone")  # removed by someone else between the plan and its execution
    report = execute(made, backup_dir=backup)
    assert report.ok, report.errors
    assert report.deleted == []
    assert report.skipped.get("not deleted: gone before its backup") == 1


@pytest.mark.parametrize("error", [not_found, denied], ids=["notfound", "denied"])
def test_copy_file_with_a_refused_backup_does_not_overwrite(
    error: Callable[[], Exception],
) -> None:
    src, dst = Store(MemoryBackend()), Store(MemoryBackend())
    backup = Store(RefusingLayer(MemoryBackend(), "", error))
    src.write("f", b"new")
    dst.write("f", b"old")
    report = copy_file(src, "f", dst, "f", backup_dir=backup, retries=0)
    assert not report.ok
    assert dst.read_bytes("f") == b"old"
