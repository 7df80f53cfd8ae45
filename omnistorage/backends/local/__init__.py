"""The local-filesystem backend.

- **Containment by descriptors.** The backend holds its root folder open and
  reaches every key beneath it by descriptor, never by a checked path: one
  ``openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`` on Linux ≥ 5.6, else a
  walk of ``openat(O_NOFOLLOW | O_DIRECTORY)`` calls, then ``dir_fd=``
  operations. Nothing is cached, so a folder swapped for a symlink is refused
  by the next call; a race cannot turn a check into a use elsewhere.
- **Symlinks are never followed**, inside the root or out: a key that runs
  through one raises ``PermissionError`` (``SymlinkRefused``, classified
  PERMISSION_DENIED) naming it; listings skip symlinks; ``exists`` is False.
  Overwriting a key whose name is a symlink replaces the link itself.
- **Atomic writes**: data goes to a temp file in the target's folder (name
  from :mod:`omnistorage._tempname`: random per attempt, fork-safe, cut by
  bytes, a prefix no key may use), published through the folder descriptor
  held since the writer opened: ``rename`` (overwrite) or ``link``
  (create-only: of racing writers exactly one wins). Overwrite keeps the
  replaced file's mode (and owner where permitted); new files follow the
  umask. ``durable=True`` also fsyncs the file and the folder.
- **Crash leftovers**: temp files of killed writers are reported by
  ``list_leftovers`` and removed by ``Store.cleanup`` and
  ``delete_folder(recursive=True)``.
- **A read sees one version.** Pinned reads hold the open file: an overwrite
  (a rename) leaves the opened version readable. A rewrite in place (same
  inode) is caught by the file's version token (device, inode, mtime_ns,
  ctime_ns, size), checked after each pinned range read and when a streaming
  read reaches the end: the read raises ``ChangedDuringRead`` rather than
  return bytes of two versions (``_reader.py`` says which rewrites the
  kernel's coarse timestamps hide). Folders are real (``MKDIR``); modification times can be
  set; content types are guessed from the extension; user metadata is not
  stored.
- On a filesystem without hard links, create-only falls back to an
  ``O_EXCL`` placeholder replaced by the data: still one winner, but a
  reader may briefly see an empty file.
"""

from omnistorage.backends.local._backend import LocalBackend
from omnistorage.backends.local._resolve import EscapesRoot, SymlinkRefused

__all__ = ["EscapesRoot", "LocalBackend", "SymlinkRefused"]
