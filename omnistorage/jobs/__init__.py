"""Job-committed datasets: many writers on many machines, one dataset whole or not at all.

- :class:`Job`: a job writing a dataset into a folder; :meth:`Job.commit` publishes
  exactly one attempt per task and writes the manifest create-only, last;
  :meth:`Job.abort` removes what a dead job left.
- :class:`TaskAttempt`: one attempt at one task, on any machine; its shards are record
  objects written staged (:mod:`omnistorage.staged`), listed by a task commit.
- :func:`open_dataset`: the latest committed version, read shard by shard, verified.

The protocol, the folder layout and the manifest format are in ``docs/datasets.md``.
Needs a store that declares ``DEFERRED_PUBLISH`` and ``CONDITIONAL_WRITE``.
"""

from omnistorage.jobs._dataset import Dataset, open_dataset
from omnistorage.jobs._job import Job, JobAborted, JobCommitStarted, JobResult, MissingTasks
from omnistorage.jobs._manifest import (
    MANIFEST_FORMAT,
    MANIFEST_VERSION,
    CommitConflict,
    DatasetNotFound,
    Manifest,
    ManifestError,
    ShardEntry,
)
from omnistorage.jobs._task import JobClosed, TaskAttempt, TaskCommit

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_VERSION",
    "CommitConflict",
    "Dataset",
    "DatasetNotFound",
    "Job",
    "JobAborted",
    "JobClosed",
    "JobCommitStarted",
    "JobResult",
    "Manifest",
    "ManifestError",
    "MissingTasks",
    "ShardEntry",
    "TaskAttempt",
    "TaskCommit",
    "open_dataset",
]
