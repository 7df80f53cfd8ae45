"""The dataset manifest: format ``omnistorage.dataset`` version 1, and its version log.

A committed dataset is a folder holding shard objects and ``_manifest/``, whose files
``_manifest/<n>.json`` (``n`` in 20 decimal digits, from 1) are the manifest versions.
Each is written create-only, once, by the job commit that made it (``If-None-Match: *``
on S3, ``ifGenerationMatch=0`` on GCS, a hard link on local disks …): of two jobs that
commit version ``n`` at once exactly one wins, and the other reads the winner and tries
``n + 1`` or fails with :class:`CommitConflict`. The highest version is the dataset.

One version, as JSON::

    {"format": "omnistorage.dataset", "version": 1,
     "manifest": 3,                       # this file's number
     "jobs": ["job-a", "job-b", "job-c"], # every job committed so far, in order
     "shards": [{"path": "job-a/t000000-a1-0000.ndjson.zst", "size": 1234,
                 "records": 100, "sha256": "…", "sealed": true,
                 "job": "job-a", "task": 0}, …]}

``shards`` lists every shard of the dataset (earlier versions' and this job's):
a reader needs the latest version only. Everything read back is checked here
(field types, keys valid under the key grammar, numbers in range) before use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from omnistorage import paths
from omnistorage.errors import CorruptDataError, InvalidPath, NotFound, StorageError
from omnistorage.store import Store

__all__ = [
    "MANIFEST_DIR",
    "MANIFEST_FORMAT",
    "MANIFEST_VERSION",
    "CommitConflict",
    "DatasetNotFound",
    "Manifest",
    "ManifestError",
    "ShardEntry",
    "latest_manifest",
    "write_manifest",
]

MANIFEST_FORMAT = "omnistorage.dataset"
MANIFEST_VERSION = 1
MANIFEST_DIR = "_manifest"
_NAME = re.compile(r"(\d{20})\.json")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_MANIFEST_BYTES = 256 << 20


class DatasetNotFound(NotFound):
    """The folder holds no committed dataset (no manifest version)."""


class ManifestError(CorruptDataError):
    """A manifest, task commit or plan that is malformed, or a shard that does not match
    what the manifest says of it (size, record count)."""


class CommitConflict(StorageError):
    """Another job committed the manifest version this one tried to write (and retrying
    was off, or every retry lost too). Nothing of this job is in the dataset."""


@dataclass(frozen=True, slots=True)
class ShardEntry:
    """One shard as a manifest or task commit lists it."""

    path: str
    size: int
    records: int
    sha256: str
    sealed: bool
    job: str
    task: int

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "size": self.size,
            "records": self.records,
            "sha256": self.sha256,
            "sealed": self.sealed,
            "job": self.job,
            "task": self.task,
        }

    @classmethod
    def from_dict(cls, value: object, what: str) -> ShardEntry:
        if not isinstance(value, Mapping):
            raise ManifestError(f"{what}: a shard entry is not an object")
        path, size, records = value.get("path"), value.get("size"), value.get("records")
        digest, sealed = value.get("sha256"), value.get("sealed")
        job, task = value.get("job"), value.get("task")
        try:
            paths.validate_key(path if isinstance(path, str) else "")
        except InvalidPath:
            raise ManifestError(f"{what}: a shard path is not a valid key") from None
        assert isinstance(path, str)
        if path.split("/", 1)[0].startswith("_"):
            raise ManifestError(f"{what}: a shard path is in a reserved folder")
        if not (_count(size) and _count(records) and _count(task)):
            raise ManifestError(f"{what}: a shard's size, records or task is not a count")
        if not isinstance(digest, str) or _HEX64.fullmatch(digest) is None:
            raise ManifestError(f"{what}: a shard's sha256 is malformed")
        if not isinstance(sealed, bool) or not check_name(job):
            raise ManifestError(f"{what}: a shard's sealed flag or job is malformed")
        assert isinstance(size, int)
        assert isinstance(records, int)
        assert isinstance(task, int)
        assert isinstance(job, str)
        return cls(path, size, records, digest, sealed, job, task)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 62


def check_name(value: object) -> bool:
    """True for a job or attempt id: 1-64 of ``A-Z a-z 0-9 . _ -``, not starting with a
    dot, dash or underscore."""
    return isinstance(value, str) and _NAME_RE.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Manifest:
    """One manifest version (see the module docstring)."""

    number: int
    jobs: tuple[str, ...]
    shards: tuple[ShardEntry, ...]

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "format": MANIFEST_FORMAT,
                "version": MANIFEST_VERSION,
                "manifest": self.number,
                "jobs": list(self.jobs),
                "shards": [s.to_dict() for s in self.shards],
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def parse(cls, data: bytes, number: int) -> Manifest:
        what = f"manifest {number}"
        try:
            value = json.loads(data)
        except ValueError:
            raise ManifestError(f"{what} is not JSON") from None
        if not isinstance(value, Mapping) or value.get("format") != MANIFEST_FORMAT:
            raise ManifestError(f"{what} is not an omnistorage dataset manifest")
        if value.get("version") != MANIFEST_VERSION:
            raise ManifestError(f"{what} has format version {value.get('version')!r}, not 1")
        if value.get("manifest") != number:
            raise ManifestError(f"{what} says it is number {value.get('manifest')!r}")
        jobs, shards = value.get("jobs"), value.get("shards")
        if not isinstance(jobs, list) or not all(check_name(j) for j in jobs):
            raise ManifestError(f"{what}: 'jobs' is malformed")
        if not isinstance(shards, list):
            raise ManifestError(f"{what}: 'shards' is not a list")
        entries = tuple(ShardEntry.from_dict(s, what) for s in shards)
        if len({e.path for e in entries}) != len(entries):
            raise ManifestError(f"{what} names a shard twice")
        return cls(number, tuple(jobs), entries)


def _path(number: int) -> str:
    return f"{MANIFEST_DIR}/{number:020d}.json"


def latest_manifest(store: Store) -> Manifest | None:
    """The highest manifest version in ``store`` (the dataset folder), or ``None``."""
    numbers = []
    for info in store.list_files(MANIFEST_DIR, recursive=False):
        match = _NAME.fullmatch(info.path.rsplit("/", 1)[-1])
        if match is not None:
            numbers.append(int(match.group(1)))
    for number in sorted(numbers, reverse=True):
        try:
            with store.read(_path(number)) as stream:
                data = stream.read(MAX_MANIFEST_BYTES + 1)
        except NotFound:
            continue  # listed, then gone: only a hand-made deletion does that
        if len(data) > MAX_MANIFEST_BYTES:
            raise ManifestError(f"manifest {number} is larger than 256 MiB")
        return Manifest.parse(data, number)
    return None


def write_manifest(store: Store, manifest: Manifest) -> None:
    """Write ``manifest`` create-only: ``AlreadyExists`` when another commit won its
    number."""
    store.write(_path(manifest.number), manifest.to_json())
