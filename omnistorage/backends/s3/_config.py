"""S3 limits, part sizing, URL parsing and client construction (no I/O here).

Part sizing (:func:`layout`, the rule of :class:`omnistorage._parts.PartLayout`)
keeps every streaming upload under S3's 10,000-part limit: with a ``size_hint``
the first part is grown so the object fits; without one, the part size doubles
every :data:`PART_GROWTH_INTERVAL` parts (capped at 5 GiB), so any object below
the 5 TiB S3 limit fits. Memory stays bounded by about
``(max_concurrency + 1) x current part size``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from omnistorage._parts import PartLayout
from omnistorage.errors import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "MAX_OBJECT_SIZE",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MAX_SINGLE_COPY",
    "MIN_PART_SIZE",
    "MiB",
    "PART_GROWTH_INTERVAL",
    "build_client",
    "chain_secrets",
    "check_options",
    "layout",
    "parse_url",
    "without_userinfo",
]

MiB = 1 << 20
GiB = 1 << 30
MIN_PART_SIZE = 5 * MiB
"""S3's smallest part (all but the last)."""
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 * 1024 * GiB
MAX_SINGLE_COPY = 5 * GiB
"""The largest object ``CopyObject`` copies in one call."""
PART_GROWTH_INTERVAL = 900
"""Parts between two doublings of the part size when the total size is unknown.

With the 5 MiB minimum part, 10,000 parts grown this way hold about 9 TiB,
more than S3's 5 TiB object limit."""

ADDRESSING_STYLES = ("auto", "path", "virtual")
RETRY_MODES = ("standard", "adaptive", "legacy")


def layout(part_size: int) -> PartLayout:
    """The part layout of the S3 writer for a configured ``part_size``."""
    return PartLayout(
        part_size,
        max_parts=MAX_PARTS,
        max_part_size=MAX_PART_SIZE,
        growth_interval=PART_GROWTH_INTERVAL,
    )


def parse_url(split: SplitResult) -> tuple[dict[str, Any], str]:
    """``s3://bucket/prefix?endpoint_url=…&region=…`` → (``{"bucket": …}``, ``prefix``).

    Query parameters become backend options (the registry adds them).
    Credentials never go in the URL's user-info part: a URL with one is refused
    so that it cannot end up in logs; use options, a profile or the environment.
    """
    if "@" in split.netloc:
        raise ConfigurationError("s3:// URLs take no user-info; pass credentials as options")
    bucket = split.netloc
    if not bucket:
        raise ConfigurationError("s3:// URLs need a bucket: s3://bucket/prefix")
    return {"bucket": bucket}, unquote(split.path).strip("/")


def build_client(
    *,
    endpoint_url: str | None,
    region: str | None,
    access_key_id: str | None,
    secret_access_key: str | None,
    session_token: str | None,
    profile: str | None,
    addressing_style: str,
    max_attempts: int,
    retry_mode: str,
    connect_timeout: float,
    read_timeout: float,
    max_pool_connections: int,
) -> S3Client:
    """A boto3 S3 client. Without explicit keys the normal boto3 credential chain is used."""
    import boto3.session
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        aws_session_token=session_token,
        region_name=region,
        profile_name=profile,
    )
    s3_options: Any = {"addressing_style": addressing_style}
    retries: Any = {"total_max_attempts": max_attempts, "mode": retry_mode}
    config = Config(
        s3=s3_options,
        retries=retries,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=max_pool_connections,
        user_agent_extra="omnistorage",
    )
    return session.client("s3", endpoint_url=endpoint_url, config=config)


def check_options(
    *,
    bucket: str,
    addressing_style: str,
    part_size: int,
    max_concurrency: int,
    read_concurrency: int,
    read_block_size: int,
    list_page_size: int,
    max_attempts: int,
    retry_mode: str,
    multipart_copy_threshold: int,
) -> None:
    problems = []
    if not isinstance(bucket, str) or not bucket or "/" in bucket:
        problems.append(f"bucket must be a bucket name, got {bucket!r}")
    if addressing_style not in ADDRESSING_STYLES:
        problems.append(f"addressing_style must be one of {ADDRESSING_STYLES}")
    if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
        problems.append(f"part_size must be between 5 MiB and 5 GiB, got {part_size}")
    if max_concurrency < 1 or read_concurrency < 1:
        problems.append("max_concurrency and read_concurrency must be >= 1")
    if read_block_size < 1:
        problems.append("read_block_size must be >= 1")
    if not 1 <= list_page_size <= 1000:
        problems.append(f"list_page_size must be between 1 and 1000, got {list_page_size}")
    if max_attempts < 1:
        problems.append("max_attempts must be >= 1")
    if retry_mode not in RETRY_MODES:
        problems.append(f"retry_mode must be one of {RETRY_MODES}")
    if not MIN_PART_SIZE <= multipart_copy_threshold <= MAX_SINGLE_COPY:
        problems.append("multipart_copy_threshold must be between 5 MiB and 5 GiB")
    if problems:
        raise ConfigurationError("s3 backend: " + "; ".join(problems))


def without_userinfo(url: str | None) -> str | None:
    if not url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def chain_secrets(client: Any) -> tuple[str, ...]:
    """Static credentials the client resolved itself (from the environment or a profile)."""
    from botocore.credentials import Credentials

    signer = getattr(client, "_request_signer", None)
    credentials = getattr(signer, "_credentials", None)
    if type(credentials) is not Credentials:  # refreshable ones rotate: nothing fixed to scrub
        return ()
    values = (credentials.access_key, credentials.secret_key, credentials.token)
    return tuple(v for v in values if v)
