"""Streaming: writer and reader concurrently through a channel, bounded memory, CLI interop."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from omnistorage import ChannelBackend, LocalBackend, StorageError, Store
from omnistorage.records import open_reader, open_writer
from tests.records.conftest import NullBackend, rss_bytes


def channel_store() -> Store:
    return Store(ChannelBackend(buffer_size=256 * 1024, timeout=30, wait_for_writer=10))


def test_a_reader_consumes_records_while_the_writer_streams_them() -> None:
    store = channel_store()
    total = 100_000
    progress = {"written": 0}
    first_seen_at: list[int] = []
    received: list[Any] = []
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            with open_writer(store, "live/events.ndjson.zst") as writer:
                for i in range(total):
                    writer.write({"i": i, "msg": f"event {i}"})
                    progress["written"] = i + 1
                    if i % 10_000 == 9_999:
                        writer.flush()  # a complete frame: the reader can decode it now
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    def consume() -> None:
        try:
            with open_reader(store, "live/events.ndjson.zst") as reader:
                for record in reader:
                    if not first_seen_at:
                        first_seen_at.append(progress["written"])
                    received.append(record["i"])
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=consume), threading.Thread(target=produce)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert received == list(range(total))
    assert first_seen_at[0] < total  # records arrived before the writer finished


def test_a_producer_failure_is_an_error_for_the_consumer_never_a_short_stream() -> None:
    store = channel_store()
    outcome: list[Any] = []

    def consume() -> None:
        try:
            with open_reader(store, "live/broken.ndjson.gz") as reader:
                outcome.append(sum(1 for _ in reader))
        except StorageError as exc:
            outcome.append(exc)

    consumer = threading.Thread(target=consume)
    consumer.start()
    with pytest.raises(RuntimeError):
        with open_writer(store, "live/broken.ndjson.gz") as writer:
            for i in range(20_000):
                writer.write({"i": i})
            writer.flush()
            time.sleep(0.1)
            raise RuntimeError("producer crashed")
    consumer.join(30)
    assert len(outcome) == 1
    assert isinstance(outcome[0], StorageError)


def _text() -> str:
    """About 4 MiB of random words: log-like text that compresses 3-5x."""
    rnd = random.Random(7)
    words = [
        "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9)))
        for _ in range(5000)
    ]
    return " ".join(rnd.choices(words, k=700_000))


def _records(total_bytes: int) -> Iterator[dict[str, Any]]:
    """About ``total_bytes`` of NDJSON: records of ~2 KB, each a different slice of text."""
    text = _text()
    rnd = random.Random(11)
    limit = len(text) - 2000
    for i in range(total_bytes // 2030):
        start = rnd.randrange(limit)
        yield {"i": i, "payload": text[start : start + 2000]}


class _PeakRSS:
    """Samples VmRSS on a thread; ``growth`` is the peak minus the RSS at start."""

    def __init__(self) -> None:
        self.start = rss_bytes()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> _PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def growth(self) -> int:
        return self.peak - self.start


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
@pytest.mark.parametrize("parallel", [False, True])
def test_writing_200_mb_keeps_memory_bounded(parallel: bool) -> None:
    backend = NullBackend()
    store = Store(backend)
    with open_writer(store, "warm.ndjson.zst", parallel=parallel) as writer:
        writer.write_many(_records(8 << 20))  # warm the allocator and the codec
    with _PeakRSS() as rss:
        with open_writer(store, "big.ndjson.zst", parallel=parallel) as writer:
            for record in _records(200 << 20):
                writer.write(record)
    assert writer.bytes_in >= 200_000_000
    assert backend.sizes["big.ndjson.zst"] == writer.bytes_out
    assert rss.growth < 32 << 20, f"RSS grew by {rss.growth / 2**20:.1f} MiB"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_streaming_200_mb_through_a_channel_keeps_memory_bounded() -> None:
    store = channel_store()
    counted: list[int] = []
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            with open_reader(store, "big.ndjson.zst") as reader:
                n = 0
                for batch in iter(reader.read_batch, []):
                    n += len(batch)
                counted.append(n)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    with _PeakRSS() as rss:
        consumer = threading.Thread(target=consume)
        consumer.start()
        with open_writer(store, "big.ndjson.zst", parallel=True) as writer:
            writer.write_many(_records(200 << 20))
        consumer.join(60)
    assert not errors, errors
    assert counted == [writer.records]
    assert rss.growth < 32 << 20, f"RSS grew by {rss.growth / 2**20:.1f} MiB"


def tool(name: str) -> str:
    """The tool's path; fail in CI (the CI script installs it), else skip."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (the CI script must install it)")
        pytest.skip(f"{name} is not installed")
    return path


@pytest.mark.parametrize(("suffix", "cli"), [(".zst", "zstd"), (".gz", "gzip")])
@pytest.mark.parametrize("parallel", [False, True])
def test_the_command_line_tools_decode_what_we_wrote(
    tmp_path: Path, suffix: str, cli: str, parallel: bool
) -> None:
    path = tool(cli)
    store = Store(LocalBackend(tmp_path))
    records = [{"i": i, "text": f"ünï \u2028 {i}"} for i in range(30_000)]
    with open_writer(store, f"events.ndjson{suffix}", parallel=parallel) as writer:
        writer.write_many(records[:10_000])
        writer.flush()  # several frames/members: the tools read them all
        for record in records[10_000:]:
            writer.write(record)
    result = subprocess.run(
        [path, "-dc", str(tmp_path / f"events.ndjson{suffix}")], capture_output=True, check=True
    )
    assert result.stdout == b"".join(orjson.dumps(r) + b"\n" for r in records)
