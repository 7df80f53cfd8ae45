"""A model of sync and bisync with filters, failures and backups: no file is ever lost or
altered without a backup or a reported error.

Sync: random source and destination trees (names that differ only in case included),
random filters, a destination, backup store or source that fails some operations, a
backup store or none, sync or copy. Whatever happens, every file the destination held
ends as it was, or holds the source's bytes for its path (never a mix), or is gone only
after a run without errors, only where the source lacks it and the filters include it;
every overwritten or deleted file is in the backup when one was given; what the report
says was copied, updated or deleted is what happened; the source is never changed.

Bisync: a synced pair, random edits and deletes on both sides since, random filters and
failures, the default conflict rule. Every version either side held before the run is
afterwards somewhere (under its name or as a kept conflict version), unless the other
side deleted that path and the version was the one both held after the last run.
"""

from __future__ import annotations

import itertools
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from omnistorage import MemoryBackend, Store
from omnistorage.backends.sql import SQLBlobBackend
from omnistorage.ext import FaultInjectionLayer
from omnistorage.sync import Filters, bisync, copy, sync
from tests.sync.support import contents

PATHS = ["a/x.txt", "a/y.log", "b/z", "B/Z", "top.txt", "Top.TXT", "c/deep/w.bin"]
path = st.sampled_from(PATHS)
data = st.binary(min_size=0, max_size=30)
tree = st.dictionaries(path, data, max_size=6)
FILTERS = [
    None,
    Filters.exclude("*.log"),
    Filters.include("a/**"),
    Filters(max_size=12),
    Filters(min_size=3),
    Filters(rules=("- /b/**", "+ *.txt", "- **")),
]
OPS = ["open_write", "publish", "delete", "move", "copy", "open_read", "stat", "list"]
fault = st.one_of(
    st.none(),
    st.tuples(st.sampled_from(["src", "dst", "backup"]), st.sampled_from(OPS), st.integers(1, 4)),
)
_clock = itertools.count()

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def stamp() -> datetime:
    return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=next(_clock))


def put(store: Store, files: dict[str, bytes]) -> None:
    for key, value in files.items():
        store.write(key, value, overwrite=True, modified=stamp())


def included(filters: Filters | None, key: str, value: bytes) -> bool:
    return filters is None or filters.matches(key, size=len(value))


@SETTINGS
@given(
    initial=tree,
    existing=tree,
    filters=st.sampled_from(FILTERS),
    failure=fault,
    with_backup=st.booleans(),
    mode=st.sampled_from(["sync", "copy"]),
    nocase=st.booleans(),
)
def test_sync_loses_nothing_without_a_backup_or_an_error(
    initial: dict[str, bytes],
    existing: dict[str, bytes],
    filters: Filters | None,
    failure: tuple[str, str, int] | None,
    with_backup: bool,
    mode: str,
    nocase: bool,
) -> None:
    if nocase:  # a real case-insensitive destination: names differing in case collide
        existing = _unique_ignoring_case(existing)
    with tempfile.TemporaryDirectory() as folder:
        _run_sync(initial, existing, filters, failure, with_backup, mode, nocase, folder)


def _unique_ignoring_case(files: dict[str, bytes]) -> dict[str, bytes]:
    seen: dict[str, str] = {}
    for key in sorted(files):
        seen.setdefault(key.casefold(), key)
    return {key: files[key] for key in seen.values()}


def _nocase_table(folder: str) -> SQLBlobBackend:
    url = f"sqlite:///{folder}/dst.db"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE t (key TEXT PRIMARY KEY COLLATE NOCASE, data BLOB, size INTEGER, "
                "modified_at TIMESTAMP)"
            )
        )
    engine.dispose()
    return SQLBlobBackend(url, table="t")


def _run_sync(
    initial: dict[str, bytes],
    existing: dict[str, bytes],
    filters: Filters | None,
    failure: tuple[str, str, int] | None,
    with_backup: bool,
    mode: str,
    nocase: bool,
    folder: str,
) -> None:
    layers = {name: FaultInjectionLayer(MemoryBackend()) for name in ("src", "backup")}
    layers["dst"] = FaultInjectionLayer(_nocase_table(folder) if nocase else MemoryBackend())
    src, dst, backup = (Store(layers[name]) for name in ("src", "dst", "backup"))
    put(src, initial)
    put(dst, existing)
    if failure is not None:
        where, op, nth = failure
        layers[where].fail_nth(op, nth, times=None, temporary=False)
    run = sync if mode == "sync" else copy
    report = run(
        src,
        dst,
        filters=filters,
        backup_dir=backup if with_backup else None,
        retries=0,
        checkers=2,
        transfers=2,
    )
    for layer in layers.values():
        layer.clear()
    after, kept = contents(dst), contents(backup)
    assert contents(src) == initial  # the source is never changed
    for key, old in existing.items():
        now = after.get(key)
        if now == old:
            continue
        if now is not None:  # rewritten: with the source's bytes only, never a mix
            assert now == initial.get(key), key
        else:  # deleted: only by a run without errors before its deletes, of a file
            # the source lacks (a delete that fails stops the ones after it, not before)
            assert mode == "sync", key
            assert all(e.op == "delete" for e in report.errors), (key, report.errors)
            assert key not in initial, key
            assert included(filters, key, old), key
        if with_backup:
            assert kept.get(key) == old, key  # what was replaced or deleted is kept
    for key, value in after.items():
        if key not in existing:
            assert value == initial[key], key  # new files are the source's
    if any(e.op != "delete" for e in report.errors):
        assert report.deleted == []
    for key in report.deleted:
        assert key not in after
    for key in report.copied + report.updated:
        assert after.get(key) == initial[key], key
    dst.close()


def _versions(*sides: dict[str, bytes]) -> set[bytes]:
    return {value for side in sides for value in side.values()}


@SETTINGS
@given(
    base=tree,
    edits1=tree,
    edits2=tree,
    deletes1=st.sets(path, max_size=3),
    deletes2=st.sets(path, max_size=3),
    filters=st.sampled_from(FILTERS),
    failure=fault,
)
def test_bisync_loses_no_version_the_state_does_not_prove_deleted(
    base: dict[str, bytes],
    edits1: dict[str, bytes],
    edits2: dict[str, bytes],
    deletes1: set[str],
    deletes2: set[str],
    filters: Filters | None,
    failure: tuple[str, str, int] | None,
) -> None:
    layers = [FaultInjectionLayer(MemoryBackend()) for _ in range(2)]
    one, two = Store(layers[0]), Store(layers[1])
    with _state() as state:
        put(one, base)
        first = bisync(one, two, state=state)
        assert first.ok, list(first.all_errors())
        synced = contents(one)
        assert synced == contents(two)
        for store, edits, deletes in ((one, edits1, deletes1), (two, edits2, deletes2)):
            put(store, edits)
            for key in deletes - set(edits):
                store.delete(key, missing_ok=True)
        before = (contents(one), contents(two))
        if failure is not None:
            where, op, nth = failure
            layers[0 if where == "src" else 1].fail_nth(op, nth, times=None, temporary=False)
        report = bisync(one, two, state=state, filters=filters, retries=0)
        for layer in layers:
            layer.clear()
        after = (contents(one), contents(two))
    everywhere = _versions(*after)
    for side, held in enumerate(before):
        other_before = before[1 - side]
        for key, value in held.items():
            if value in everywhere:
                continue
            # Gone: only a version both sides held after the last run that the other side
            # changed since: replaced by its edit, or deleted by a run without errors.
            assert synced.get(key) == value, (key, value)
            if key in other_before:
                assert other_before[key] != value, key
                assert after[side].get(key) == other_before[key], key
            else:
                assert report.ok, list(report.all_errors())
    if not report.ok:
        assert report.path1_to_path2.deleted == report.path2_to_path1.deleted == []


class _state:
    def __enter__(self) -> Path:
        self._dir = tempfile.TemporaryDirectory()
        return Path(self._dir.name) / "pair.bisync"

    def __exit__(self, *exc: object) -> None:
        self._dir.cleanup()
