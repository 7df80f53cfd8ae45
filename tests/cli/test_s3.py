"""The real command against S3 (the moto server): objects, trees, records, cleanup, profiles
with secrets from the environment."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from omnistorage.records import open_reader
from tests.cli.conftest import Isolation, ProcessRunner, S3Place

pytestmark = pytest.mark.server


def test_cp_up_ls_and_cat_back(run: ProcessRunner, s3: S3Place, tmp_path: Path) -> None:
    data = os.urandom(7 << 20)  # multipart at the default part size
    (tmp_path / "blob.bin").write_bytes(data)
    run("cp", str(tmp_path / "blob.bin"), s3.url("up/"), env=s3.env)
    listing = run("ls", "-lR", s3.url(), env=s3.env).stdout.decode().split()
    assert listing[0] == str(len(data))
    assert listing[-1] == "up/blob.bin"
    assert run("cat", s3.url("up/blob.bin"), env=s3.env).stdout == data


def test_get_downloads_and_mv_moves_server_side(
    run: ProcessRunner, s3: S3Place, tmp_path: Path
) -> None:
    s3.store.write("a/report.csv", b"x,y\n")
    run("get", s3.url("a/report.csv"), str(tmp_path), env=s3.env)
    assert (tmp_path / "report.csv").read_bytes() == b"x,y\n"
    report = json.loads(
        run("mv", "--json", s3.url("a/report.csv"), s3.url("b/"), env=s3.env).stdout
    )
    assert report["moved"][0]["server_side"] is True
    assert s3.store.read_bytes("b/report.csv") == b"x,y\n"
    assert not s3.store.exists("a/report.csv")


def test_sync_to_s3_then_check_exit_codes(run: ProcessRunner, s3: S3Place, tmp_path: Path) -> None:
    src = tmp_path / "site"
    (src / "css").mkdir(parents=True)
    (src / "index.html").write_bytes(b"<h1>hi</h1>")
    (src / "css" / "a.css").write_bytes(b"body{}")
    run("sync", str(src), s3.url("www"), env=s3.env)
    run("check", str(src), s3.url("www"), env=s3.env)
    s3.store.write("www/css/a.css", b"body{x}", overwrite=True)
    result = run("check", str(src), s3.url("www"), env=s3.env, expect=3)
    assert result.stdout.decode().splitlines() == ["* css/a.css"]


def test_records_convert_from_local_csv_gz_to_s3_ndjson_zst(
    run: ProcessRunner, s3: S3Place, tmp_path: Path
) -> None:
    rows = "id,name\n" + "".join(f"{i},n{i}\n" for i in range(300))
    (tmp_path / "in.csv.gz").write_bytes(gzip.compress(rows.encode()))
    run(
        "records", "convert", str(tmp_path / "in.csv.gz"), s3.url("out/rows.ndjson.zst"), env=s3.env
    )
    with open_reader(s3.store, "out/rows.ndjson.zst") as records:
        assert list(records) == [{"id": str(i), "name": f"n{i}"} for i in range(300)]
    count = run("records", "count", s3.url("out/rows.ndjson.zst"), env=s3.env).stdout
    assert count.decode().split("\t")[0] == "300"


def test_cleanup_aborts_incomplete_multipart_uploads(run: ProcessRunner, s3: S3Place) -> None:
    client = s3.client()
    client.create_multipart_upload(  # type: ignore[attr-defined]
        Bucket=s3.bucket, Key=f"{s3.store.root}/crashed.bin"
    )
    assert s3.open_uploads() == [f"{s3.store.root}/crashed.bin"]
    report = json.loads(run("cleanup", "--older-than", "0", "--json", s3.url(), env=s3.env).stdout)
    assert [item["kind"] for item in report["removed"]] == ["multipart-upload"]
    assert s3.open_uploads() == []


def test_features_of_s3_declare_md5(run: ProcessRunner, s3: S3Place) -> None:
    document = json.loads(run("features", "--json", s3.url(), env=s3.env).stdout)
    entry = next(iter(document.values()))
    assert entry["backend"] == "s3"
    assert entry["hash_types"] == ["md5"]
    assert "conditional_write" in entry["capabilities"]


KEY_ID = "AKIACLITESTKEYID0001"
SECRET = "cli-test-secret-value-that-must-never-show"


def test_a_profile_with_secrets_from_the_environment_works_and_never_prints_them(
    run: ProcessRunner, s3: S3Place, isolation: Isolation, tmp_path: Path
) -> None:
    isolation.config(
        f"""
[backends.cloud]
type = "s3"

[backends.cloud.options]
bucket = "{s3.bucket}"
endpoint_url = "{s3.endpoint}"
region = "{s3.region}"
access_key_id = "${{CLI_KEY_ID}}"
secret_access_key = "${{CLI_SECRET}}"

[stores.site]
backend = "cloud"
root_path = "{s3.store.root}"
"""
    )
    env = {"CLI_KEY_ID": KEY_ID, "CLI_SECRET": SECRET}
    (tmp_path / "f.txt").write_bytes(b"via profile")
    outputs = [
        run("-vv", "cp", str(tmp_path / "f.txt"), "site:p/f.txt", env=env),
        run("-vv", "ls", "-lR", "site:", env=env),
        run("-vv", "cat", "site:p/f.txt", env=env),
        run("-vv", "cat", "site:p/missing.txt", env=env, expect=1),
        run("config", "show", env=env),
        run("config", "show", "--json", env=env),
    ]
    assert outputs[2].stdout == b"via profile"
    assert b"DEBUG" in outputs[0].stderr  # the SDK did log, scrubbed
    for result in outputs:
        for secret in (SECRET, KEY_ID):
            assert secret.encode() not in result.stdout + result.stderr
    assert s3.store.read_bytes("p/f.txt") == b"via profile"


def test_records_count_over_a_glob_url_with_a_query(run: ProcessRunner, s3: S3Place) -> None:
    from omnistorage.records import RollingRecordWriter

    with RollingRecordWriter(
        s3.store, "logs/{stream}-{seq:06d}.ndjson.zst", stream="api", max_records=10
    ) as log:
        for i in range(35):
            log.write({"i": i})
    url = s3.url("logs/api-*.ndjson.zst")  # '?endpoint_url=…' follows the glob
    lines = run("records", "count", url, env=s3.env).stdout.decode().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["10", "10", "10", "5", "35"]


def test_verbose_lists_each_file_and_keeps_sdk_logs_for_double_verbose(
    run: ProcessRunner, s3: S3Place, tmp_path: Path
) -> None:
    src = tmp_path / "site"
    src.mkdir()
    (src / "a.txt").write_bytes(b"a")
    (src / "b.txt").write_bytes(b"b")
    first = run("-v", "sync", src.as_posix(), s3.url("www"), env=s3.env).stderr.decode()
    lines = first.splitlines()
    assert "INFO  : a.txt: Copied (new)" in lines
    assert "INFO  : b.txt: Copied (new)" in lines
    assert "botocore" not in first
    assert "urllib3" not in first
    (src / "a.txt").write_bytes(b"A")
    (src / "b.txt").unlink()
    second = run("-v", "sync", src.as_posix(), s3.url("www"), env=s3.env).stderr.decode()
    assert "INFO  : a.txt: Copied (replaced existing)" in second.splitlines()
    assert "INFO  : b.txt: Deleted" in second.splitlines()
    quiet = run("sync", src.as_posix(), s3.url("www"), env=s3.env).stderr.decode()
    assert "INFO" not in quiet
    debug = run("-vv", "ls", s3.url(), env=s3.env).stderr.decode()
    assert "DEBUG botocore" in debug
    assert "testing" not in debug  # the keys (from the environment) are scrubbed
