"""Fault schedules for the job commit protocol, and the invariant a reader must see.

A :class:`Schedule` says what happens to one job: each task's attempts and their fates
(committed; killed mid-shard; killed between staging and task commit; committed only
after the job commit started), the driver's tries and how each one dies or loses a reply,
and how the job ends (a last ``commit()`` or an ``abort(force=True)``). :func:`run`
plays it against a store (through :class:`~omnistorage.ext.FaultInjectionLayer` for the
driver's faults) and checks, after every driver try, what :func:`check` checks:

    a reader sees either no dataset, or exactly one attempt per task, every shard whole
    (sizes, record counts and seals verified), and every record that attempt wrote.

Hypothesis draws schedules in the tests (:func:`schedules`); ``benchmarks/jobs.py``
plays a thousand random ones.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from omnistorage.errors import AlreadyExists, StorageError
from omnistorage.ext import Fault, FaultInjectionLayer
from omnistorage.jobs import (
    DatasetNotFound,
    Job,
    JobAborted,
    JobClosed,
    MissingTasks,
    TaskAttempt,
    open_dataset,
)
from omnistorage.records import RecordWriter
from omnistorage.store import Store

__all__ = ["DRIVER_FAULTS", "FATES", "Outcome", "Schedule", "check", "random_schedule", "run"]

Fate = Literal["commit", "die_mid_shard", "die_after_stage", "commit_late"]
FATES: tuple[Fate, ...] = ("commit", "die_mid_shard", "die_after_stage", "commit_late")
DriverFault = Literal[
    "none", "kill_publish", "kill_plan", "kill_manifest", "lose_publish", "lose_manifest"
]
DRIVER_FAULTS: tuple[DriverFault, ...] = (
    "none",
    "kill_publish",
    "kill_plan",
    "kill_manifest",
    "lose_publish",
    "lose_manifest",
)
SUFFIXES = (".ndjson.zst", ".csv.gz", ".ndjson.gz", ".tfrecord", ".ndjson")


@dataclass(frozen=True)
class Schedule:
    """One job's fate (see the module docstring)."""

    tasks: tuple[tuple[Fate, ...], ...]
    driver: tuple[tuple[DriverFault, int], ...] = ()
    end: Literal["commit", "abort"] = "commit"
    shards: int = 2
    records: int = 7


@dataclass
class Outcome:
    """What a run saw: the reader's view after each driver try, and at the end."""

    views: list[str] = field(default_factory=list)
    committed: bool = False
    shards_seen: int = 0


def random_schedule(rng: random.Random, *, max_tasks: int = 4) -> Schedule:
    """A schedule drawn from ``rng`` (the benchmark's generator)."""
    tasks = tuple(
        tuple(rng.choice(FATES) for _ in range(rng.randint(1, 3)))
        for _ in range(rng.randint(1, max_tasks))
    )
    driver = tuple((rng.choice(DRIVER_FAULTS), rng.randint(1, 4)) for _ in range(rng.randint(0, 3)))
    end: Literal["commit", "abort"] = "abort" if rng.random() < 0.2 else "commit"
    return Schedule(tasks, driver, end, rng.randint(1, 3), rng.randint(0, 9))


def _rows(task: int, attempt: str, shard: int, count: int) -> list[dict[str, str]]:
    return [
        {"task": str(task), "attempt": attempt, "shard": str(shard), "i": str(i)}
        for i in range(count)
    ]


def _write_shards(at: TaskAttempt, s: Schedule) -> list[dict[str, str]]:
    rows = []
    for shard in range(s.shards):
        suffix = SUFFIXES[(at.task + shard) % len(SUFFIXES)]
        with at.open_shard(suffix) as writer:
            for row in _rows(at.task, at.attempt, shard, s.records):
                writer.write(json.dumps(row).encode() if suffix == ".tfrecord" else row)
            rows.extend(_rows(at.task, at.attempt, shard, s.records))
    return rows


def _attempt(
    store: Store, job: str, task: int, n: int, fate: Fate, s: Schedule, zombies: list[RecordWriter]
) -> list[dict[str, str]] | None:
    at = TaskAttempt(store, job, task, f"a{n}-t{task}")
    if fate == "die_mid_shard":
        writer = at.open_shard()
        for row in _rows(task, at.attempt, 0, s.records + 1):
            writer.write(row)
        writer.flush()
        zombies.append(writer)  # never closed nor aborted: as a killed process leaves it
        return None
    try:
        rows = _write_shards(at, s)
        if fate == "die_after_stage":
            return None
        at.commit()
    except (JobClosed, AlreadyExists):
        # A late attempt the job no longer takes (S3 refuses to stage over a published
        # shard at once): it discards what it staged, as a task's error handler does.
        at.abort()
        return None
    return rows


def _faulty(store: Store, fault: DriverFault, n: int) -> Store:
    layer = FaultInjectionLayer(store.unwrap(), seed=n)
    manifest: Callable[[str], bool] = lambda k: "/_manifest/" in f"/{k}"  # noqa: E731
    plan: Callable[[str], bool] = lambda k: k.endswith("/plan.json")  # noqa: E731
    if fault == "kill_publish":
        layer.fail_nth("publish_staged", n, temporary=False)
    elif fault == "kill_plan":
        layer.add(Fault("publish", "error", nth=1, temporary=False, key=plan))
    elif fault == "kill_manifest":
        layer.add(Fault("publish", "error", nth=1, temporary=False, key=manifest))
    elif fault == "lose_publish":
        layer.lose_reply("publish_staged", n)
    elif fault == "lose_manifest":
        layer.add(Fault("publish", "lose_reply", nth=1, key=manifest))
    return Store(layer, store.root)


def check(store: Store, rows: dict[tuple[int, str], list[dict[str, str]]]) -> str:
    """The invariant (module docstring) for a dataset whose committed attempts wrote
    ``rows`` (by task and attempt id). Returns ``"none"`` or ``"dataset"``; raises
    ``AssertionError`` naming what broke."""
    try:
        dataset = open_dataset(store)
    except DatasetNotFound:
        return "none"
    dataset.verify()
    seen: dict[int, list[dict[str, str]]] = {}
    for record in dataset.records():
        row = json.loads(record) if isinstance(record, bytes) else record
        seen.setdefault(int(row["task"]), []).append(row)
    for task, got in seen.items():
        attempts = {r["attempt"] for r in got}
        assert len(attempts) == 1, f"task {task}: rows of several attempts {attempts}"
        attempt = attempts.pop()
        assert (task, attempt) in rows, f"task {task}: attempt {attempt} never committed"
        assert sorted(got, key=str) == sorted(rows[task, attempt], key=str), f"task {task}"
    tasks = {t for t, _ in rows}
    shard_tasks = {s.task for s in dataset.shards}
    assert shard_tasks <= tasks, f"shards of uncommitted tasks {shard_tasks - tasks}"
    return "dataset"


def run(store: Store, s: Schedule, job_id: str = "job") -> Outcome:
    """Play ``s`` against ``store`` (an empty dataset folder); see the module docstring."""
    out = Outcome()
    zombies: list[RecordWriter] = []
    rows: dict[tuple[int, str], list[dict[str, str]]] = {}
    late: list[tuple[int, int]] = []
    early: set[int] = set()
    for task, fates in enumerate(s.tasks):
        for n, fate in enumerate(fates):
            if fate == "commit_late":
                late.append((task, n))
                continue
            got = _attempt(store, job_id, task, n, fate, s, zombies)
            if got is not None:
                rows[task, f"a{n}-t{task}"] = got
                early.add(task)
    for fault, n in s.driver:
        with contextlib.suppress(StorageError):  # the driver died or lost a reply
            Job(_faulty(store, fault, n), job_id).commit()
        out.views.append(check(store, rows))
    for task, n in late:
        got = _attempt(store, job_id, task, n, "commit", s, zombies)
        if got is not None:
            rows[task, f"a{n}-t{task}"] = got
    _end(store, s, job_id, rows, early, out)
    for writer in zombies:
        writer.abort()
    return out


def _end(
    store: Store,
    s: Schedule,
    job_id: str,
    rows: dict[tuple[int, str], list[dict[str, str]]],
    early: set[int],
    out: Outcome,
) -> None:
    job = Job(store, job_id)
    if s.end == "abort":
        job.abort(force=True)
    else:
        try:
            job.commit()
        except (MissingTasks, JobAborted):
            assert not rows, "a job with committed attempts did not commit"
            job.abort(force=True)  # what a user does with a job that has nothing
    view = check(store, rows)
    out.views.append(view)
    if view == "dataset":
        dataset = open_dataset(store)
        out.committed = True
        out.shards_seen = len(dataset.shards)
        # Every task committed before the driver's first try is in the dataset.
        assert early <= {sh.task for sh in dataset.shards} or s.shards == 0, "missing task"
    elif s.end == "commit":
        assert not rows, "the job did not commit although attempts had"
    stray = _stray(store, job_id, view == "dataset")
    assert not stray, f"left behind: {sorted(stray)[:5]}"
    hidden = store.cleanup("", older_than=timedelta(0), dry_run=True).removed
    assert not hidden, f"staged data or temp files left behind: {hidden[:5]}"


def _stray(store: Store, job_id: str, committed: bool) -> set[str]:
    """Files no one should see any more: shards no manifest names, task commits."""
    named: set[str] = set()
    if committed:
        named = {sh.path for sh in open_dataset(store).shards}
    stray = set()
    for info in store.list_files("", recursive=True):
        path = info.path
        if path.startswith("_manifest/") or path == f"_jobs/{job_id}/plan.json":
            continue
        if path not in named:
            stray.add(path)
    return stray
