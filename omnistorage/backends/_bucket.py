"""Telling a missing bucket from a missing object where the service's answer cannot.

A ``HEAD`` has no body, so S3 answers a missing object and a missing bucket
with the same bare 404; the GCS emulator answers every 404 without a reason.
Where a driver gets such an ambiguous "not found", it asks
:meth:`BucketCheck.raise_if_missing`, which asks the service whether the
bucket exists and raises :class:`~omnistorage.errors.BucketMissing` when it
does not. A positive answer is trusted for :data:`TRUST_SECONDS`, so a store
whose bucket exists pays one extra request per that interval, not one per
missing object; a negative answer is never kept (the bucket may be created
the next moment). When the question itself fails (no permission to ask about
the bucket, a dropped connection), the driver's "not found" stands.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

from omnistorage.errors import BucketMissing, Classification, ErrorKind

__all__ = ["TRUST_SECONDS", "BucketCheck", "name_bucket"]

TRUST_SECONDS = 60.0
"""How long an answer "the bucket exists" is trusted before it is asked again."""


class BucketCheck:
    """Whether one bucket (container, share) exists, asked only when it matters.

    Args:
        name: the bucket's name (for the error).
        noun: what the backend calls it (``"bucket"``, ``"container"``).
        exists: asks the service (one request); may raise when it cannot tell.
    """

    def __init__(self, name: str, noun: str, exists: Callable[[], bool]) -> None:
        self._name = name
        self._noun = noun
        self._exists = exists
        self._lock = threading.Lock()
        self._seen_at: float | None = None

    def raise_if_missing(self) -> None:
        """Raise :class:`BucketMissing` when the service says the bucket does not exist."""
        with self._lock:
            seen_at = self._seen_at
        if seen_at is not None and time.monotonic() - seen_at < TRUST_SECONDS:
            return
        try:
            there = self._exists()
        except Exception:  # noqa: BLE001 - cannot tell: the caller's "not found" stands
            return
        if not there:
            raise BucketMissing(self._name, self._noun)
        with self._lock:
            self._seen_at = time.monotonic()

    def forget(self) -> None:
        """Ask again next time (after the bucket was deleted here)."""
        with self._lock:
            self._seen_at = None


def name_bucket(found: Classification, bucket: str, noun: str) -> Classification:
    """``found``, naming ``bucket`` when it is a missing bucket's verdict without a name."""
    if found.kind is ErrorKind.BUCKET_NOT_FOUND and found.bucket is None:
        return dataclasses.replace(found, bucket=bucket, noun=noun)
    return found
