"""Azure Blob Storage limits and the driver's sizes (no I/O here)."""

from __future__ import annotations

__all__ = ["BATCH", "GROW_EVERY", "MAX_BLOCKS", "MAX_BLOCK_SIZE", "MAX_PAGE", "MiB", "READ_CHUNK"]

MiB = 1024 * 1024
READ_CHUNK = 4 * MiB
MAX_BLOCK_SIZE = 4000 * MiB
MAX_BLOCKS = 50_000
GROW_EVERY = 10_000
BATCH = 256
MAX_PAGE = 5000
