"""Mirror a folder, verify it, follow changes, and keep two folders in step both ways.

    python examples/sync_folders.py [FOLDER]

Everything happens below FOLDER (default: a fresh temp folder): a ``photos``
tree is mirrored into ``mirror`` with :func:`omnistorage.sync.sync`, checked
with :func:`~omnistorage.sync.check`, changed and re-synced (only the change
moves; deletes are kept aside in ``backup`` first), planned as a dry run, and
finally ``laptop`` and ``nas`` are kept in step both ways with
:func:`~omnistorage.sync.bisync`. Runs on local folders only.
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta

from omnistorage import Store, open_store
from omnistorage.sync import Filters, bisync, check, sync


def fill(store: Store, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        store.write(path, data, overwrite=True)


def main(folder: str) -> None:
    os.makedirs(folder, exist_ok=True)
    photos = open_store(os.path.join(folder, "photos"))
    mirror = open_store(os.path.join(folder, "mirror"))
    backup = open_store(os.path.join(folder, "backup"))
    fill(
        photos,
        {
            "2024/beach.jpg": os.urandom(40_000),
            "2024/city.jpg": os.urandom(25_000),
            "2025/snow.jpg": os.urandom(30_000),
            "notes.txt": b"where the photos were taken\n",
            "cache/thumbs.db": b"generated",
        },
    )

    no_cache = Filters.exclude("cache/")
    first = sync(photos, mirror, filters=no_cache)
    print(f"first sync: {first.counts['copied']} copied, ok={first.ok}")
    again = sync(photos, mirror, filters=no_cache)
    print(f"re-sync: nothing to do {again.skipped}")
    verified = check(photos, mirror, filters=no_cache)
    print(f"check: {len(verified.match)} identical, ok={verified.ok} {verified.compared_by}")

    # Change one photo, delete another, then preview and run the sync.
    later = datetime.now(UTC) + timedelta(seconds=2)
    photos.write("2024/beach.jpg", os.urandom(40_000), overwrite=True, modified=later)
    photos.delete("2024/city.jpg")
    preview = sync(photos, mirror, filters=no_cache, dry_run=True)
    assert preview.plan is not None
    for action in preview.plan.actions:
        print(f"would {action.op} {action.path} ({action.reason})")
    done = sync(photos, mirror, filters=no_cache, backup_dir=backup, max_delete=10)
    print(f"sync: updated {done.updated}, deleted {done.deleted}, ok={done.ok}")
    print(f"kept in backup: {sorted(i.path for i in backup.list_files(recursive=True))}")
    print(f"mirror matches: {check(photos, mirror, filters=no_cache).ok}")

    # Two-way: each side's changes reach the other; the state file proves deletions.
    laptop = open_store(os.path.join(folder, "laptop"))
    nas = open_store(os.path.join(folder, "nas"))
    state = os.path.join(folder, "laptop-nas.bisync")
    fill(laptop, {"todo.txt": b"buy film\n"})
    fill(nas, {"music/song.flac": b"la la la"})
    first_run = bisync(laptop, nas, state=state)
    print(
        f"bisync first run: to nas {first_run.path1_to_path2.copied}, "
        f"to laptop {first_run.path2_to_path1.copied}"
    )
    laptop.delete("todo.txt")
    nas.write("music/song2.flac", b"dum dum")
    second = bisync(laptop, nas, state=state)
    print(
        f"bisync: deleted on nas {second.path1_to_path2.deleted}, "
        f"copied to laptop {second.path2_to_path1.copied}, ok={second.ok}"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="omni-sync-"))
