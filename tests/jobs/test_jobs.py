"""The job commit protocol on every backend that declares DEFERRED_PUBLISH: one attempt
per task, manifest last, readers that see nothing or the whole job, recovery by calling
commit() again, abort, conflicts between appends, and hostile task commits."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest

from omnistorage import Store
from omnistorage.errors import AlreadyExists, BackendUnavailable, StorageError
from omnistorage.ext import Fault, FaultInjectionLayer, RetryLayer
from omnistorage.jobs import (
    CommitConflict,
    DatasetNotFound,
    Job,
    JobAborted,
    JobClosed,
    JobCommitStarted,
    ManifestError,
    MissingTasks,
    TaskAttempt,
    open_dataset,
)
from omnistorage.jobs._manifest import Manifest, latest_manifest, write_manifest
from omnistorage.jobs._task import task_commit_path


def run_attempt(
    store: Store, job: str, task: int, attempt: str, *, shards: int = 2, records: int = 20
) -> list[dict[str, Any]]:
    """One task attempt: ``shards`` shards of ``records`` records each, committed."""
    rows = []
    at = TaskAttempt(store, job, task, attempt)
    for shard in range(shards):
        suffix = (".ndjson.zst", ".csv.gz", ".tfrecord")[shard % 3]
        with at.open_shard(suffix) as writer:
            for i in range(records):
                row = {"task": str(task), "attempt": attempt, "shard": str(shard), "i": str(i)}
                writer.write(row if suffix != ".tfrecord" else json.dumps(row).encode())
                rows.append(row)
    at.commit()
    return rows


def read_all(store: Store) -> list[dict[str, Any]]:
    out = []
    for record in open_dataset(store).records():
        out.append(json.loads(record) if isinstance(record, bytes) else record)
    return out


def visible_shards(store: Store, job: str) -> set[str]:
    return {info.path for info in store.list_files(job, recursive=True)}


def test_commit_publishes_one_attempt_per_task_and_the_manifest_last(store: Store) -> None:
    job = Job(store, "job-a")
    expected: list[dict[str, Any]] = []
    for task in range(3):
        for attempt in ("b-spec", "a-first"):  # a speculative duplicate of every task
            rows = run_attempt(store, job.id, task, f"{attempt}-{task}")
            if attempt == "a-first":
                expected += rows
    # Staged: nothing at the final names, and no dataset.
    assert visible_shards(store, job.id) == set()
    with pytest.raises(DatasetNotFound):
        open_dataset(store)
    result = job.commit(tasks=3)
    assert result.manifest == 1
    assert result.discarded == 6
    dataset = open_dataset(store)
    assert {s.path for s in dataset.shards} == visible_shards(store, job.id)
    assert sorted(read_all(store), key=str) == sorted(expected, key=str)
    dataset.verify()
    # Nothing of the losers is left; of the bookkeeping, the plan's small tombstone.
    assert {i.path for i in store.list_files("", recursive=True)} == {
        "_manifest/00000000000000000001.json",
        "_jobs/job-a/plan.json",
        *visible_shards(store, job.id),
    }
    assert job.commit().manifest == 1  # committing again is a no-op


def test_commit_requires_every_task_when_told_how_many(store: Store) -> None:
    job = Job(store, "job-m")
    run_attempt(store, job.id, 0, "x")
    with pytest.raises(MissingTasks):
        job.commit(tasks=2)
    with pytest.raises(MissingTasks):
        Job(store, "empty-job").commit()
    assert visible_shards(store, job.id) == set()
    run_attempt(store, job.id, 1, "y")
    assert job.commit(tasks=2).manifest == 1


def test_a_task_killed_mid_shard_leaves_nothing_visible(store: Store) -> None:
    job = Job(store, "job-k")
    dead = TaskAttempt(store, job.id, 0, "dead")
    zombie = dead.open_shard()
    for i in range(1000):
        zombie.write({"i": i})
    zombie.flush()  # bytes reached the store's temp file or upload; never closed
    done = TaskAttempt(store, job.id, 1, "done")
    with done.open_shard() as writer:
        writer.write({"x": 1})
    # Killed between task commit and job commit: staged, never committed.
    between = TaskAttempt(store, job.id, 2, "between")
    with between.open_shard() as writer:
        writer.write({"y": 2})
    done.commit()
    assert visible_shards(store, job.id) == set()
    result = job.commit()
    assert [s.task for s in result.shards] == [1]
    assert read_all(store) == [{"x": 1}]
    assert store.cleanup("", older_than=timedelta(0)).removed == ()
    zombie.abort()


def test_a_late_attempt_is_refused_after_the_commit(store: Store) -> None:
    job = Job(store, "job-l")
    run_attempt(store, job.id, 0, "first")
    late = TaskAttempt(store, job.id, 0, "late")
    with late.open_shard() as writer:
        writer.write({"late": True})
    job.commit()
    with pytest.raises(JobClosed):
        late.commit()
    assert all(r["attempt"] == "first" for r in read_all(store))


def _faulty(store: Store) -> tuple[Store, FaultInjectionLayer]:
    layer = FaultInjectionLayer(store.unwrap())
    return Store(layer, store.root), layer


def test_a_driver_killed_while_publishing_resumes(store: Store) -> None:
    job_id = "job-p"
    for task in range(4):
        run_attempt(store, job_id, task, "a")
    faulty, layer = _faulty(store)
    layer.fail_nth("publish_staged", 3, temporary=False)  # the driver dies mid-publish
    with pytest.raises(StorageError):
        Job(faulty, job_id).commit()
    with pytest.raises(DatasetNotFound):
        open_dataset(store)  # some shards are published, but no manifest names them
    # A late attempt of task 0 whose id sorts first must not change the plan's choice:
    # it is refused (S3's create-only stage already sees task 0's published shard), and
    # its staged shards are discarded.
    with pytest.raises((JobClosed, AlreadyExists)):
        run_attempt(store, job_id, 0, "0-early")
    Job(store, job_id).commit(tasks=4)
    rows = read_all(store)
    assert {r["attempt"] for r in rows} == {"a"}
    assert len(rows) == 4 * 2 * 20


def test_a_lost_reply_on_publish_is_not_a_failure(store: Store) -> None:
    run_attempt(store, "job-r", 0, "a", shards=3)
    faulty, layer = _faulty(store)
    layer.lose_reply("publish_staged", 2)
    with pytest.raises(BackendUnavailable):
        Job(faulty, "job-r").commit()
    Job(faulty, "job-r").commit()  # the publish whose reply was lost finds its object
    assert len(read_all(store)) == 60
    # Behind a retry layer the same lost reply never reaches the caller.
    run_attempt(store, "job-s", 0, "a", shards=3)
    faulty, layer = _faulty(store)
    layer.lose_reply("publish_staged", 1)
    Job(Store(RetryLayer(faulty.unwrap()), store.root), "job-s").commit()
    assert len(read_all(store)) == 120


def test_a_lost_reply_on_the_manifest_write_commits_once(store: Store) -> None:
    run_attempt(store, "job-q", 0, "a")
    faulty, layer = _faulty(store)
    layer.add(Fault("publish", "lose_reply", nth=1, key=lambda k: "/_manifest/" in f"/{k}"))
    with pytest.raises(BackendUnavailable):
        Job(faulty, "job-q").commit()
    assert open_dataset(store).jobs == ("job-q",)  # it landed: the reply was lost
    assert Job(store, "job-q").commit().manifest == 1
    assert latest_manifest(store) == Manifest(1, ("job-q",), open_dataset(store).shards)


def test_abort_removes_everything_a_dead_job_left(store: Store) -> None:
    job = Job(store, "job-x")
    run_attempt(store, job.id, 0, "a")
    run_attempt(store, job.id, 0, "b")
    zombie = TaskAttempt(store, job.id, 1, "z").open_shard()
    zombie.write({"z": 1})
    zombie.flush()
    assert job.abort() == 4
    assert {i.path for i in store.list_files("", recursive=True)} == {"_jobs/job-x/plan.json"}
    assert store.cleanup("", older_than=timedelta(0)).removed == ()
    with pytest.raises(JobAborted):
        job.commit()
    with pytest.raises(DatasetNotFound):
        open_dataset(store)
    zombie.abort()


def test_abort_refuses_a_started_commit_unless_forced(store: Store) -> None:
    job_id = "job-f"
    run_attempt(store, job_id, 0, "a")
    run_attempt(store, job_id, 1, "a")
    faulty, layer = _faulty(store)
    layer.fail_nth("publish_staged", 2, temporary=False)
    with pytest.raises(StorageError):
        Job(faulty, job_id).commit()
    with pytest.raises(JobCommitStarted):
        Job(store, job_id).abort()
    Job(store, job_id).abort(force=True)
    assert visible_shards(store, job_id) == set()
    with pytest.raises(JobAborted):
        Job(store, job_id).commit()


def test_abort_after_a_commit_keeps_the_dataset(store: Store) -> None:
    run_attempt(store, "job-c", 0, "a")
    Job(store, "job-c").commit()
    Job(store, "job-c").abort()
    assert len(read_all(store)) == 40


def test_appends_make_new_manifest_versions(store: Store) -> None:
    for n in range(3):
        run_attempt(store, f"job-{n}", 0, "a", shards=1, records=5)
        assert Job(store, f"job-{n}").commit().manifest == n + 1
    dataset = open_dataset(store)
    assert dataset.version == 3
    assert dataset.jobs == ("job-0", "job-1", "job-2")
    assert len(read_all(store)) == 15


@pytest.mark.parametrize("retries", [0, 64])
def test_racing_appends_one_wins_each_version(store: Store, retries: int) -> None:
    jobs = [f"race-{n}" for n in range(6)]
    for job in jobs:
        run_attempt(store, job, 0, "a", shards=1, records=3)
    barrier = threading.Barrier(len(jobs))
    outcomes: dict[str, object] = {}

    def commit(job: str) -> None:
        barrier.wait()
        try:
            outcomes[job] = Job(store, job).commit(retries=retries).manifest
        except CommitConflict as exc:
            outcomes[job] = exc

    threads = [threading.Thread(target=commit, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = sorted(v for v in outcomes.values() if isinstance(v, int))
    dataset = open_dataset(store)
    assert won == list(range(1, len(won) + 1))  # one winner per version, no gaps
    assert set(dataset.jobs) == {j for j, v in outcomes.items() if isinstance(v, int)}
    assert len(read_all(store)) == 3 * len(won)
    if retries:
        assert len(won) == len(jobs)
    else:
        assert won  # somebody wins; every loser got a typed conflict
        assert all(isinstance(v, (int, CommitConflict)) for v in outcomes.values())


def test_a_tampered_shard_or_manifest_is_detected(store: Store) -> None:
    run_attempt(store, "job-t", 0, "a", shards=1)
    Job(store, "job-t").commit()
    dataset = open_dataset(store)
    shard = dataset.shards[0]
    store.write(shard.path, b"short", overwrite=True)
    with pytest.raises(ManifestError):
        dataset.verify()
    with pytest.raises(ManifestError):
        list(dataset.records())
    bad = Manifest(2, dataset.jobs, ())
    write_manifest(store, bad)
    store.write("_manifest/00000000000000000003.json", b'{"format": "nope"}')
    with pytest.raises(ManifestError):
        open_dataset(store)


@pytest.mark.parametrize(
    "change",
    [
        {"path": "../escape.ndjson.zst"},
        {"path": "other-job/t000000-0000.ndjson.zst"},
        {"path": "_manifest/00000000000000000009.json"},
        {"records": -1},
        {"sha256": "zz"},
        {"token": {"format": "omnistorage.staged"}},
        {"job": "other"},
    ],
)
def test_a_forged_task_commit_is_refused(store: Store, change: dict[str, Any]) -> None:
    run_attempt(store, "job-h", 0, "a", shards=1)
    path = task_commit_path("job-h", 0, "a")
    commit = json.loads(store.read_bytes(path))
    commit["shards"][0].update(change)
    store.write(path, json.dumps(commit).encode(), overwrite=True)
    with pytest.raises(ManifestError):
        Job(store, "job-h").commit()
    with pytest.raises(DatasetNotFound):
        open_dataset(store)
    assert {i.path for i in store.list_files("", recursive=True)} == {path}
