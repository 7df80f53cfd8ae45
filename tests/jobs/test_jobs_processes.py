"""Tokens and task commits across real process boundaries: tasks in their own processes
(one killed mid-shard with its bytes in the store, one killed between task commit and
job commit), a driver process killed in the middle of its publishes, and a new driver
that finishes the job from what the store holds."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from omnistorage import Store
from omnistorage.ext._layer import Layer
from omnistorage.jobs import DatasetNotFound, Job, TaskAttempt, open_dataset
from tests.jobs._stores import SERVER_KINDS, Spec, open_spec

MiB = 1 << 20

_OPTIONS: dict[str, dict[str, Any]] = {"s3": {"part_size": 5 * MiB}}


def _store(spec: Spec) -> Store:
    return open_spec(spec, **_OPTIONS.get(spec[0], {}))


def _task(spec: Spec, job: str, task: int, attempt: str, fate: str) -> None:
    store = _store(spec)
    at = TaskAttempt(store, job, task, attempt)
    writer = at.open_shard()
    if fate == "die_mid_shard":
        # Enough incompressible bytes that parts (S3) or a temp file (local) hold them.
        for _ in range(96):
            writer.write({"blob": os.urandom(64 * 1024).hex()})
        writer.flush()
        os._exit(9)  # killed: no close, no abort, no interpreter shutdown
    for i in range(50):
        writer.write({"task": task, "attempt": attempt, "i": i})
    writer.close()
    at.commit()
    if fate == "die_after_task_commit":
        os._exit(9)
    store.close()


class _DieAfterPublishes(Layer):
    """Kills the process right after the ``n``-th staged publish returns."""

    forwards_staging = True

    def __init__(self, inner: Any, n: int) -> None:
        super().__init__(inner)
        self.left = n

    def publish_staged(self, key: str, staged: Mapping[str, Any], *, overwrite: bool) -> Any:
        version = super().publish_staged(key, staged, overwrite=overwrite)
        self.left -= 1
        if self.left == 0:
            os._exit(9)
        return version


def _driver(spec: Spec, job: str, die_after: int) -> None:
    store = _store(spec)
    Job(Store(_DieAfterPublishes(store.unwrap(), die_after), store.root), job).commit()


def _run(target: Any, *args: Any) -> int:
    ctx = multiprocessing.get_context("spawn")
    process = ctx.Process(target=target, args=args)
    process.start()
    process.join(240)
    assert process.exitcode is not None, "child did not finish"
    return process.exitcode


@pytest.mark.parametrize(
    "kind", ["local", *[pytest.param(k, marks=pytest.mark.server) for k in SERVER_KINDS]]
)
def test_tasks_and_driver_in_separate_processes(
    kind: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.jobs._stores import new_spec

    spec = new_spec(kind, str(tmp_path_factory.mktemp("procs")))
    store = _store(spec)
    job = "job-procs"
    try:
        fates = {
            (0, "a"): "ok",
            (0, "b"): "ok",  # a speculative duplicate
            (1, "a"): "die_mid_shard",
            (1, "b"): "ok",
            (2, "a"): "die_after_task_commit",
            (3, "a"): "ok",
        }
        codes = {key: _run(_task, spec, job, key[0], key[1], fate) for key, fate in fates.items()}
        assert codes[1, "a"] == 9
        assert codes[2, "a"] == 9
        assert all(code == 0 for key, code in codes.items() if fates[key] == "ok")
        assert store.cleanup(job, older_than=timedelta(0), dry_run=True).removed, (
            "the killed task left nothing to clean: the test does not test a kill"
        )
        # The first driver dies after two of its four publishes.
        assert _run(_driver, spec, job, 2) == 9
        with pytest.raises(DatasetNotFound):
            open_dataset(store)
        result = Job(store, job).commit(tasks=4)
        assert [s.task for s in result.shards] == [0, 1, 2, 3]
        rows = list(open_dataset(store).records())
        by_task: dict[int, set[str]] = {}
        for row in rows:
            by_task.setdefault(row["task"], set()).add(row["attempt"])
        assert by_task == {0: {"a"}, 1: {"b"}, 2: {"a"}, 3: {"a"}}
        assert len(rows) == 4 * 50
        assert store.cleanup("", older_than=timedelta(0), dry_run=True).removed == ()
        manifest = json.loads(store.read_bytes("_manifest/00000000000000000001.json"))
        assert manifest["format"] == "omnistorage.dataset"
    finally:
        store.cleanup("", older_than=timedelta(0))
        if kind in SERVER_KINDS:
            from tests.support import remote

            remote.wipe(store)
        else:
            store.close()
