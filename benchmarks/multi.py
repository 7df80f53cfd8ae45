"""Fan-out cost of the mirror: one stream into local + S3 (moto) + SFTP at once, vs each
destination written alone, in the same run.

    eval "$(bash scripts/servers.sh env)"
    .venv/bin/python benchmarks/multi.py [--size-mib 1024] [--chunk-kib 1024] [--repeat 2]

The servers are the loopback ones ``scripts/servers.sh`` starts (moto and sshd). The
data is generated on the fly in ``--chunk-kib`` chunks (never held whole) and streamed
through ``Store.open_writer``:

- ALONE: each destination written alone (local folder, S3 multipart, SFTP temp file +
  rename); the slowest of the three is the practical limit for a mirror.
- MIRROR: ``MirrorBackend([local, s3, sftp], policy=ALL)``, the same stream.

Prints seconds and MiB/s for each, the ratio mirror / slowest-alone (target <= 1.15x)
and the process's RSS growth during the mirror write (``VmRSS`` sampled every 5 ms;
target < 64 MiB).

On a small machine the three destinations' servers share the client's cores: moto
parses every part in Python, sshd and paramiko encrypt every byte. So the script also
measures the CPU seconds each write costs (this process plus the moto and sshd
processes, from ``/proc``) and prints the CPU floor of running all three at once:
``(sum of CPU seconds) / cores``. The mirror cannot beat
``max(slowest alone, CPU floor)``; the second ratio is against that.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from omnistorage import LocalBackend, Store
from omnistorage.multi import ALL, MirrorBackend
from tests.support.remote import s3_store, sftp_store, wipe

MiB = 1 << 20


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


@contextmanager
def rss_peak() -> Iterator[Callable[[], int]]:
    """Peak RSS growth above the starting RSS while the block runs (sampled every 5 ms)."""
    start = _rss()
    peak = [start]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield lambda: peak[0] - start
    finally:
        done.set()
        thread.join()


def _server_cpu() -> float:
    """CPU seconds used so far by the moto and sshd processes (and their reaped children)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"moto_server" in cmdline or b"sshd" in cmdline:
            total += sum(int(v) for v in fields[11:15]) / tick  # utime stime cutime cstime
    return total


def stream(store: Store, key: str, size: int, chunk: bytes) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and the servers) to stream ``size`` bytes."""
    started, cpu, server = time.perf_counter(), time.process_time(), _server_cpu()
    with store.open_writer(key, overwrite=True) as writer:
        left = size
        while left > 0:
            piece = chunk if left >= len(chunk) else chunk[:left]
            writer.write(piece)
            left -= len(piece)
    used = time.process_time() - cpu + _server_cpu() - server
    return time.perf_counter() - started, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--chunk-kib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    size = args.size_mib * MiB
    chunk = os.urandom(args.chunk_kib * 1024)

    with tempfile.TemporaryDirectory(prefix="omni-bench-multi-") as tmp:
        local = Store(LocalBackend(Path(tmp) / "local"))
        s3 = s3_store(part_size=16 * MiB, max_concurrency=4)
        sftp = sftp_store()
        try:
            alone: dict[str, tuple[float, float]] = {}
            for name, store in (("local", local), ("s3", s3), ("sftp", sftp)):
                alone[name] = min(
                    stream(store, f"alone-{i}.bin", size, chunk) for i in range(args.repeat)
                )
                for i in range(args.repeat):
                    store.delete(f"alone-{i}.bin", missing_ok=True)
            mirror = Store(MirrorBackend([local, s3, sftp], policy=ALL, queue_chunks=4))
            times = []
            growth = 0
            for i in range(args.repeat):
                with rss_peak() as peak:
                    times.append(stream(mirror, f"mirror-{i}.bin", size, chunk))
                growth = max(growth, peak())
                mirror.delete(f"mirror-{i}.bin")
            fan_out, fan_cpu = min(times)
        finally:
            wipe(s3)
            wipe(sftp)

    slowest = max(wall for wall, _ in alone.values())
    cores = os.cpu_count() or 1
    cpu_floor = sum(cpu for _, cpu in alone.values()) / cores
    limit = max(slowest, cpu_floor)
    print(f"{args.size_mib} MiB in {args.chunk_kib} KiB chunks, best of {args.repeat}")
    print(f"{'write':<22}{'seconds':>10}{'MiB/s':>10}{'CPU s':>10}")
    for name, (seconds, cpu) in alone.items():
        rate = args.size_mib / seconds
        print(f"{name + ' alone':<22}{seconds:>10.2f}{rate:>10.1f}{cpu:>10.2f}")
    rate = args.size_mib / fan_out
    print(f"{'mirror local+s3+sftp':<22}{fan_out:>10.2f}{rate:>10.1f}{fan_cpu:>10.2f}")
    print(f"mirror / slowest alone: {fan_out / slowest:.2f}x (target <= 1.15x)")
    print(
        f"CPU floor on {cores} cores: {cpu_floor:.2f} s; mirror / max(slowest, CPU floor): "
        f"{fan_out / limit:.2f}x"
    )
    print(f"RSS growth during the mirror write: {growth / MiB:.1f} MiB (target < 64 MiB)")


if __name__ == "__main__":
    main()
