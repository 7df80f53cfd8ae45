"""What each layer adds: retries, injected faults, limits, metrics, logs, read-only."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from omnistorage import (
    AlreadyExists,
    BackendUnavailable,
    CapabilityNotSupported,
    LocalBackend,
    MemoryBackend,
    NotFound,
    Store,
)
from omnistorage.ext import (
    ConcurrencyLimitLayer,
    FaultInjectionLayer,
    InjectedThrottle,
    Limiter,
    LoggingLayer,
    MetricsLayer,
    ReadOnlyLayer,
    RetryLayer,
    retry_after,
)


def _retrying(faults: FaultInjectionLayer, **options: object) -> tuple[Store, list[float]]:
    slept: list[float] = []
    layer = RetryLayer(faults, sleep=slept.append, **options)  # type: ignore[arg-type]
    return Store(layer), slept


# ------------------------------------------------------------------ RetryLayer


def test_temporary_failures_are_retried_until_success() -> None:
    faults = FaultInjectionLayer(MemoryBackend())
    store, slept = _retrying(faults)
    store.write("k", b"v")
    faults.fail_nth("exists", 1, times=2)
    assert store.is_file("k")
    assert len(slept) == 2


def test_permanent_failures_are_not_retried() -> None:
    faults = FaultInjectionLayer(MemoryBackend())
    store, slept = _retrying(faults)
    faults.fail_nth("exists", 1, times=1, temporary=False)
    with pytest.raises(Exception, match="injected"):
        store.is_file("k")
    assert slept == []


def test_not_found_is_never_retried() -> None:
    store, slept = _retrying(FaultInjectionLayer(MemoryBackend()))
    with pytest.raises(NotFound):
        store.read_bytes("missing")
    assert slept == []


def test_attempts_run_out_with_the_temporary_error() -> None:
    faults = FaultInjectionLayer(MemoryBackend())
    store, slept = _retrying(faults, attempts=3)
    faults.fail_nth("exists", 1, times=None)
    with pytest.raises(BackendUnavailable) as info:
        store.is_file("k")
    assert info.value.temporary
    assert len(slept) == 2


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    faults = FaultInjectionLayer(MemoryBackend())
    store, slept = _retrying(faults, attempts=8, base_delay=0.1, max_delay=0.5, budget=100)
    faults.fail_nth("exists", 1, times=7)
    store.is_file("k")
    ceilings = [min(0.5, 0.1 * 2**i) for i in range(7)]
    assert all(0 <= s <= c for s, c in zip(slept, ceilings, strict=True))


def test_retry_after_is_honoured() -> None:
    faults = FaultInjectionLayer(MemoryBackend())
    store, slept = _retrying(faults)
    faults.throttle("exists", times=1, retry_after=1.5)
    store.is_file("k")
    assert slept == [1.5]
    assert retry_after(InjectedThrottle("x", retry_after=2)) == 2


def test_the_time_budget_stops_retries() -> None:
    faults = FaultInjectionLayer(MemoryBackend())
    store, slept = _retrying(faults, attempts=10, budget=1.0)
    faults.throttle("exists", times=5, retry_after=0.6)
    with pytest.raises(BackendUnavailable):
        store.is_file("k")
    assert slept == [0.6]


def test_streaming_reads_resume_at_the_same_version() -> None:
    faults = FaultInjectionLayer(MemoryBackend())
    store, slept = _retrying(faults)
    data = bytes(range(256)) * 40_000
    store.write("big.bin", data)
    faults.fail_nth("pinned", 3, times=1)
    with store.read("big.bin") as stream:
        got = b"".join(iter(lambda: stream.read(1 << 20), b""))
    assert got == data
    assert len(slept) == 1


@pytest.mark.parametrize("fault", ["open", "cut", "throttle"])
def test_a_whole_object_read_is_retried_as_one_call(fault: str) -> None:
    """``read_bytes`` is one driver call (``read_object``), no pin on the way: a
    temporary failure at the open or midway through the bytes repeats the whole call,
    and the caller gets the whole object, once."""
    faults = FaultInjectionLayer(MemoryBackend())
    store, slept = _retrying(faults)
    data = bytes(range(256)) * 4_000
    store.write("k.bin", data)
    if fault == "open":
        faults.fail_nth("open_read", 1, times=2)
    elif fault == "cut":
        faults.cut_stream("read", 100_000, times=2)
    else:
        faults.throttle("open_read", times=1, retry_after=0.25)
    assert store.read_bytes("k.bin") == data
    if fault == "throttle":
        assert slept == [0.25]
    else:
        assert len(slept) == 2


def test_a_whole_object_read_stops_at_a_permanent_failure_or_the_attempts() -> None:
    faults = FaultInjectionLayer(MemoryBackend())
    store, slept = _retrying(faults, attempts=3)
    store.write("k", b"v")
    faults.cut_stream("read", 0, times=5)
    with pytest.raises(BackendUnavailable):
        store.read_bytes("k")
    assert len(slept) == 2
    faults.rules.clear()
    faults.fail_nth("open_read", 1, times=1, temporary=False)
    with pytest.raises(Exception, match="injected"):
        store.read_bytes("k")
    assert len(slept) == 2
    assert store.read_bytes("k") == b"v"


def test_layered_whole_object_reads_are_observed_once_without_a_pin(tmp_path: Path) -> None:
    """Behind ``RetryLayer``, ``read_bytes`` reaches ``MetricsLayer`` as one read with
    its bytes: no pin opened, no range read (the fast path of issue 25's layers row)."""
    metrics = MetricsLayer(LocalBackend(tmp_path))
    store = Store(RetryLayer(metrics))
    store.write("a/k", b"12345")
    metrics.reset()
    assert store.read_bytes("a/k") == b"12345"
    assert metrics.snapshot() == {
        "read": {
            "calls": 1,
            "errors": 0,
            "bytes": 5,
            "seconds": pytest.approx(0, abs=1),
            "max_seconds": pytest.approx(0, abs=1),
        }
    }


def test_a_create_only_copy_retried_into_its_own_copy_succeeds() -> None:
    memory = MemoryBackend()
    faults = FaultInjectionLayer(memory)
    store, _ = _retrying(faults)
    store.write("src", b"x")
    Store(memory).write("dst", b"x")  # as if the first attempt had succeeded
    faults.fail_nth("copy", 1, times=1)
    store.copy("src", "dst")  # the retry meets the source's content: its own copy


def test_a_create_only_copy_retried_into_another_object_is_a_conflict() -> None:
    memory = MemoryBackend()
    faults = FaultInjectionLayer(memory)
    store, _ = _retrying(faults)
    store.write("src", b"x")
    Store(memory).write("dst", b"someone")  # other content: another writer's object
    faults.fail_nth("copy", 1, times=1)
    with pytest.raises(AlreadyExists):
        store.copy("src", "dst")
    assert Store(memory).read_bytes("dst") == b"someone"


def test_a_retried_copy_that_cannot_compare_reports_the_first_failure(tmp_path: Path) -> None:
    """Local files declare no content hash, and a copy is a new version: a retry that
    finds the destination taken with the source's size cannot tell whose it is."""
    faults = FaultInjectionLayer(LocalBackend(tmp_path))
    store, _ = _retrying(faults)
    store.write("src", b"x")
    Store(LocalBackend(tmp_path)).write("dst", b"y")  # same size, no hash to compare
    faults.fail_nth("copy", 1, times=1)
    with pytest.raises(BackendUnavailable):
        store.copy("src", "dst")
    with pytest.raises(AlreadyExists):
        store.copy("src", "dst")  # no earlier failure: a conflict is an answer


# ------------------------------------------------------------------ FaultInjectionLayer


def test_fail_nth_fires_on_the_nth_call_only() -> None:
    faults = FaultInjectionLayer(MemoryBackend())
    store = Store(faults)
    faults.fail_nth("exists", 3)
    assert not store.is_file("a")
    assert not store.is_file("a")
    with pytest.raises(BackendUnavailable):
        store.is_file("a")
    assert not store.is_file("a")


def test_probability_faults_are_reproducible_from_the_seed() -> None:
    def pattern(seed: int) -> list[bool]:
        faults = FaultInjectionLayer(MemoryBackend(), seed=seed)
        faults.fail_with_probability("exists", 0.5)
        store = Store(faults)
        out = []
        for _ in range(40):
            try:
                store.is_file("a")
                out.append(True)
            except BackendUnavailable:
                out.append(False)
        return out

    assert pattern(1) == pattern(1)
    assert pattern(1) != pattern(2)
    assert 5 < pattern(1).count(False) < 35


def test_a_cut_write_publishes_nothing(tmp_path: Path) -> None:
    faults = FaultInjectionLayer(LocalBackend(tmp_path))
    store = Store(faults)
    faults.cut_stream("write", 1000)
    with pytest.raises(BackendUnavailable):
        store.write("k", [b"x" * 600, b"y" * 600])
    assert not store.exists("k")
    assert list(tmp_path.iterdir()) == []


def test_a_cut_read_breaks_the_stream(tmp_path: Path) -> None:
    faults = FaultInjectionLayer(LocalBackend(tmp_path))
    store = Store(faults)
    store.write("k", b"z" * 5000)
    faults.cut_stream("read", 1000)
    with pytest.raises(BackendUnavailable):
        store.read_bytes("k")


def test_a_failed_publish_publishes_nothing() -> None:
    faults = FaultInjectionLayer(MemoryBackend())
    store = Store(faults)
    faults.fail_nth("publish", 1)
    with pytest.raises(BackendUnavailable):
        store.write("k", b"v")
    assert not store.exists("k")


# ------------------------------------------------------------------ ConcurrencyLimitLayer


def test_a_shared_limiter_caps_requests_across_stores(tmp_path: Path) -> None:
    limiter = Limiter(2)
    slow_a = FaultInjectionLayer(MemoryBackend())
    slow_b = FaultInjectionLayer(MemoryBackend())
    for layer in (slow_a, slow_b):
        layer.add_latency("exists", 0.01)
    stores = [Store(ConcurrencyLimitLayer(b, limiter)) for b in (slow_a, slow_b)]
    threads = [
        threading.Thread(target=lambda s=stores[i % 2]: [s.is_file("k") for _ in range(5)])
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert limiter.peak == 2
    assert limiter.in_flight == 0


# ------------------------------------------------------------------ metrics and logs


def test_metrics_count_calls_bytes_and_errors() -> None:
    metrics = MetricsLayer(MemoryBackend())
    store = Store(metrics)
    store.write("k", b"12345")
    store.read_bytes("k")
    with pytest.raises(NotFound):
        store.read_bytes("missing")
    snap = metrics.snapshot()
    assert snap["write"]["bytes"] == 5
    assert snap["read"]["bytes"] == 5
    assert snap["read"]["errors"] == 1
    assert snap["read"]["calls"] == 2


def test_logs_are_structured_and_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    store = Store(LoggingLayer(MemoryBackend()))
    caplog.set_level(logging.DEBUG, logger="omnistorage.ops")
    store.write("k?X-Amz-Signature=abcdef123456", b"v")
    records = [r for r in caplog.records if r.name == "omnistorage.ops"]
    write = next(r for r in records if getattr(r, "omnistorage_op", None) == "write")
    assert write.levelno == logging.INFO
    assert write.omnistorage_bytes == 1  # type: ignore[attr-defined]
    assert "abcdef123456" not in write.getMessage()


# ------------------------------------------------------------------ ReadOnlyLayer


def test_read_only_refuses_every_change_before_io() -> None:
    memory = MemoryBackend()
    Store(memory).write("k", b"v")
    store = Store(ReadOnlyLayer(memory))
    assert store.read_bytes("k") == b"v"
    assert [i.path for i in store.list_files()] == ["k"]
    for change in (
        lambda: store.write("n", b"x"),
        lambda: store.delete("k"),
        lambda: store.copy("k", "c"),
        lambda: store.move("k", "m"),
        lambda: store.delete_folder("", recursive=True),
    ):
        with pytest.raises(CapabilityNotSupported):
            change()
    assert Store(memory).read_bytes("k") == b"v"


def test_a_resumed_stream_never_mixes_versions() -> None:
    memory = MemoryBackend()
    faults = FaultInjectionLayer(memory)
    store, _ = _retrying(faults)
    old = b"o" * 3_000_000
    store.write("big.bin", old)
    with store.read("big.bin") as stream:
        first = stream.read(1 << 20)
        Store(memory).write("big.bin", b"n" * 3_000_000, overwrite=True)
        faults.fail_nth("pinned", 1, times=1)
        rest = stream.read()
    assert first + rest == old  # memory pins the old bytes: one version throughout


def test_metrics_layer_records_opentelemetry_metrics_and_spans() -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from tests.support.otel import span_exporter

    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    exporter = span_exporter()

    store = Store(MetricsLayer(MemoryBackend(), otel=True))
    store.write("k", b"abc")
    store.read_bytes("k")
    spans = {span.name for span in exporter.get_finished_spans()}
    assert {"omnistorage.write", "omnistorage.read"} <= spans
    data = reader.get_metrics_data()
    assert data is not None
    names = {
        metric.name
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert {"omnistorage.calls", "omnistorage.bytes", "omnistorage.duration"} <= names


def test_import_omnistorage_ext_imports_no_opentelemetry_or_fsspec() -> None:
    import subprocess
    import sys

    code = (
        "import sys, omnistorage, omnistorage.ext;"
        "bad = [m for m in sys.modules if m.startswith(('opentelemetry', 'fsspec'))];"
        "print(bad); raise SystemExit(1 if bad else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
