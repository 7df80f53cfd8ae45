"""Write and read a record dataset on a Dask cluster, with the job commit.

    python examples/distributed_datasets.py [FOLDER]

A ``dask.bag`` of 1,000 events in 4 partitions is written below FOLDER (default: a
fresh temp folder) as ``events``: each partition is one task attempt on a worker (one
zstd-compressed NDJSON shard, staged), and the job commit then publishes exactly one
attempt per partition and writes the manifest last, so readers see the whole dataset
or nothing. Reading it back gives one partition per shard, each checked against the
manifest. A write whose partition fails publishes nothing. Needs the ``dask`` extra;
``omnistorage.distributed.ray_data`` does the same on Ray Data.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile

import dask.bag
from distributed import Client, LocalCluster

from omnistorage.distributed import StoreSpec
from omnistorage.distributed.dask import read_bag, write_bag
from omnistorage.errors import DataError
from omnistorage.jobs import DatasetNotFound, open_dataset


def main(folder: str) -> None:
    events = [{"id": i, "user": f"u{i % 10}", "ms": i * 3} for i in range(1000)]
    spec = StoreSpec(os.path.join(folder, "events"))
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster),
    ):
        result = write_bag(dask.bag.from_sequence(events, npartitions=4), spec)
        print(f"committed manifest {result.manifest}: {len(result.shards)} shards")
        back = read_bag(spec)
        print(f"read {back.count().compute()} events in {back.npartitions} partitions")

        broken = [*events[:10], {"id": 10, "ms": math.nan}]  # NDJSON refuses NaN
        failed = StoreSpec(os.path.join(folder, "broken"))
        try:
            write_bag(dask.bag.from_sequence(broken, npartitions=2), failed)
        except DataError as exc:
            print(f"a failed partition: {type(exc).__name__}")
    try:
        open_dataset(failed.open())
    except DatasetNotFound:
        print("the failed write left no dataset")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="omni-datasets-"))
