"""Store hot-path calls timed on two checkouts of omnistorage, in the same run.

    python benchmarks/store_calls.py --before DIR [--after DIR] [--rounds 7] [--dir /dev/shm]

``DIR`` is a source tree holding the ``omnistorage`` package (``git archive`` of a
commit, say); ``--after`` defaults to this checkout. Each round runs one process per
tree, alternating which goes first, and each process times every operation over a
batch and reports the per-call time of its best repetition. The table gives, per
operation and backend, the best round of each tree with the spread of the rounds
(min..max, per call) and the ratio after/before of the bests. Operations: a Store
built over a driver (where ``features()`` is asked), ``write`` of 1 KiB (overwrite),
``read_bytes`` of 1 KiB, ``get_file_info``, ``list_files`` of a 10,000-key folder
(recursive, consumed), ``copy`` of 1 KiB (overwrite), and a folder cycle (write one
file two folders down, then ``delete_folder`` recursively), on the memory and local
backends.

Written for issue 24 (capabilities bound to methods, then the sync folder operations
and transfers generated from the async text): neither may cost anything measurable on
these paths.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PAYLOAD = os.urandom(1024)
LISTED = 10_000
OPS = ("store", "write", "read", "stat", "list10k", "copy", "folder")
CALLS = {
    "store": 2000,
    "write": 300,
    "read": 1000,
    "stat": 1000,
    "list10k": 1,
    "copy": 300,
    "folder": 200,
}
REPEAT = 5


def _per_call(run: Callable[[], None], calls: int) -> float:
    best = float("inf")
    for _ in range(REPEAT):
        start = time.perf_counter()
        for _ in range(calls):
            run()
        best = min(best, time.perf_counter() - start)
    return best / calls


def _folder_cycle(store: Any) -> None:
    store.write("cycle/sub/a", PAYLOAD, overwrite=True)
    store.delete_folder("cycle", recursive=True)


def _measure_backend(name: str, make: Callable[[], Any]) -> dict[str, float]:
    from omnistorage import Store

    backend = make()
    store = Store(backend)
    listed = store.child("listed")
    for n in range(LISTED):
        listed.write(f"k{n:05d}", b"x")
    store.write("small", PAYLOAD)
    results = {
        "store": _per_call(lambda: Store(backend), CALLS["store"]),
        "write": _per_call(lambda: store.write("small", PAYLOAD, overwrite=True), CALLS["write"]),
        "read": _per_call(lambda: store.read_bytes("small"), CALLS["read"]),
        "stat": _per_call(lambda: store.get_file_info("small"), CALLS["stat"]),
        "list10k": _per_call(lambda: sum(1 for _ in listed.list_files()), CALLS["list10k"]),
        "copy": _per_call(lambda: store.copy("small", "copied", overwrite=True), CALLS["copy"]),
        "folder": _per_call(lambda: _folder_cycle(store), CALLS["folder"]),
    }
    store.close()
    return {f"{name}/{op}": seconds for op, seconds in results.items()}


def _worker(scratch: str) -> None:
    from omnistorage import LocalBackend, MemoryBackend

    root = tempfile.mkdtemp(prefix="store-calls-", dir=scratch)
    try:
        results = _measure_backend("memory", MemoryBackend)
        results |= _measure_backend("local", lambda: LocalBackend(root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    import omnistorage

    print(json.dumps({"package": str(Path(omnistorage.__file__).parents[1]), **results}))


def _run_tree(tree: Path, scratch: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run(
        [sys.executable, __file__, "--worker", "--dir", scratch],
        env=env,
        cwd=tempfile.gettempdir(),  # so the tree on PYTHONPATH is the one imported
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    answer = json.loads(out.splitlines()[-1])
    imported = answer.pop("package")
    if Path(imported).resolve() != tree:
        raise SystemExit(f"imported omnistorage from {imported}, not {tree}")
    return {key: float(value) for key, value in answer.items()}


def _fmt(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="source tree to compare against")
    parser.add_argument("--after", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--dir", default=None, help="scratch folder for the local backend")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    scratch = args.dir or tempfile.gettempdir()
    if args.worker:
        _worker(scratch)
        return
    if args.before is None:
        parser.error("--before DIR is required")
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    for tree in trees.values():
        if not (tree / "omnistorage" / "__init__.py").is_file():
            parser.error(f"{tree} holds no omnistorage package")
    rounds: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for n in range(args.rounds):
        order = ("before", "after") if n % 2 == 0 else ("after", "before")
        for side in order:
            rounds[side].append(_run_tree(trees[side], scratch))
    print(f"before: {trees['before']}\nafter:  {trees['after']}\nrounds: {args.rounds}")
    print(f"{'operation':<18}{'before best (worst)':<34}{'after best (worst)':<34}after/before")
    for key in rounds["before"][0]:
        line = f"{key:<18}"
        best = {}
        for side in ("before", "after"):
            values = [r[key] for r in rounds[side]]
            best[side] = min(values)
            spread = f"{_fmt(min(values))} (worst {_fmt(max(values))})"
            line += f"{spread:<34}"
        print(f"{line}{best['after'] / best['before']:.3f}")


if __name__ == "__main__":
    main()
