"""Quick start: a Store over a local folder (default: a fresh temp folder).

    python examples/quickstart.py [FOLDER]

Shows atomic and create-only writes, reads, ranged reads, folder-aware
listing, copy/move, and typed errors. Runs on embedded defaults only.
"""

from __future__ import annotations

import sys
import tempfile

import omnistorage


def main(folder: str) -> None:
    store = omnistorage.open_store(folder)
    print(f"store: {store.native_path()}")

    # Writes are atomic and create-only unless you say overwrite=True.
    store.write("reports/2026/summary.txt", b"all good\n")
    try:
        store.write("reports/2026/summary.txt", b"oops")
    except omnistorage.AlreadyExists as exc:
        print(f"create-only refused: {exc.path}")
    store.write_text("reports/2026/summary.txt", "still all good\n", overwrite=True)

    # Stream a larger object; it appears only when the block exits cleanly.
    with store.open_atomic("logs/app.log") as writer:
        for i in range(1000):
            writer.write(f"event {i}\n".encode())

    # An exception inside open_atomic publishes nothing.
    try:
        with store.open_atomic("logs/broken.log") as writer:
            writer.write(b"half a record")
            raise RuntimeError("crash mid-write")
    except RuntimeError:
        pass
    print(f"broken.log exists: {store.exists('logs/broken.log')}")

    print(f"summary: {store.read_text('reports/2026/summary.txt').strip()}")
    print(f"bytes 6..15 of app.log: {store.read_range('logs/app.log', 6, 10)!r}")

    store.write("data/a.csv", b"x\n1\n")
    store.write("database.txt", b"not in data/")
    listed = sorted(info.path for info in store.list_files("data", recursive=True))
    print(f"files under data/: {listed}")
    print(f"*.log anywhere: {[i.path for i in store.glob('**/*.log')]}")

    store.copy("data/a.csv", "backup/a.csv")
    store.move("backup/a.csv", "archive/a.csv")
    info = store.get_file_info("archive/a.csv")
    print(f"archive/a.csv: {info.size} bytes, modified {info.modified:%Y-%m-%d %H:%M:%S}")

    try:
        store.read_bytes("../etc/passwd")
    except omnistorage.InvalidPath as exc:
        print(f"refused: {exc}")
    try:
        store.read_bytes("missing.txt")
    except FileNotFoundError as exc:  # omnistorage.NotFound is a FileNotFoundError
        print(f"typed error: {type(exc).__name__}")

    logs = store.child("logs")
    print(f"child store sees: {[i.path for i in logs.list_files()]}")
    store.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="omnistorage-quickstart-"))
