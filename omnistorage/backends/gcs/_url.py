"""``gs://`` and ``gcs://`` URLs → backend options (the registry adds the query parameters)."""

from __future__ import annotations

from typing import Any
from urllib.parse import SplitResult, unquote

from omnistorage.errors import ConfigurationError

__all__ = ["parse_url"]


def parse_url(split: SplitResult) -> tuple[dict[str, Any], str]:
    """``gs://bucket/prefix`` → (``{"bucket": "bucket"}``, ``"prefix"``)."""
    bucket = split.netloc
    if not bucket:
        raise ConfigurationError("GCS URLs name a bucket: gs://bucket/prefix")
    if "@" in bucket or ":" in bucket:
        raise ConfigurationError(f"GCS URLs name only a bucket, got {bucket!r}")
    return {"bucket": bucket}, unquote(split.path).strip("/")
