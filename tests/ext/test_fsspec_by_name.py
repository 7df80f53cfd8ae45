"""``omni+SCHEME`` filesystems by name, as ``fsspec.filesystem("s3")`` works: storage
options, fsspec's instance cache, pickling by options, and DuckDB's
``register_filesystem`` with real queries over moto."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest

from omnistorage import BucketNotFound, MemoryBackend, Store
from omnistorage.ext.fsspec import BY_NAME, OmniFileSystem, OmniS3FileSystem
from tests.support import remote
from tests.support.servers import server_env

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def s3() -> Iterator[tuple[Store, dict[str, Any], str]]:
    """A folder in the moto bucket, the storage options that reach it, and its
    ``bucket/root`` path."""
    env = server_env("OMNI_TEST_S3_ENDPOINT", "OMNI_TEST_S3_REGION")
    store = remote.s3_store()
    options = {
        "endpoint_url": env["OMNI_TEST_S3_ENDPOINT"],
        "region": env["OMNI_TEST_S3_REGION"],
        "access_key_id": "testing",
        "secret_access_key": "testing",
    }
    try:
        yield store, options, f"{remote.S3_BUCKET}/{store.root}"
    finally:
        remote.wipe(store)
        OmniS3FileSystem.clear_instance_cache()


@pytest.mark.server
def test_a_filesystem_by_name_reads_omni_s3_urls_and_bucket_paths(
    s3: tuple[Store, dict[str, Any], str],
) -> None:
    store, options, base = s3
    store.write("raw/orders.csv", b"id,amount\n1,2.5\n")
    fs = fsspec.filesystem("omni+s3", **options)
    assert isinstance(fs, OmniS3FileSystem)
    assert fs.exists(f"omni+s3://{base}/raw/orders.csv")
    assert fs.exists(f"{base}/raw/orders.csv")
    assert not fs.exists(f"{base}/raw/nothing.csv")
    assert fs.info(f"omni+s3://{base}/raw/orders.csv")["size"] == 16
    assert fs.cat_file(f"{base}/raw/orders.csv") == b"id,amount\n1,2.5\n"
    assert fs.ls(f"omni+s3://{base}/raw", detail=False) == [f"{base}/raw/orders.csv"]
    with fsspec.open(f"omni+s3://{base}/out/new.txt", "wb", **options) as out:
        out.write(b"published on close")
    assert store.read_bytes("out/new.txt") == b"published on close"


@pytest.mark.server
def test_a_missing_bucket_raises_by_name_instead_of_answering_false(
    s3: tuple[Store, dict[str, Any], str],
) -> None:
    _, options, _ = s3
    fs = fsspec.filesystem("omni+s3", **options)
    with pytest.raises(BucketNotFound, match="typo-bucket-0f3"):
        fs.exists("omni+s3://typo-bucket-0f3/raw/orders.csv")


def test_instances_are_cached_as_fsspec_caches_them() -> None:
    name = f"cache-{os.getpid()}"
    first = fsspec.filesystem("omni+memory")
    assert fsspec.filesystem("omni+memory") is first
    assert fsspec.core.url_to_fs(f"omni+memory://{name}/a.txt")[0] is first
    assert fsspec.open(f"omni+memory://{name}/a.txt").fs is first
    assert fsspec.filesystem("omni+memory", skip_instance_cache=True) is not first
    seen: list[Any] = []
    worker = threading.Thread(target=lambda: seen.append(fsspec.filesystem("omni+memory")))
    worker.start()
    worker.join()
    assert seen[0] is not first  # fsspec keys sync filesystems by thread too
    type(first).clear_instance_cache()
    assert fsspec.filesystem("omni+memory") is not first


@pytest.mark.server
def test_different_options_are_different_instances_and_stores_are_reused(
    s3: tuple[Store, dict[str, Any], str],
) -> None:
    store, options, base = s3
    store.write("k.txt", b"k")
    fs = fsspec.filesystem("omni+s3", **options)
    assert fsspec.filesystem("omni+s3", **{**options, "read_concurrency": 2}) is not fs
    fs.cat_file(f"{base}/k.txt")
    backend = fs._opened[remote.S3_BUCKET].unwrap()
    again, _ = fsspec.core.url_to_fs(f"omni+s3://{base}/k.txt", **options)
    again.cat_file(f"{base}/k.txt")
    assert again._opened[remote.S3_BUCKET].unwrap() is backend  # one client, reused


def test_filesystems_over_live_stores_are_never_shared() -> None:
    a = OmniFileSystem(Store(MemoryBackend()))
    b = OmniFileSystem(Store(MemoryBackend()))
    assert a is not b
    a.pipe_file("x", b"in a")
    assert not b.exists("x")
    with pytest.raises(TypeError, match="by URL"):
        OmniS3FileSystem(store=Store(MemoryBackend()))


@pytest.mark.server
def test_a_filesystem_by_name_pickles_as_its_options(
    s3: tuple[Store, dict[str, Any], str], tmp_path: Path
) -> None:
    store, options, base = s3
    store.write("p.txt", b"read in another process")
    fs = fsspec.filesystem("omni+s3", **options)
    assert pickle.loads(pickle.dumps(fs)) is fs  # the same options: the cached instance
    (tmp_path / "fs.pickle").write_bytes(pickle.dumps(fs))
    code = (
        "import pickle, sys; "
        f"fs = pickle.loads(open({str(tmp_path / 'fs.pickle')!r}, 'rb').read()); "
        f"sys.stdout.buffer.write(fs.cat_file({base + '/p.txt'!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, cwd=REPO, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"read in another process"


@pytest.mark.server
def test_duckdb_queries_omni_s3_through_register_filesystem(
    s3: tuple[Store, dict[str, Any], str],
) -> None:
    duckdb = pytest.importorskip("duckdb")
    store, options, base = s3
    store.write("etl/raw/orders-1.csv", b"id,amount\n1,2.5\n2,4.0\n")
    store.write("etl/raw/orders-2.csv", b"id,amount\n3,1.0\n")
    connection = duckdb.connect()
    connection.register_filesystem(fsspec.filesystem("omni+s3", **options))
    one = connection.sql(
        f"SELECT sum(amount) FROM read_csv('omni+s3://{base}/etl/raw/orders-1.csv')"
    )
    assert one.fetchall() == [(6.5,)]
    every = connection.sql(
        f"SELECT count(*), sum(amount) FROM read_csv('omni+s3://{base}/etl/raw/*.csv')"
    )
    assert every.fetchall() == [(3, 7.5)]
    connection.sql(
        f"COPY (SELECT 42 AS answer) TO 'omni+s3://{base}/etl/out/answer.parquet' (FORMAT parquet)"
    )
    assert store.read_bytes("etl/out/answer.parquet")[:4] == b"PAR1"


def test_the_declared_entry_points_work_by_name_in_a_fresh_process() -> None:
    # What fsspec does with the package's fsspec.specs entry points, from pyproject.toml
    # (an installed copy's metadata may be older): nothing of omnistorage imported first.
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    specs = project["project"]["entry-points"]["fsspec.specs"]
    assert set(specs) == {"omni", *BY_NAME}
    for protocol, cls in BY_NAME.items():
        assert specs[protocol] == f"omnistorage.ext.fsspec:{cls.__name__}"
    registrations = "; ".join(
        f"fsspec.register_implementation({name!r}, {value.replace(':', '.')!r}, clobber=True)"
        for name, value in specs.items()
    )
    code = (
        f"import fsspec; {registrations}; "
        "fs = fsspec.filesystem('omni+memory'); "
        "fs.pipe_file('omni+memory://fresh/a.txt', b'hi'); "
        "assert fs.exists('omni+memory://fresh/a.txt'); "
        "assert fs is fsspec.filesystem('omni+memory'); print(type(fs).__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OmniMemoryFileSystem"
