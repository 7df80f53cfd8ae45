"""The engine-agnostic core on one machine (ThreadEngine, local folders): the result of
a distributed sync equals a single-process sync's, deletes wait for the whole job, the
state is checked when read back, and specs refuse credentials."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnistorage import ConfigurationError, LocalBackend, Store
from omnistorage.distributed import StateError, StoreSpec, ThreadEngine, copy, sync
from omnistorage.sync import sync as single_sync

NAMES = st.sampled_from(["a", "a.txt", "a-b", "a0", "b", "é", "z"])
KEYS = st.lists(NAMES, min_size=1, max_size=3).map("/".join)
TREES = st.dictionaries(KEYS, st.binary(max_size=8), max_size=12)


def put(root: Path, tree: dict[str, bytes], mtime: int) -> None:
    """Write ``tree`` with every file's mtime ``mtime`` (seconds; the clock's coarse ticks
    would otherwise make two trees' times equal or not by chance), skipping keys that a
    previous key made a file's folder (or vice versa)."""
    for key, data in tree.items():
        target = root / key
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            continue
        os.utime(target, (mtime, mtime))


def contents(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(src_tree=TREES, dst_tree=TREES, chunk=st.integers(1, 4), same_time=st.booleans())
def test_a_distributed_sync_leaves_what_a_single_process_sync_leaves(
    tmp_path_factory: pytest.TempPathFactory,
    src_tree: dict[str, bytes],
    dst_tree: dict[str, bytes],
    chunk: int,
    same_time: bool,
) -> None:
    base = tmp_path_factory.mktemp("model")
    for name in ("src", "dst", "ref"):
        (base / name).mkdir()
    put(base / "src", src_tree, 1_700_000_000)
    put(base / "dst", dst_tree, 1_700_000_000 if same_time else 1_600_000_000)
    put(base / "ref", dst_tree, 1_700_000_000 if same_time else 1_600_000_000)
    expected = single_sync(Store(LocalBackend(base / "src")), Store(LocalBackend(base / "ref")))
    report = sync(
        ThreadEngine(3),
        StoreSpec(str(base / "src")),
        StoreSpec(str(base / "dst")),
        StoreSpec(str(base / "state")),
        chunk_size=chunk,
    )
    assert report.ok == expected.ok
    assert contents(base / "dst") == contents(base / "ref")
    assert report.counts == expected.counts
    assert sorted(report.copied) == sorted(expected.copied)
    assert report.listed == expected.listed


def tree(root: Path, n: int, prefix: str = "") -> None:
    for i in range(n):
        target = root / prefix / f"d{i % 4}" / f"f{i:03d}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f"{prefix}{i}".encode())


def specs(tmp_path: Path) -> tuple[StoreSpec, StoreSpec, StoreSpec]:
    return (
        StoreSpec(str(tmp_path / "src")),
        StoreSpec(str(tmp_path / "dst")),
        StoreSpec(str(tmp_path / "state")),
    )


def test_a_failing_chunk_blocks_every_delete(tmp_path: Path) -> None:
    tree(tmp_path / "src", 40)
    tree(tmp_path / "dst", 10, "extra")
    src, dst, state = specs(tmp_path)
    victims = sorted((tmp_path / "src").rglob("f03*"))

    def lose_source_files(done: int, total: int, result: dict[str, object]) -> None:
        if done == 1:  # after planning: a later chunk meets missing source files
            for path in victims:
                path.unlink(missing_ok=True)

    report = sync(ThreadEngine(1), src, dst, state, chunk_size=5, on_chunk=lose_source_files)
    assert not report.ok
    assert report.skipped["not deleted: errors in this job"] == 10
    assert len(list((tmp_path / "dst" / "extra").rglob("f*"))) == 10
    assert report.counts["deleted"] == 0


def test_max_delete_counts_the_whole_job(tmp_path: Path) -> None:
    tree(tmp_path / "src", 12)
    tree(tmp_path / "dst", 12, "extra")
    src, dst, state = specs(tmp_path)
    report = sync(ThreadEngine(2), src, dst, state, chunk_size=2, max_delete=11)
    assert not report.ok
    assert report.counts["deleted"] == 0
    assert len(list((tmp_path / "dst" / "extra").rglob("f*"))) == 12
    assert any("max_delete=11" in e.error for e in report.errors)


def test_backup_dir_receives_the_jobs_deletes_and_overwrites(tmp_path: Path) -> None:
    tree(tmp_path / "src", 8)
    tree(tmp_path / "dst", 3, "extra")
    (tmp_path / "dst" / "d0").mkdir(parents=True)
    (tmp_path / "dst" / "d0" / "f000").write_bytes(b"older and longer")
    src, dst, state = specs(tmp_path)
    backup = StoreSpec(str(tmp_path / "backup"))
    report = sync(ThreadEngine(2), src, dst, state, chunk_size=2, backup_dir=backup)
    assert report.ok, report.errors
    assert contents(tmp_path / "dst") == contents(tmp_path / "src")
    kept = contents(tmp_path / "backup")
    assert kept["d0/f000"] == b"older and longer"
    assert {k for k in kept if k.startswith("extra/")} == {
        "extra/d0/f000",
        "extra/d1/f001",
        "extra/d2/f002",
    }


def test_a_rerun_resumes_with_the_chunks_that_have_no_result(tmp_path: Path) -> None:
    tree(tmp_path / "src", 30)
    src, dst, state = specs(tmp_path)
    ran: list[int] = []

    def stop_after_two(done: int, total: int, result: dict[str, object]) -> None:
        ran.append(int(result["index"]))  # type: ignore[call-overload]
        if len(ran) == 2:
            raise KeyboardInterrupt  # the client dies here

    with pytest.raises(KeyboardInterrupt):
        copy(ThreadEngine(1), src, dst, state, chunk_size=5, on_chunk=stop_after_two)
    first = list(ran)
    ran.clear()
    recorded = {int(p.stem) for p in (tmp_path / "state" / "results").iterdir()}
    assert set(first) <= recorded  # a chunk in flight when the client died may finish too
    report = copy(
        ThreadEngine(1),
        src,
        dst,
        state,
        chunk_size=5,
        on_chunk=lambda *a: ran.append(a[2]["index"]),
    )  # type: ignore[index]
    assert report.ok
    assert sorted(ran) == sorted(set(range(6)) - recorded)
    assert len(ran) <= 4
    assert report.counts["copied"] == 30
    assert contents(tmp_path / "dst") == contents(tmp_path / "src")


def test_a_finished_job_plans_afresh(tmp_path: Path) -> None:
    tree(tmp_path / "src", 6)
    src, dst, state = specs(tmp_path)
    assert sync(ThreadEngine(2), src, dst, state).counts["copied"] == 6
    (tmp_path / "src" / "new").write_bytes(b"n")
    again = sync(ThreadEngine(2), src, dst, state)
    assert again.copied == ["new"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("path", "../escape"),
        ("path", "a//b"),
        ("op", "rename"),
        ("op", "delete_src"),
        ("size", -1),
        ("size", "12"),
        ("entry", None),
        ("entry_path", "other"),
        ("mtime", 1.5),
    ],
)
def test_a_tampered_chunk_is_refused_before_any_action(
    tmp_path: Path, field: str, value: object
) -> None:
    tree(tmp_path / "src", 4)
    src, dst, state = specs(tmp_path)
    assert copy(ThreadEngine(1), src, dst, state).ok
    manifest = json.loads((tmp_path / "state" / "manifest.json").read_bytes())
    manifest["finished"] = False
    (tmp_path / "state" / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "state" / "results" / "000000.json").unlink()
    chunk_file = tmp_path / "state" / "chunks" / "000000.json"
    chunk = json.loads(chunk_file.read_bytes())
    action = chunk["actions"][0]
    slot = {"op": 0, "path": 1, "size": 3, "entry": 5}
    if field == "entry_path":
        action[5][0] = value
    elif field == "mtime":
        action[5][2] = value
    else:
        action[slot[field]] = value
    chunk_file.write_text(json.dumps(chunk))
    for p in (tmp_path / "dst").rglob("*"):
        if p.is_file():
            p.unlink()
    report = copy(ThreadEngine(1), src, dst, state)
    assert not report.ok
    assert any("chunk 0 failed" in e.error and "state" in e.error for e in report.errors)
    assert not (tmp_path / "escape").exists()
    assert not any((tmp_path / "dst").rglob("f*")), "the bad chunk acted"


@pytest.mark.parametrize(
    "manifest",
    [
        b"not json",
        b"[]",
        b'{"format": "other/9"}',
        b'{"format": "omnistorage.distributed/1", "ident": "x"}',
    ],
)
def test_a_foreign_or_broken_manifest_is_refused(tmp_path: Path, manifest: bytes) -> None:
    tree(tmp_path / "src", 2)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "manifest.json").write_bytes(manifest)
    src, dst, state = specs(tmp_path)
    with pytest.raises(StateError):
        sync(ThreadEngine(1), src, dst, state)
    assert not (tmp_path / "dst").exists() or not any((tmp_path / "dst").iterdir())


@pytest.mark.parametrize(
    ("address", "options"),
    [
        ("s3://AKID:hunter22@bucket/x", {}),
        ("sftp://user:hunter22@host/x", {}),
        ("s3://bucket/x?secret_access_key=hunter22", {}),
        ("az://c/x?connection_string=AccountKey%3Dabcd", {}),
        ("s3://bucket/x", {"secret_access_key": "hunter22"}),
        ("gs://bucket/x", {"access_token": "hunter22"}),
        ("sftp://host/x", {"password": "hunter22"}),
    ],
)
def test_a_spec_holding_a_credential_is_refused_without_echoing_it(
    address: str, options: dict[str, str]
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        StoreSpec(address, options=options)
    assert "hunter22" not in str(caught.value)


@pytest.mark.parametrize(
    "option", [{"max_transfer": 10}, {"track_renames": True}, {"delete_mode": "during"}]
)
def test_options_that_cannot_hold_for_a_whole_job_are_refused(
    tmp_path: Path, option: dict[str, object]
) -> None:
    src, dst, state = specs(tmp_path)
    with pytest.raises(ValueError, match=next(iter(option))):
        sync(ThreadEngine(1), src, dst, state, **option)


def test_importing_omnistorage_loads_no_engine() -> None:
    import subprocess
    import sys

    code = (
        "import sys, omnistorage, omnistorage.distributed; "
        "print([m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'ray')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert os.environ is not None


def test_a_chunk_run_again_copies_only_what_its_earlier_attempt_left(tmp_path: Path) -> None:
    tree(tmp_path / "src", 10)
    src, dst, state = specs(tmp_path)
    assert copy(ThreadEngine(1), src, dst, state, chunk_size=10).counts["copied"] == 10
    # As if the worker died after copying all but one file, before recording the result.
    manifest = json.loads((tmp_path / "state" / "manifest.json").read_bytes())
    (tmp_path / "state" / "manifest.json").write_text(json.dumps({**manifest, "finished": False}))
    (tmp_path / "state" / "results" / "000000.json").unlink()
    (tmp_path / "dst" / "d1" / "f005").unlink()
    (tmp_path / "dst" / "d2" / "f006").write_bytes(b"a torn older copy")
    results: list[dict[str, object]] = []
    report = copy(ThreadEngine(1), src, dst, state, on_chunk=lambda *a: results.append(a[2]))
    assert report.ok
    assert results[0]["already_done"] == 8
    assert sorted(report.copied) == ["d1/f005", "d2/f006"]
    assert contents(tmp_path / "dst") == contents(tmp_path / "src")
