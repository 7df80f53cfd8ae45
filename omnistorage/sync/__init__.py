"""Sync, copy, move, check and bisync between any two Stores, with rclone's safety.

>>> from omnistorage import MemoryBackend, Store
>>> from omnistorage.sync import sync, check
>>> src, dst = Store(MemoryBackend()), Store(MemoryBackend())
>>> _ = src.write("a/1.txt", b"one")
>>> sync(src, dst).counts["copied"]
1
>>> check(src, dst).ok
True

The shape is rclone's: a **march** walks the two sides' listings sorted by
path in lock step (each side listed once, sorted with bounded memory:
runs spilled to disk past ``listing_buffer`` entries), a pure **decide**
step compares each pair, and an **executor** runs transfers and deletes on
worker pools (``transfers``, ``checkers``).

**No HEAD per object.** The default comparison uses what listings return,
plus evidence fetched only when the listings cannot settle a file:

1. sizes known and different: transfer;
2. a hash both sides carry (listings; a local file's hash, read once and then
   cached by its version: inode, size, mtime and ctime; ``stat``): equal skips, different
   transfers. An S3 listing's ETag counts when it *equals* the other side's
   MD5, or, for a multipart object, the ETag computed for the local file with
   the parts our S3 writer cuts for its size (equal part MD5s: equal content);
3. equal sizes and both mtimes comparable: the destination keeps the source's
   mtime where it has ``SET_MOD_TIME`` (local, memory, SFTP, GCS, Azure, SQL),
   or in rclone's ``mtime`` metadata entry (S3, read with ``stat`` only when
   steps 1-2 could not decide). Equal within the coarser precision of the two
   sides (``modify_window``) skips, different transfers;
4. nothing proves equality: transfer.

A file whose content changed at equal size is therefore never skipped
(unless someone restored its old mtime by hand, the trust rclone and rsync
also put in mtimes), except with ``compare="size"``. Where a side keeps
whole seconds (SFTP; Azure objects written without a kept mtime show the
server's time in seconds), a rewrite at equal size within the same second
looks unchanged, as it does to rclone: ``compare="checksum"`` settles such
files by content. A size of ``None``
(unknown until produced, as for SQL query results) never equals anything:
such files are transferred unless a matching hash proves them equal. A no-op
re-sync from local files to S3 costs one listing per side plus cached local
hashes; only changed files and multipart objects uploaded with other parts
(another tool, another part size) cost a ``HEAD``.

**Safety.** No deletes after any error in the run (a failed transfer or
check, a listing error, a foreign key: a name another tool wrote that the
key grammar refuses, also when a mirror's member or a composite tier lists
it). ``max_delete``/``max_delete_size`` stop the deletes with a
:class:`SyncError`. ``backup_dir`` keeps what would be deleted or
overwritten; a backup that fails (a missing bucket or folder, a refused
permission) fails that file, which is then neither overwritten nor deleted.
Filters never become deletions: a source file a filter hides leaves its
path alone on the destination, and a hidden destination file that an
included source file replaces is an update (compared, backed up).
``track_renames`` turns a renamed source file into a move on the
destination. Retries only for temporary errors. ``cancel`` stops the run and
publishes nothing partial (every write is atomic).

**Rules that hold whatever the stores.** Stores that overlap are refused
before any I/O, judged by location (:meth:`omnistorage.Store.overlaps`:
two ``open_store`` calls, a profile and a URL, a symlink, a mirror member or
a composite tier on one place overlap), for the source, the destination and
``backup_dir`` alike. A source is read as one version: a file rewritten in
place while it is read (seen by its strong version token) or an object
replaced under a pinned read fails the copy (retried, else an error), never
publishes a mix. A destination that folds names
(``Features.case_insensitive``/``normalizes_unicode``: a ``COLLATE NOCASE``
table, a case-insensitive volume) never gets two names that are one there:
every such name is an error, left alone on both sides. A create-only
``copy_file`` whose publish reply was lost recognises its own object (same
size and hash) instead of reporting ``AlreadyExists``. What the engine
decides from a backend it reads in :class:`~omnistorage.Features` (mtime
precision, whether a copy keeps mtimes, what an ETag means, whether reads
are local, whether a version token is strong), never from a backend's name,
so a third-party backend declaring the same facts is treated the same.
Server-side copies are used when both stores share one backend object that
declares ``COPY`` (open both from one backend, e.g. with ``store.child()``).

Options of :func:`sync`, :func:`copy`, :func:`move`, :func:`plan` (and,
where they apply, :func:`execute` and :func:`bisync`):

=================== ============================================================
``compare``         ``"default"`` (the rule above), ``"size"``, ``"checksum"``
``ignore_existing`` never touch a file that exists on the destination
``update``          skip files newer on the destination
``filters``         a :class:`Filters` (rclone rule syntax, sizes, ages)
``delete_mode``     ``"after"`` (default), ``"during"``, ``"before"`` (sync)
``delete_excluded`` also delete destination files the filters exclude
``max_delete``      at most this many deletes, else none and an error
``max_delete_size`` the same, in bytes
``backup_dir``      a Store receiving files about to be deleted or overwritten
``track_renames``   renamed source files become moves on the destination
``checkers``        parallel comparisons and deletes (8)
``transfers``       parallel transfers (16: object stores answer each request after a
                    round trip, so many small files need many in flight; each
                    streamed transfer holds one 1 MiB chunk plus its writer's
                    buffers, e.g. S3 multipart: (max_concurrency + 1) parts;
                    between two stores that both read locally, files under 1 MiB
                    are copied one at a time by the thread that planned them)
``retries``         retries per file of temporary errors (3)
``retry_backoff``   first backoff in seconds, doubled per retry (0.5)
``bwlimit``         bytes per second over all streamed transfers
``tpslimit``        per-file operations per second
``max_transfer``    bytes; ``cutoff_mode`` ``"hard"``, ``"soft"``, ``"cautious"``
``cancel``          a ``threading.Event`` or a function returning True to stop
``progress``        a callback receiving :class:`Progress`, never concurrently
``record_paths``    keep path lists in the report (False: counts only)
``hash_cache``      True (default location), a path, or False (see below)
``hash_type``       hash computed while streaming (``"md5"``)
``modify_window``   a ``timedelta``: mtimes this close are equal
``listing_buffer``  entries per side held in memory before spilling (20,000)
``spill_dir``       where spilled sorted runs go (the system temp folder)
=================== ============================================================

The hash cache lives in ``$XDG_CACHE_HOME/omnistorage/sync-hashes.sqlite3``
(``~/.cache`` by default), never in a synced tree. It holds digests of files
on stores whose backend reads locally (``Features.reads_local``), keyed by
where the file is and valid while the backend's strong version token
(``stat``'s ``etag``) is unchanged.
"""

from omnistorage.sync._api import copy, execute, move, plan, sync
from omnistorage.sync._bisync import bisync
from omnistorage.sync._check import check
from omnistorage.sync._errors import SyncError
from omnistorage.sync._files import copy_file, move_file
from omnistorage.sync._filters import Filters
from omnistorage.sync._plan import Action, Plan
from omnistorage.sync._progress import Progress
from omnistorage.sync._report import (
    BisyncReport,
    CheckReport,
    Conflict,
    ErrorEntry,
    SyncReport,
)

__all__ = [
    "Action",
    "BisyncReport",
    "CheckReport",
    "Conflict",
    "ErrorEntry",
    "Filters",
    "Plan",
    "Progress",
    "SyncError",
    "SyncReport",
    "bisync",
    "check",
    "copy",
    "copy_file",
    "execute",
    "move",
    "move_file",
    "plan",
    "sync",
]
