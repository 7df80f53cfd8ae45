"""Streaming uploads to S3 (moto) and Azure (Azurite): the multipart machinery's speed.

    eval "$(bash scripts/servers.sh env)"
    .venv/bin/python benchmarks/upload.py [--mib 64] [--objects 20] [--repeat 5]

Rows, best of ``--repeat`` with the spread (slowest / best - 1):

- a ``--mib`` MiB object streamed through ``Store.open_writer`` in 1 MiB writes with
  no size given (a multipart upload / staged blocks);
- ``--objects`` objects of 10 MiB written with ``Store.write`` of bytes (size known:
  one PUT on S3, staged blocks on Azure).

Run it on two checkouts (``PYTHONPATH=<checkout>``) to compare them; the figures are
only comparable within one machine and load.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from omnistorage import Store
from tests.support.remote import azure_store, s3_store, wipe

MiB = 1 << 20


def best(repeat: int, run: Callable[[], None]) -> str:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return f"{min(times):.3f} s ±{(max(times) / min(times) - 1) * 100:.0f}%"


def stream(store: Store, size: int) -> Callable[[], None]:
    chunk = os.urandom(MiB)

    def run() -> None:
        with store.open_writer("stream.bin", overwrite=True) as writer:
            for _ in range(size // MiB):
                writer.write(chunk)

    return run


def many(store: Store, objects: int) -> Callable[[], None]:
    body = os.urandom(10 * MiB)

    def run() -> None:
        for i in range(objects):
            store.write(f"many/{i:03d}.bin", body, overwrite=True)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--objects", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for name, opened in (("s3", s3_store), ("azure", azure_store)):
        store = opened()
        try:
            streamed = best(args.repeat, stream(store, args.mib * MiB))
            print(f"{name}: stream {args.mib} MiB, unknown size: {streamed}")
            known = best(args.repeat, many(store, args.objects))
            print(f"{name}: {args.objects} x 10 MiB, known size: {known}")
        finally:
            wipe(store)


if __name__ == "__main__":
    main()
