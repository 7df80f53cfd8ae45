"""``omnistorage.open``: URL → store → codec → text, atomic writes, and the stream
objects being real ``io`` objects for the standard library."""

from __future__ import annotations

import csv
import gc
import gzip
import io
import shutil
import subprocess
import tarfile
import warnings
import zipfile
from pathlib import Path

import pytest

import omnistorage
from omnistorage import MemoryBackend, Registry, RegistryConfig, Store


def test_text_round_trip_through_gzip_on_local(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt.gz"
    with omnistorage.open(str(path), "wt") as out:
        out.write("héllo\nwörld\n")
    assert gzip.decompress(path.read_bytes()).decode() == "héllo\nwörld\n"
    with omnistorage.open(str(path), "rt") as back:
        assert back.read() == "héllo\nwörld\n"


def test_zstd_written_by_open_is_read_by_the_zstd_tool(tmp_path: Path) -> None:
    path = tmp_path / "data.ndjson.zst"
    with omnistorage.open(f"file://{path}", "wb") as out:
        for i in range(1000):
            out.write(b'{"i": %d}\n' % i)
    result = subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True)
    assert result.stdout.count(b"\n") == 1000


def test_an_exception_publishes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "half.txt.gz"
    with pytest.raises(RuntimeError), omnistorage.open(str(path), "wt") as out:
        out.write("half")
        raise RuntimeError("boom")
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_dropped_stream_publishes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "dropped.bin"
    out = omnistorage.open(str(path), "wb")
    out.write(b"data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        del out
        gc.collect()
    assert not path.exists()


def test_a_dropped_text_stream_publishes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "dropped.txt"
    out = omnistorage.open(str(path), "wt")
    out.write("data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        del out
        gc.collect()
    assert not path.exists()


def test_create_only_open_refuses_an_existing_object(tmp_path: Path) -> None:
    path = tmp_path / "once.txt"
    path.write_text("first")
    out = omnistorage.open(str(path), "wt", overwrite=False)
    out.write("second")
    with pytest.raises(omnistorage.AlreadyExists):
        out.close()
    assert path.read_text() == "first"


def test_memory_urls_and_profiles() -> None:
    with omnistorage.open("memory://open-test/dir/a.txt", "wt") as out:
        out.write("in memory")
    assert Store(MemoryBackend(name="open-test")).read_text("dir/a.txt") == "in memory"
    config = RegistryConfig.from_dict(
        {
            "backends": {"mem": {"type": "memory", "options": {"name": "open-profile"}}},
            "stores": {"events": {"backend": "mem", "root_path": "ev"}},
        }
    )
    with Registry(config) as registry:
        with omnistorage.open("events:x.txt", "w", registry=registry) as out:
            out.write("profiled")
        with omnistorage.open("events:x.txt", "r", registry=registry) as back:
            assert back.read() == "profiled"


def test_a_truncated_stream_raises_when_read(tmp_path: Path) -> None:
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(gzip.compress(b"x" * 10_000)[:-12])
    with pytest.raises(omnistorage.TruncatedDataError), omnistorage.open(str(path), "rb") as f:
        f.read()


def test_bad_modes_and_targets_are_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        omnistorage.open("memory://x/a", "ab")
    with pytest.raises(omnistorage.ConfigurationError, match="names no object"):
        omnistorage.open("memory://x", "rb")


# ------------------------------------------------------------------ real io objects


def test_store_writers_work_with_text_wrappers_and_csv() -> None:
    store = Store(MemoryBackend())
    with store.open_writer("rows.csv") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow(["a", "multi\nline"])
        text.flush()
        text.detach()
    with store.read("rows.csv") as raw_in:
        rows = list(csv.reader(io.TextIOWrapper(raw_in, encoding="utf-8", newline="")))
    assert rows == [["a", "multi\nline"]]


def test_closing_a_text_wrapper_publishes_once() -> None:
    store = Store(MemoryBackend())
    raw = store.open_writer("t.txt")
    with io.TextIOWrapper(raw, encoding="utf-8") as text:
        text.write("published by the wrapper")
    assert raw.closed
    assert raw.close().size == len("published by the wrapper")  # closing again is harmless
    assert store.read_text("t.txt") == "published by the wrapper"


def test_copyfileobj_and_tarfile_stream_through_the_store(tmp_path: Path) -> None:
    store = Store(MemoryBackend())
    (tmp_path / "f.txt").write_bytes(b"file in a tar")
    with store.open_writer("a.tar") as out, tarfile.open(fileobj=out, mode="w|") as tar:
        tar.add(tmp_path / "f.txt", arcname="f.txt")
    with store.read("a.tar") as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
        member = next(iter(tar))
        extracted = tar.extractfile(member)
        assert extracted is not None
        assert extracted.read() == b"file in a tar"
    with store.read("a.tar") as src, store.open_writer("copy.tar") as dst:
        shutil.copyfileobj(src, dst)
    assert store.read_bytes("copy.tar") == store.read_bytes("a.tar")


def test_zipfile_reads_through_a_seekable_reader() -> None:
    store = Store(MemoryBackend())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inner.txt", "zipped")
    store.write("a.zip", buffer.getvalue())
    with store.read_seekable("a.zip") as raw, zipfile.ZipFile(raw) as archive:
        assert archive.read("inner.txt") == b"zipped"
    with store.open_writer("b.zip") as out, zipfile.ZipFile(out, "w") as archive:
        archive.writestr("x.txt", "streamed zip")
    with store.read_seekable("b.zip") as raw, zipfile.ZipFile(raw) as archive:
        assert archive.read("x.txt") == b"streamed zip"


def test_writers_and_readers_are_io_objects() -> None:
    store = Store(MemoryBackend())
    writer = store.open_writer("k")
    assert isinstance(writer, io.BufferedIOBase)
    assert writer.writable()
    assert not writer.readable()
    assert not writer.seekable()
    writer.write(b"x")
    writer.close()
    reader = store.read("k")
    assert isinstance(reader, io.RawIOBase)
    assert reader.readable()
    buffer = bytearray(4)
    assert reader.readinto(buffer) == 1
    reader.close()
    assert reader.closed
