"""Distributed check on one machine (ThreadEngine, local folders): its report equals the
single-process check's for any two trees and filters, a killed run resumes with only the
chunks left, and a state document that lies is refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnistorage import LocalBackend, Store
from omnistorage.distributed import StateError, StoreSpec, ThreadEngine, check
from omnistorage.distributed._check import check_chunk
from omnistorage.sync import Filters
from omnistorage.sync import check as single_check
from tests.distributed.test_core import TREES, put


def specs(root: Path) -> tuple[StoreSpec, StoreSpec, StoreSpec]:
    return tuple(StoreSpec(str(root / name)) for name in ("src", "dst", "state"))  # type: ignore[return-value]


def report_of(report: object) -> dict[str, object]:
    doc = report.to_dict()  # type: ignore[attr-defined]
    doc.pop("duration")
    return doc


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    src=TREES,
    dst=TREES,
    chunk=st.integers(1, 4),
    one_way=st.booleans(),
    download=st.booleans(),
    filters=st.sampled_from([None, ("- a*",), ("- **/b",), ("+ a/**", "- *"), 4]),
)
def test_a_distributed_check_reports_what_a_single_process_check_does(
    tmp_path_factory: pytest.TempPathFactory,
    src: dict[str, bytes],
    dst: dict[str, bytes],
    chunk: int,
    one_way: bool,
    download: bool,
    filters: tuple[str, ...] | int | None,
) -> None:
    root = tmp_path_factory.mktemp("check")
    put(root / "src", src, 1_700_000_000)
    put(root / "dst", dst, 1_700_000_000)
    (root / "src").mkdir(exist_ok=True)
    (root / "dst").mkdir(exist_ok=True)
    chosen = (
        None
        if filters is None
        else Filters(max_size=filters)
        if isinstance(filters, int)
        else Filters(rules=filters)
    )
    options = {"one_way": one_way, "download": download, "filters": chosen}
    expected = single_check(
        Store(LocalBackend(root / "src")), Store(LocalBackend(root / "dst")), **options
    )
    got = check(ThreadEngine(2), *specs(root), chunk_size=chunk, **options)
    assert report_of(got) == report_of(expected)
    assert got.ok == expected.ok


def tree(root: Path, files: int) -> None:
    for i in range(files):
        target = root / f"p{i % 3}" / f"f{i:03d}.bin"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(os.urandom(32 + i))


def test_a_killed_check_resumes_with_only_the_chunks_left(tmp_path: Path) -> None:
    tree(tmp_path / "src", 30)
    tree(tmp_path / "dst", 30)  # same names, other bytes: every pair differs
    (tmp_path / "src" / "only-src").write_bytes(b"x")
    src, dst, state = specs(tmp_path)
    done: list[int] = []

    def stop_after_two(count: int, total: int, result: dict[str, object]) -> None:
        done.append(int(result["index"]))  # type: ignore[call-overload]
        if count == 2:
            raise KeyboardInterrupt  # the client dies mid-job

    with pytest.raises(KeyboardInterrupt):
        check(ThreadEngine(1), src, dst, state, chunk_size=5, on_chunk=stop_after_two)
    recorded = {int(p.stem) for p in (tmp_path / "state" / "check-results").iterdir()}
    assert set(done) <= recorded  # and a chunk in flight at the kill may have finished
    rerun: list[int] = []
    report = check(
        ThreadEngine(1),
        src,
        dst,
        state,
        chunk_size=5,
        on_chunk=lambda count, total, result: rerun.append(int(result["index"])),  # type: ignore[call-overload]
    )
    assert sorted(rerun) == sorted(set(range(6)) - recorded)
    assert len(report.differ) == 30
    assert report.missing_on_dst == ["only-src"]
    assert not report.ok
    # Finished: the next run checks afresh (every chunk again).
    again: list[int] = []
    check(ThreadEngine(1), src, dst, state, chunk_size=5, on_chunk=lambda *a: again.append(1))
    assert len(again) == 6


def test_a_state_pair_that_lies_is_refused(tmp_path: Path) -> None:
    tree(tmp_path / "src", 4)
    tree(tmp_path / "dst", 4)
    src, dst, state = specs(tmp_path)
    check(ThreadEngine(1), src, dst, state, chunk_size=10)
    chunk = tmp_path / "state" / "check" / "000000.json"
    doc = json.loads(chunk.read_bytes())
    doc["pairs"][0][1][0] = "p9/elsewhere.bin"  # the destination entry of another path
    chunk.write_text(json.dumps(doc))
    from omnistorage.distributed._worker import JobSpec

    job = JobSpec(doc["job"], "check", src, dst, state, None, {})
    with pytest.raises(StateError, match="a pair of"):
        check_chunk(job, 0, False)
    doc["pairs"][0][1][0] = "../../etc/passwd"
    chunk.write_text(json.dumps(doc))
    with pytest.raises(StateError, match="not a valid key"):
        check_chunk(job, 0, False)


def test_a_failing_listing_is_an_error_of_the_check(tmp_path: Path) -> None:
    tree(tmp_path / "src", 4)
    src, _, state = specs(tmp_path)
    missing = StoreSpec(str(tmp_path / "no-such-folder"))
    report = check(ThreadEngine(1), src, missing, state)
    expected = single_check(
        Store(LocalBackend(tmp_path / "src")), Store(LocalBackend(tmp_path / "no-such-folder"))
    )
    assert report.ok == expected.ok
    assert report.missing_on_dst == expected.missing_on_dst
