"""Store overhead on the local backend vs raw os/pathlib, measured in the same run.

    python benchmarks/local_store.py [--objects 2000] [--repeat 7] [--dir /dev/shm]

Each operation runs over N objects of 4 KiB in one folder; the best of
``--repeat`` rounds is reported (least disturbed by the machine). The Store
resolves every key by descriptor beneath its root (no symlinks followed, no
cache), which raw calls do not; the ratios are the price of that containment.
Targets (issue 7): read_bytes <= 1.3x raw, atomic write <= 1.0x a raw
temp-file + os.replace, exists <= 2.5x os.path.exists.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from omnistorage import LocalBackend, Store

PAYLOAD = os.urandom(4096)


def best_of(repeat: int, raw: Callable[[], None], ours: Callable[[], None]) -> tuple[float, float]:
    """Best time of each, the rounds interleaved so a drifting disk biases neither side."""
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for side, run in enumerate((raw, ours)):
            start = time.perf_counter()
            run()
            best[side] = min(best[side], time.perf_counter() - start)
    return best[0], best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--dir", default=None, help="where to work (e.g. /dev/shm to take the disk out)"
    )
    args = parser.parse_args()
    n, repeat = args.objects, args.repeat

    base = Path(tempfile.mkdtemp(prefix="omni-bench-", dir=args.dir))
    try:
        root = base / "store"
        raw_dir = root / "raw"
        raw_dir.mkdir(parents=True)
        store = Store(LocalBackend(root))
        keys = [f"data/obj-{i:06d}.bin" for i in range(n)]
        raw_paths = [str(raw_dir / f"obj-{i:06d}.bin") for i in range(n)]
        pathlib_paths = [Path(p) for p in raw_paths]

        def raw_write() -> None:
            for path in raw_paths:
                tmp = path + ".tmp"
                with open(tmp, "wb") as f:
                    f.write(PAYLOAD)
                os.replace(tmp, path)

        def store_write() -> None:
            for key in keys:
                store.write(key, PAYLOAD, overwrite=True)

        counter = [0]

        def raw_create() -> None:
            counter[0] += 1
            for path in raw_paths:
                tmp = f"{path}.{counter[0]}.tmp"
                with open(tmp, "wb") as f:
                    f.write(PAYLOAD)
                os.link(tmp, f"{path}.{counter[0]}")
                os.unlink(tmp)

        def store_create() -> None:
            counter[0] += 1
            for key in keys:
                store.write(f"{key}.{counter[0]}", PAYLOAD)

        def raw_read() -> None:
            for path in raw_paths:
                with open(path, "rb") as f:
                    f.read()

        def store_read() -> None:
            for key in keys:
                store.read_bytes(key)

        def raw_exists() -> None:
            for path in raw_paths:
                os.path.exists(path)

        def pathlib_exists() -> None:
            for path in pathlib_paths:
                path.exists()

        def store_exists() -> None:
            for key in keys:
                store.exists(key)

        def raw_list() -> None:
            for _ in range(20):
                [(e.name, e.stat().st_size) for e in os.scandir(raw_dir)]

        def store_list() -> None:
            for _ in range(20):
                list(store.list_files("data"))

        raw_write()
        store_write()
        rows = [
            ("write (overwrite, atomic)", raw_write, store_write, n, "<= 1.0x temp+os.replace"),
            ("write (create-only)", raw_create, store_create, n, "vs temp+os.link"),
            ("read_bytes", raw_read, store_read, n, "<= 1.3x open().read()"),
            ("exists", raw_exists, store_exists, n, "<= 2.5x os.path.exists"),
            ("exists vs pathlib", pathlib_exists, store_exists, n, "vs Path.exists"),
            ("list_files", raw_list, store_list, 20 * n, "vs os.scandir + stat"),
        ]
        print(f"local Store vs raw os/pathlib: {n} objects of 4 KiB, best of {repeat}")
        print(f"{'operation':28} {'raw us/op':>10} {'store us/op':>12} {'ratio':>7}  target")
        for name, raw, ours, ops, target in rows:
            raw_t, our_t = best_of(repeat, raw, ours)
            print(
                f"{name:28} {raw_t / ops * 1e6:10.2f} {our_t / ops * 1e6:12.2f} "
                f"{our_t / raw_t:6.2f}x  {target}"
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
