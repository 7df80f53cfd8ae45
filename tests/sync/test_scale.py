"""A million keys between memory stores: the sync's memory stays bounded.

Marked ``scale``: it is the suite's longest single test, so it is selectable
(``-m scale``) and excludable (``-m "not scale"``) by hand, but nothing
deselects it by default and CI runs it with the rest.

Runs in a fresh interpreter so the peak resident size (``VmHWM``, reset with
``/proc/self/clear_refs`` once the stores are filled) measures the sync alone.
The stores are filled through the driver API (``new_writer``), which is the
same path the Store takes minus the key checks, to keep the set-up short.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

KEYS = 1_000_000
LIMIT_MIB = 100

SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from datetime import UTC, datetime
    from omnistorage import MemoryBackend, Store
    from omnistorage.driver import WriteOptions
    from omnistorage.sync import sync

    n = int(sys.argv[1])
    when = datetime(2024, 1, 1, tzinfo=UTC)
    options = WriteOptions(overwrite=True, modified=when)
    src_backend, dst_backend = MemoryBackend(), MemoryBackend()

    def put(backend, key, data):
        writer = backend.new_writer(key, options)
        writer.write(data)
        writer.close()

    for i in range(n):
        key = f"d{i % 1000:03d}/f{i:07d}"
        data = str(i).encode()
        put(src_backend, key, data)
        if i % 100 == 1:
            continue  # missing on the destination: copied
        put(dst_backend, key, data if i % 100 else b"changed")  # every 100th differs
        if i % 100 == 2:
            put(dst_backend, f"extra/{i:07d}", b"x")  # only on the destination: deleted

    def status(name):
        for line in open("/proc/self/status"):
            if line.startswith(name):
                return int(line.split()[1]) * 1024

    base = status("VmRSS:")
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # reset VmHWM to the current resident size
    started = time.monotonic()
    report = sync(Store(src_backend), Store(dst_backend), record_paths=False)
    print(json.dumps({
        "seconds": time.monotonic() - started,
        "growth": status("VmHWM:") - base,
        "counts": report.counts,
        "skipped": report.skipped,
        "errors": len(report.errors),
    }))
    """
)


@pytest.mark.scale
@pytest.mark.timeout(900)  # the contract is memory, not speed: about 3 min here, longer under load
def test_a_million_keys_sync_with_rss_growth_under_100_mib() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(KEYS)],
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["errors"] == 0
    assert outcome["counts"]["copied"] == KEYS // 100
    assert outcome["counts"]["updated"] == KEYS // 100
    assert outcome["counts"]["deleted"] == KEYS // 100
    assert outcome["skipped"] == {"same hash": KEYS - 2 * (KEYS // 100)}
    growth_mib = outcome["growth"] / 2**20
    assert growth_mib < LIMIT_MIB, f"RSS grew {growth_mib:.1f} MiB in {outcome['seconds']:.1f}s"
