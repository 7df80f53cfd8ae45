"""Compression on a worker thread: the default for zstd on 2+ CPUs, byte-identical output."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.compression import ZstdCodec
from omnistorage.records import RollingRecordWriter, open_reader, open_writer
from omnistorage.records._tuning import default_parallel

WORKER = "omnistorage-record-writer"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


def _workers() -> int:
    return sum(1 for t in threading.enumerate() if t.name == WORKER)


@pytest.fixture
def two_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process may use two CPUs, whatever this machine has."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)


def _write(store: Store, key: str, ops: list[tuple[str, Any]], **options: Any) -> bytes:
    with open_writer(store, key, **options) as writer:
        for op, value in ops:
            if op == "write":
                writer.write(value)
            elif op == "many":
                writer.write_many(value)
            else:
                writer.flush()
    return store.read_bytes(key)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("write"), json_values),
        st.tuples(st.just("many"), st.lists(json_values, max_size=40)),
        st.tuples(st.just("flush"), st.none()),
    ),
    max_size=120,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=operations,
    batch_bytes=st.integers(1, 1 << 17),
    write_size=st.integers(1, 1 << 16),
    queue_depth=st.integers(1, 4),
    level=st.sampled_from([1, 3, 9]),
)
def test_the_worker_thread_writes_the_bytes_of_the_calling_thread(
    ops: list[tuple[str, Any]], batch_bytes: int, write_size: int, queue_depth: int, level: int
) -> None:
    store = Store(MemoryBackend())
    common = {"batch_bytes": batch_bytes, "write_size": write_size, "level": level}
    serial = _write(store, "s.ndjson.zst", ops, parallel=False, **common)
    threaded = _write(store, "t.ndjson.zst", ops, parallel=True, queue_depth=queue_depth, **common)
    assert threaded == serial  # the same frames (one per flush) and the same seal
    expected: list[Any] = []
    for op, value in ops:
        if op == "write":
            expected.append(value)
        elif op == "many":
            expected.extend(value)
    with open_reader(store, "t.ndjson.zst", sealed=True) as reader:
        assert list(reader) == expected


def test_zstd_compresses_on_a_worker_by_default_where_two_cpus_are_usable(two_cpus: None) -> None:
    store = Store(MemoryBackend())
    before = _workers()
    with open_writer(store, "a.ndjson.zst") as writer:
        writer.write({"a": 1})
        assert _workers() == before + 1
    assert _workers() == before  # the worker ends with the writer
    assert default_parallel(ZstdCodec())
    assert not default_parallel(ZstdCodec(threads=2))  # libzstd's own workers instead


def test_explicit_threads_0_or_parallel_false_keeps_the_calling_thread(two_cpus: None) -> None:
    store = Store(MemoryBackend())
    before = _workers()
    for options in ({"threads": 0}, {"parallel": False}, {"compression": "gzip"}):
        key = "g.ndjson.gz" if options.get("compression") else "a.ndjson.zst"
        with open_writer(store, key, overwrite=True, **options) as writer:
            writer.write({"a": 1})
            assert _workers() == before, options


def test_one_cpu_keeps_the_calling_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert not default_parallel(ZstdCodec())


def test_the_rolling_writer_objects_are_the_same_bytes(two_cpus: None) -> None:
    events = [{"i": i, "msg": f"event {i}"} for i in range(20_000)]
    outputs = []
    for parallel in (False, True):
        store = Store(MemoryBackend())
        with RollingRecordWriter(
            store, "r/{seq:04d}.ndjson.zst", max_records=7_000, parallel=parallel
        ) as out:
            for event in events[:10_000]:
                out.write(event)
            out.write_many(events[10_000:])
        keys = sorted(info.path for info in store.list_files("r", recursive=True))
        outputs.append([store.read_bytes(key) for key in keys])
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 3


def test_the_zstd_tool_reads_the_default_output(tmp_path: Path, two_cpus: None) -> None:
    zstd = shutil.which("zstd")
    if zstd is None:
        if os.environ.get("CI"):
            pytest.fail("zstd is not installed (the CI script must install it)")
        pytest.skip("zstd is not installed")
    store = Store(LocalBackend(tmp_path))
    records = [{"i": i, "text": f"ünï {i}" * (i % 7)} for i in range(50_000)]
    with open_writer(store, "e.ndjson.zst") as writer:
        for record in records[:20_000]:
            writer.write(record)
        writer.flush()
        writer.write_many(records[20_000:])
    result = subprocess.run(
        [zstd, "-dc", str(tmp_path / "e.ndjson.zst")], capture_output=True, check=True
    )
    assert result.stdout == b"".join(orjson.dumps(r) + b"\n" for r in records)
    subprocess.run([zstd, "-tq", str(tmp_path / "e.ndjson.zst")], check=True)
