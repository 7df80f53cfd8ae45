"""Reading a committed dataset: exactly the shards its latest manifest names, verified.

:func:`open_dataset` reads the latest manifest version (:mod:`omnistorage.jobs._manifest`)
and refuses a folder without one (:class:`~omnistorage.jobs.DatasetNotFound`): a folder
listing is never the dataset, so shards of a job that died before its manifest, or of
attempts that lost, are never read. :meth:`Dataset.records` reads each shard through the
record pipeline (sealed shards must carry their seal) and checks its size before and its
record count after; a mismatch is a :class:`~omnistorage.jobs.ManifestError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from omnistorage.jobs._manifest import DatasetNotFound, ManifestError, ShardEntry, latest_manifest
from omnistorage.records import open_reader
from omnistorage.store import Store

__all__ = ["Dataset", "open_dataset"]


@dataclass(frozen=True, slots=True)
class Dataset:
    """One version of a committed dataset."""

    store: Store
    version: int
    jobs: tuple[str, ...]
    shards: tuple[ShardEntry, ...]

    @property
    def records_count(self) -> int:
        """The records of every shard, as the manifest counts them."""
        return sum(s.records for s in self.shards)

    def verify(self) -> None:
        """Check that every shard is there with the size the manifest gives (one ``stat``
        each); :class:`~omnistorage.jobs.ManifestError` names the first that is not."""
        for shard in self.shards:
            self._check_size(shard)

    def _check_size(self, shard: ShardEntry) -> None:
        size = self.store.get_file_info(shard.path).size
        if size != shard.size:
            raise ManifestError(
                f"shard {shard.path!r} holds {size} bytes; the manifest says {shard.size}",
                path=shard.path,
            )

    def read_shard(self, shard: ShardEntry, **options: Any) -> Iterator[Any]:
        """The records of one shard, checked against the manifest (size first, record
        count at the end); ``options`` go to :func:`omnistorage.records.open_reader`."""
        self._check_size(shard)
        count = 0
        with open_reader(self.store, shard.path, sealed=shard.sealed or None, **options) as reader:
            for record in reader:
                count += 1
                yield record
        if count != shard.records:
            raise ManifestError(
                f"shard {shard.path!r} holds {count} records; the manifest says {shard.records}",
                path=shard.path,
            )

    def records(self, **options: Any) -> Iterator[Any]:
        """Every record of every shard, shard by shard in manifest order."""
        for shard in self.shards:
            yield from self.read_shard(shard, **options)


def open_dataset(store: Store) -> Dataset:
    """The committed dataset in ``store`` (the dataset folder), at its latest version.

    Raises:
        DatasetNotFound: no manifest: nothing was committed there (whatever files the
            folder holds).
        ManifestError: the manifest is malformed.
    """
    manifest = latest_manifest(store)
    if manifest is None:
        raise DatasetNotFound(
            f"{store.root or '(root)'!r} holds no committed dataset (no _manifest/)",
            path="_manifest",
            op="open_dataset",
        )
    return Dataset(store, manifest.number, manifest.jobs, manifest.shards)
