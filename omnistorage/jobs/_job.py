"""The job driver: commit one attempt per task, or abort the job, whatever died before.

The commit, step by step (each step safe to repeat, so a driver that died anywhere is
recovered by calling :meth:`Job.commit` again, from any process):

1. If a manifest version already lists the job, it is committed: only the clean-up of
   step 5 is left.
2. The *plan*, ``_jobs/<job>/plan.json``, written create-only, fixes which attempt of
   each task is published (the first committed attempt by attempt id, from the task
   commits found). A plan already there (another driver, or this job's earlier try) is
   followed as it is; an ``aborted`` plan makes the commit fail with :class:`JobAborted`.
   Task commits that arrive after the plan are not used (the attempt sees ``JobClosed``).
3. The chosen shards are published from their staged tokens, in parallel on at most
   ``max_workers`` threads. A publish repeated after a crash or a lost reply finds its
   own object and succeeds.
4. The manifest: the next version, listing the earlier version's shards and this job's,
   written create-only, last. Losing the race to another job's commit reads the new
   version and tries the next number (``retries`` times), or raises
   :class:`~omnistorage.jobs.CommitConflict`.
5. The other attempts' staged shards are discarded, leftovers of killed writers of this
   job are removed, the task commits are deleted, and the plan becomes a small
   ``committed`` tombstone (so a late attempt sees the job is closed).

:meth:`Job.abort` writes an ``aborted`` plan first (create-only, so it cannot race a
commit's plan), then removes every attempt's staged shards, leftovers, and shards no
manifest names; the aborted plan stays as a tombstone, so a late ``commit()`` fails.

Readers see the dataset of the latest manifest version, so a job is in it exactly when
step 4 succeeded: before, no shard of it is named; after, exactly one attempt per task.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from omnistorage.errors import AlreadyExists, NotFound, StorageError
from omnistorage.jobs._manifest import (
    CommitConflict,
    Manifest,
    ManifestError,
    ShardEntry,
    check_name,
    latest_manifest,
    write_manifest,
)
from omnistorage.jobs._task import JOBS_DIR, TaskAttempt, TaskCommit, plan_path, task_commit_path
from omnistorage.staged import StagedObject, discard, publish
from omnistorage.store import Store

__all__ = ["Job", "JobAborted", "JobCommitStarted", "JobResult", "MissingTasks"]

_MAX_PLAN_BYTES = 512 << 20
_COMMIT_NAME = re.compile(r"(\d{6})/([A-Za-z0-9][A-Za-z0-9._-]{0,63})\.json")
_COMMITTED = json.dumps({"state": "committed"}).encode()


class JobAborted(StorageError):
    """The job was aborted: it can no longer be committed."""


class JobCommitStarted(StorageError):
    """``abort()`` of a job whose commit started (a plan exists) but is not in the
    manifest: finish it with ``commit()``, or pass ``force=True`` when no driver runs."""


class MissingTasks(StorageError):
    """The commit was told how many tasks the job has, and some have no committed
    attempt. Nothing was published."""


@dataclass(frozen=True, slots=True)
class JobResult:
    """What a commit did: the manifest version that holds the job, the shards it added,
    and how many other attempts' staged shards it discarded."""

    manifest: int
    shards: tuple[ShardEntry, ...]
    discarded: int


class Job:
    """A job writing a dataset in ``store`` (the dataset folder; see the module docs).

    ``job_id`` names the job (a fresh id when ``None``); tasks on any machine attach to
    it with :meth:`task` or :class:`~omnistorage.jobs.TaskAttempt` given the same id.
    """

    def __init__(self, store: Store, job_id: str | None = None) -> None:
        job_id = uuid.uuid4().hex if job_id is None else job_id
        if not check_name(job_id):
            raise ValueError(f"job id {job_id!r} is malformed")
        self.store, self.id = store, job_id
        self.max_workers = 16
        """Requests in flight at once (publishes, discards, task commit reads)."""

    def task(self, task: int, attempt: str | None = None) -> TaskAttempt:
        """A new attempt at task ``task`` (in this process)."""
        return TaskAttempt(self.store, self.id, task, attempt)

    # ------------------------------------------------------------ commit

    def commit(
        self, *, tasks: int | None = None, max_workers: int = 16, retries: int = 8
    ) -> JobResult:
        """Commit the job (the steps in the module docstring); safe to call again.

        Args:
            tasks: when given, tasks ``0 … tasks-1`` must each have a committed attempt
                (:class:`MissingTasks` otherwise) and no other task may appear.
            max_workers: publishes in flight at once.
            retries: manifest versions to try after losing one to another commit;
                ``0`` raises :class:`~omnistorage.jobs.CommitConflict` at once.
        """
        if max_workers < 1 or retries < 0:
            raise ValueError("max_workers must be at least 1 and retries at least 0")
        self.max_workers = max_workers
        done = self._in_manifest()
        if done is not None:
            return JobResult(done.number, _own(done, self.id), self._finish(None))
        plan = self._plan(tasks)
        chosen = [pair for commit in plan for pair in commit.shards]
        with ThreadPoolExecutor(max_workers=min(max_workers, max(1, len(chosen)))) as pool:
            list(pool.map(lambda pair: publish(self.store, pair[1]), chosen))
        entries = tuple(entry for entry, _ in chosen)
        number = self._write_manifest(entries, retries)
        return JobResult(number, entries, self._finish(plan))

    def _in_manifest(self) -> Manifest | None:
        latest = latest_manifest(self.store)
        return latest if latest is not None and self.id in latest.jobs else None

    def _plan(self, tasks: int | None) -> list[TaskCommit]:
        existing = self._read_plan()
        if existing is not None:
            return existing
        commits = self.task_commits(max_workers=self.max_workers)
        chosen: dict[int, TaskCommit] = {}
        for commit in sorted(commits, key=lambda c: (c.task, c.attempt)):
            chosen.setdefault(commit.task, commit)
        if tasks is None and not chosen:
            raise MissingTasks(f"job {self.id!r} has no committed task attempt", op="commit")
        if tasks is not None:
            missing = sorted(set(range(tasks)) - set(chosen))
            extra = sorted(set(chosen) - set(range(tasks)))
            if missing or extra:
                raise MissingTasks(
                    f"job {self.id!r}: tasks without a committed attempt {missing[:10]}, "
                    f"unexpected tasks {extra[:10]}",
                    op="commit",
                )
        plan = [chosen[t] for t in sorted(chosen)]
        body = {"state": "commit", "tasks": [c.to_dict() for c in plan]}
        try:
            self.store.write(plan_path(self.id), json.dumps(body).encode())
        except AlreadyExists:
            again = self._read_plan()  # another driver planned first: follow its plan
            if again is None:
                raise
            return again
        return plan

    def _read_plan(self) -> list[TaskCommit] | None:
        try:
            with self.store.read(plan_path(self.id)) as stream:
                data = stream.read(_MAX_PLAN_BYTES + 1)
        except NotFound:
            return None
        try:
            value = json.loads(data)
        except ValueError:
            raise ManifestError(f"job {self.id!r}: the plan is not JSON") from None
        states = ("commit", "aborted", "committed")
        if not isinstance(value, Mapping) or value.get("state") not in states:
            raise ManifestError(f"job {self.id!r}: the plan is malformed")
        if value["state"] == "aborted":
            raise JobAborted(f"job {self.id!r} was aborted", op="commit")
        if value["state"] == "committed":
            return []  # only after the manifest lists the job: nothing left to publish
        tasks = value.get("tasks")
        if not isinstance(tasks, list):
            raise ManifestError(f"job {self.id!r}: the plan's tasks are not a list")
        plan = [TaskCommit.from_dict(t) for t in tasks]
        if any(c.job != self.id for c in plan) or len({c.task for c in plan}) != len(plan):
            raise ManifestError(f"job {self.id!r}: the plan names other jobs or a task twice")
        return plan

    def _write_manifest(self, entries: tuple[ShardEntry, ...], retries: int) -> int:
        for _ in range(retries + 1):
            latest = latest_manifest(self.store)
            if latest is not None and self.id in latest.jobs:
                return latest.number  # written by our earlier try whose reply was lost
            base = latest or Manifest(0, (), ())
            taken = {s.path for s in base.shards}
            if any(e.path in taken for e in entries):
                raise ManifestError(f"job {self.id!r}: a shard path is in the dataset already")
            new = Manifest(base.number + 1, (*base.jobs, self.id), (*base.shards, *entries))
            try:
                write_manifest(self.store, new)
            except AlreadyExists:
                continue  # another job won this number: read it and try the next
            return new.number
        raise CommitConflict(
            f"job {self.id!r}: another job committed each manifest version tried "
            f"({retries + 1} tries); this job's shards are published but in no manifest, "
            "call commit() again to retry",
            op="commit",
        )

    def task_commits(
        self, *, skip: frozenset[tuple[int, str]] = frozenset(), max_workers: int = 16
    ) -> list[TaskCommit]:
        """Every task commit of this job found in the store (checked as outside input),
        read ``max_workers`` at a time; those of the ``(task, attempt)`` pairs in ``skip``
        are not read."""
        wanted = []
        for info in self.store.list_files(f"{JOBS_DIR}/{self.id}/tasks", recursive=True):
            match = _COMMIT_NAME.fullmatch("/".join(info.path.rsplit("/", 2)[-2:]))
            if match is None or (int(match.group(1)), match.group(2)) in skip:
                continue
            wanted.append(info.path)

        def read(path: str) -> TaskCommit | None:
            try:
                commit = TaskCommit.parse(self.store.read_bytes(path))
            except NotFound:
                return None
            ok = path == task_commit_path(commit.job, commit.task, commit.attempt)
            return commit if ok and commit.job == self.id else None

        with ThreadPoolExecutor(max_workers=min(max_workers, max(1, len(wanted)))) as pool:
            return [c for c in pool.map(read, wanted) if c is not None]

    def _finish(self, plan: list[TaskCommit] | None) -> int:
        """Step 5: discard the other attempts, remove leftovers and the job's folder."""
        kept = {(c.task, c.attempt) for c in plan} if plan is not None else None
        if kept is None:
            with contextlib.suppress(JobAborted, ManifestError):
                kept = {(c.task, c.attempt) for c in self._read_plan() or []}
        return self._discard_all(kept or set(), keep_published=True)

    def _discard_all(self, kept: set[tuple[int, str]], *, keep_published: bool) -> int:
        losers: list[StagedObject] = []
        for commit in self.task_commits(skip=frozenset(kept), max_workers=self.max_workers):
            losers.extend(token for _, token in commit.shards)
        with ThreadPoolExecutor(max_workers=min(self.max_workers, max(1, len(losers)))) as pool:
            list(pool.map(lambda token: discard(self.store, token), losers))
        self.store.cleanup(self.id, older_than=timedelta(0))
        if keep_published:
            # The plan shrinks to a tombstone: a late attempt sees the job is closed.
            self.store.write(plan_path(self.id), _COMMITTED, overwrite=True)
        else:
            # The aborted plan stays as a tombstone: a late commit() must not find an
            # empty job and commit it.
            self.store.delete_folder(self.id, recursive=True, missing_ok=True)
        tasks = f"{JOBS_DIR}/{self.id}/tasks"
        self.store.delete_folder(tasks, recursive=True, missing_ok=True)
        return len(losers)

    # ------------------------------------------------------------ abort

    def abort(self, *, force: bool = False) -> int:
        """Remove everything this job left: staged shards of every attempt, leftovers of
        killed writers, published shards no manifest names, the job's folder. Returns
        the staged shards discarded. A committed job keeps its shards (only the clean-up
        runs). A job whose commit started raises :class:`JobCommitStarted` unless
        ``force`` (no driver may be running it)."""
        if self._in_manifest() is not None:
            return self._finish(None)
        body = json.dumps({"state": "aborted"}).encode()
        try:
            self.store.write(plan_path(self.id), body)
        except AlreadyExists:
            try:
                self._read_plan()
            except JobAborted:
                pass  # aborted before: finish that
            else:
                if not force:
                    raise JobCommitStarted(
                        f"job {self.id!r}: its commit started; call commit() to finish it",
                        op="abort",
                    ) from None
                if self._in_manifest() is not None:
                    return self._finish(None)
                self.store.write(plan_path(self.id), body, overwrite=True)
        return self._discard_all(set(), keep_published=False)


def _own(manifest: Manifest, job: str) -> tuple[ShardEntry, ...]:
    return tuple(s for s in manifest.shards if s.job == job)
