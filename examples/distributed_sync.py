"""Sync a folder on a Dask cluster: here a LocalCluster of two worker processes.

    python examples/distributed_sync.py [FOLDER]

Below FOLDER (default: a fresh temp folder) a ``data`` tree of 200 files is synced
into ``copy`` by :func:`omnistorage.distributed.sync`: workers list the trees by
prefix, the plan is written as chunks to ``state``, the workers run the chunks and
record each result, and the deletes run last. Running the same sync again on the
same ``state`` after a crash would resume; after a finished job it plans afresh
(only the changed file moves). Needs the ``dask`` extra. On a real cluster, give
``Client("tcp://scheduler:8786")`` and addresses every worker can reach (``s3://``,
``gs://``, ``profile:path``, a shared mount) with credentials in each worker's
environment.
"""

from __future__ import annotations

import os
import sys
import tempfile

from distributed import Client, LocalCluster

from omnistorage.distributed import StoreSpec, sync
from omnistorage.distributed.dask import DaskEngine


def main(folder: str) -> None:
    data = os.path.join(folder, "data")
    for i in range(200):
        path = os.path.join(data, f"part-{i % 4}", f"file-{i:03d}.txt")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as out:
            out.write(f"record {i}\n")
    src = StoreSpec(data)
    dst = StoreSpec(os.path.join(folder, "copy"))
    state = StoreSpec(os.path.join(folder, "state"))
    with (
        LocalCluster(n_workers=2, threads_per_worker=2, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        engine = DaskEngine(client)

        def progress(done: int, total: int, result: dict[str, object]) -> None:
            print(f"  chunk {done}/{total}: {result['actions']} file(s)")

        report = sync(engine, src, dst, state, on_chunk=progress)
        print(f"first sync: {report.counts['copied']} copied, ok={report.ok}")
        with open(os.path.join(data, "part-1", "file-001.txt"), "a") as out:
            out.write("changed\n")
        report = sync(engine, src, dst, state)
        print(f"second sync: {report.counts['updated']} updated ({', '.join(report.updated)})")
        assert report.ok
        assert report.updated == ["part-1/file-001.txt"]


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="omni-dist-"))
