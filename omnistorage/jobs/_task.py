"""Task attempts: shards written staged, then one task commit naming them.

A task attempt writes its shards through the usual record pipeline (any format and codec
:func:`omnistorage.records.open_writer` takes, sealed), but each shard's object is staged
(:mod:`omnistorage.staged`), not published, at its final name
``<job>/t<task:06d>-<attempt>-<seq:04d><suffix>``: each attempt stages under names of
its own, so no two writers ever stage at one name (Azure keeps the uncommitted blocks of
a name together, and a discard removes them all). :meth:`TaskAttempt.commit` writes the *task
commit*, ``_jobs/<job>/tasks/<task:06d>/<attempt>.json`` (create-only), which lists every
shard with its path, size, record count, SHA-256 and staged-object token. Until the job
commit publishes one attempt per task, nothing of any attempt is visible.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omnistorage.compression import can_seal
from omnistorage.errors import AlreadyExists, StorageError, StreamClosed
from omnistorage.jobs._manifest import ManifestError, ShardEntry, check_name
from omnistorage.models import HashType
from omnistorage.records import RecordWriter
from omnistorage.records._open import WRITER_OPTIONS, record_writer_options
from omnistorage.records._options import resolve_layers
from omnistorage.staged import InvalidToken, StagedObject, StagingWriter, discard, open_staged
from omnistorage.store import Store

__all__ = ["JOBS_DIR", "JobClosed", "TaskAttempt", "TaskCommit", "task_commit_path"]

JOBS_DIR = "_jobs"
MAX_TASK = 999_999
_SUFFIX = re.compile(r"(\.[A-Za-z0-9]{1,16}){1,3}")


class JobClosed(StorageError):
    """The job was committed or aborted already: this attempt's work is not wanted."""


def task_commit_path(job: str, task: int, attempt: str) -> str:
    return f"{JOBS_DIR}/{job}/tasks/{task:06d}/{attempt}.json"


def plan_path(job: str) -> str:
    return f"{JOBS_DIR}/{job}/plan.json"


@dataclass(frozen=True, slots=True)
class TaskCommit:
    """What one task attempt produced: its shards, each with its staged-object token."""

    job: str
    task: int
    attempt: str
    shards: tuple[tuple[ShardEntry, StagedObject], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "task": self.task,
            "attempt": self.attempt,
            "shards": [{**e.to_dict(), "token": t.to_dict()} for e, t in self.shards],
        }

    @classmethod
    def from_dict(cls, value: object) -> TaskCommit:
        """Check a task commit read back (outside input): names, counts, and that every
        shard's token publishes to the shard's own path under this job."""
        if not isinstance(value, Mapping):
            raise ManifestError("a task commit is not an object")
        job, task, attempt, shards = (value.get(k) for k in ("job", "task", "attempt", "shards"))
        if not (check_name(job) and check_name(attempt)):
            raise ManifestError("a task commit's job or attempt id is malformed")
        if isinstance(task, bool) or not isinstance(task, int) or not 0 <= task <= MAX_TASK:
            raise ManifestError("a task commit's task number is malformed")
        if not isinstance(shards, list):
            raise ManifestError("a task commit's shards are not a list")
        assert isinstance(job, str)
        assert isinstance(attempt, str)
        out = []
        for item in shards:
            entry = ShardEntry.from_dict(item, "task commit")
            try:
                token = StagedObject.from_dict(item.get("token"))
            except InvalidToken as exc:
                raise ManifestError(f"task commit: a shard token is malformed: {exc}") from None
            prefix = f"{job}/t{task:06d}-{attempt}-"
            bad = (entry.job, entry.task) != (job, task) or not entry.path.startswith(prefix)
            if bad or token.path != entry.path or token.size != entry.size:
                raise ManifestError("task commit: a shard does not belong to its task")
            out.append((entry, token))
        return cls(job, task, attempt, tuple(out))

    @classmethod
    def parse(cls, data: bytes) -> TaskCommit:
        try:
            value = json.loads(data)
        except ValueError:
            raise ManifestError("a task commit is not JSON") from None
        return cls.from_dict(value)


class TaskAttempt:
    """One attempt at one task of a job (see the module docstring).

    Args:
        store: the dataset folder (the same configuration and root as the driver's).
        job: the job id (:attr:`omnistorage.jobs.Job.id`).
        task: the task number, 0 to 999,999.
        attempt: this attempt's id (a fresh one when ``None``); speculative or retried
            attempts of one task need distinct ids.
    """

    def __init__(self, store: Store, job: str, task: int, attempt: str | None = None) -> None:
        if not check_name(job):
            raise ValueError(f"job id {job!r} is malformed")
        if isinstance(task, bool) or not isinstance(task, int) or not 0 <= task <= MAX_TASK:
            raise ValueError(f"task must be an int from 0 to {MAX_TASK}, got {task!r}")
        attempt = uuid.uuid4().hex if attempt is None else attempt
        if not check_name(attempt):
            raise ValueError(f"attempt id {attempt!r} is malformed")
        self.store, self.job, self.task, self.attempt = store, job, task, attempt
        self._shards: list[tuple[RecordWriter, StagingWriter, bool]] = []
        self._done = False

    def open_shard(
        self,
        suffix: str = ".ndjson.zst",
        *,
        format: str | None = None,
        compression: str | None = None,
        **options: Any,
    ) -> RecordWriter:
        """A :class:`~omnistorage.records.RecordWriter` for this attempt's next shard.

        ``suffix`` names the shard's format and codec as for
        :func:`omnistorage.records.open_writer` (``.ndjson.zst``, ``.csv.gz``,
        ``.tfrecord`` …); ``format``, ``compression`` and ``options`` as there. Closing
        the writer stages the shard; :meth:`commit` then lists it.
        """
        if self._done:
            raise JobClosed(f"task attempt {self.attempt!r} is finished", op="write")
        if _SUFFIX.fullmatch(suffix) is None:
            raise ValueError(f"shard suffix {suffix!r} is not like '.ndjson.zst'")
        path = f"{self.job}/t{self.task:06d}-{self.attempt}-{len(self._shards):04d}{suffix}"
        layers = resolve_layers(path, format, compression, options, WRITER_OPTIONS)
        own: Mapping[str, Any] = layers.options
        seal = bool(own.get("seal", True))
        # The manifest says which shards are sealed (readers then require the seal), so
        # no "sealed" metadata mark is written: the shard needs no USER_METADATA.
        target = open_staged(
            self.store,
            path,
            content_type=own.get("content_type"),
            metadata=own.get("metadata"),
            hashes=[HashType.SHA256],
        )
        try:
            writer = RecordWriter(
                target,
                format=layers.format,
                codec=layers.codec,
                path=path,
                seal=seal,
                **record_writer_options(own, options),
            )
        except BaseException:
            with contextlib.suppress(Exception):
                target.abort()
            raise
        self._shards.append((writer, target, seal and can_seal(layers.codec.name)))
        return writer

    def commit(self) -> TaskCommit:
        """Write the task commit (create-only) and return it. Every shard writer must be
        closed; none may have failed (:class:`ValueError` otherwise, and nothing is
        committed). :class:`JobClosed` when the job was committed or aborted meanwhile:
        this attempt's shards are then discarded."""
        if self._done:
            raise JobClosed(f"task attempt {self.attempt!r} is finished", op="commit")
        shards = []
        for writer, target, sealed in self._shards:
            token = target.staged
            if token is None:
                raise ValueError(f"shard {writer.path!r} is not closed, or failed")
            digest = token.hashes[HashType.SHA256]
            entry = ShardEntry(
                token.path, token.size, writer.records, digest, sealed, self.job, self.task
            )
            shards.append((entry, token))
        commit = TaskCommit(self.job, self.task, self.attempt, tuple(shards))
        if self.store.is_file(plan_path(self.job)):
            self.abort()
            raise JobClosed(f"job {self.job!r} is committed or aborted already", op="commit")
        self._done = True
        path = task_commit_path(self.job, self.task, self.attempt)
        data = json.dumps(commit.to_dict(), separators=(",", ":")).encode()
        try:
            self.store.write(path, data)
        except AlreadyExists:
            if self.store.read_bytes(path) != data:
                raise
        return commit

    def abort(self) -> None:
        """Discard every shard this attempt staged or is writing. Idempotent."""
        self._done = True
        for writer, target, _ in self._shards:
            token = target.staged
            if token is not None:
                discard(self.store, token)
            elif not writer.closed:
                with contextlib.suppress(StreamClosed):
                    writer.abort()
