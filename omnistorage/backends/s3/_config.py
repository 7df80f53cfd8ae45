"""S3 limits, part sizing, URL parsing and client construction (no I/O here).

Part sizing (:func:`layout`, the rule of :class:`omnistorage._parts.PartLayout`)
keeps every streaming upload under S3's 10,000-part limit: with a ``size_hint``
the first part is grown so the object fits; without one, the part size doubles
every :data:`PART_GROWTH_INTERVAL` parts (capped at 5 GiB), so any object below
the 5 TiB S3 limit fits. Memory stays bounded by about
``(max_concurrency + 1) x current part size``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from omnistorage._net import RetryBudget
from omnistorage._parts import PartLayout
from omnistorage.backends.s3._page import read_pages_ourselves
from omnistorage.errors import ConfigurationError
from omnistorage.options import OptionSchema, anything, excluding, integer, number, text, url

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "MAX_OBJECT_SIZE",
    "MAX_PARTS",
    "MAX_PART_SIZE",
    "MAX_SINGLE_COPY",
    "MIN_PART_SIZE",
    "MiB",
    "OPTIONS",
    "PART_GROWTH_INTERVAL",
    "bound_retries",
    "build_client",
    "chain_secrets",
    "layout",
    "parse_timestamp",
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


def layout(part_size: int, single_put_max: int = 0) -> PartLayout:
    """The part layout of the S3 writer for a configured ``part_size`` (and the largest
    object of known size it sends with one ``PutObject``)."""
    return PartLayout(
        part_size,
        max_parts=MAX_PARTS,
        max_part_size=MAX_PART_SIZE,
        growth_interval=PART_GROWTH_INTERVAL,
        single_put_max=single_put_max,
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
    retry_budget: RetryBudget | None = None,
) -> S3Client:
    """A boto3 S3 client. Without explicit keys the normal boto3 credential chain is used.
    With ``retry_budget`` botocore's retries are bounded by it (:func:`bound_retries`)."""
    import boto3.session
    import botocore.session
    from botocore.config import Config

    core = botocore.session.get_session()
    # botocore parses each listed key's LastModified with dateutil: half a listing's
    # client time. ISO 8601 times go through datetime.fromisoformat instead.
    core.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=parse_timestamp
    )
    session = boto3.session.Session(
        botocore_session=core,
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
    client = session.client("s3", endpoint_url=endpoint_url, config=config)
    read_pages_ourselves(client, parse_timestamp)
    if retry_budget is not None:
        bound_retries(client, retry_budget)
    return client


def parse_timestamp(value: Any) -> datetime:
    """A timestamp of an S3 answer, as botocore's default parser reads it, but ISO 8601
    UTC times (``2026-01-02T03:04:05.000Z``: every listing entry) parsed by
    :meth:`datetime.fromisoformat`, a hundred times faster than dateutil. Anything else
    (HTTP dates of headers, epoch numbers) goes to botocore's parser, which raises on
    what it cannot read."""
    if isinstance(value, str) and len(value) >= 20 and value[-1] == "Z" and value[10] == "T":
        try:
            naive = datetime.fromisoformat(value[:-1])
        except ValueError:
            pass
        else:
            if naive.tzinfo is None:  # "…+01:00Z" is no UTC time: botocore decides
                return naive.replace(tzinfo=UTC)
    from botocore.utils import parse_timestamp as botocore_parse

    return botocore_parse(value)


_STARTED = "omnistorage_started"


def bound_retries(client: Any, budget: RetryBudget) -> None:
    """Make botocore start a retry only within ``budget`` of the call's start
    (:mod:`omnistorage._net`): the call's start is stamped into its request context
    (``before-call``), and a handler that runs before botocore's own retry handler
    answers ``False`` ("no retry") to ``needs-retry`` once another silent attempt
    could end past the budget. Every retry mode's handler defers to it, since botocore
    takes the first handler's answer that is not ``None``."""
    service = client.meta.service_model.service_id.hyphenize()

    def stamp(context: Any = None, **_: Any) -> None:
        if isinstance(context, dict):
            context.setdefault(_STARTED, time.monotonic())

    def veto(request_dict: Any = None, **_: Any) -> bool | None:
        context = request_dict.get("context") if isinstance(request_dict, dict) else None
        started = context.get(_STARTED) if isinstance(context, dict) else None
        if started is not None and not budget.allows(started):
            return False
        return None

    client.meta.events.register(f"before-call.{service}", stamp)
    client.meta.events.register_first(f"needs-retry.{service}", veto)


OPTIONS = OptionSchema(
    "s3",
    text("bucket", required=True, forbidden="/", example="omni-bucket"),
    url("endpoint_url", nullable=True, example="http://127.0.0.1:9000"),
    text("region", nullable=True, example="eu-west-1"),
    text("access_key_id", nullable=True, secret=True, example="AKIAOMNIEXAMPLE"),
    text("secret_access_key", nullable=True, secret=True, example="omni-s3-secret-example"),
    text("session_token", nullable=True, secret=True, example="omni-s3-token-example"),
    text("profile", nullable=True, example="omni-profile"),
    text("addressing_style", choices=ADDRESSING_STYLES),
    integer("part_size", ge=MIN_PART_SIZE, le=MAX_PART_SIZE, unit="bytes"),
    integer("max_concurrency", ge=1),
    integer("read_concurrency", ge=1),
    integer("read_block_size", ge=1, unit="bytes"),
    integer("list_page_size", ge=1, le=1000),
    integer("max_attempts", ge=1),
    text("retry_mode", choices=RETRY_MODES),
    number("connect_timeout", gt=0, unit="seconds"),
    number("read_timeout", gt=0, unit="seconds"),
    number("retry_budget", gt=0, unit="seconds"),
    integer("multipart_copy_threshold", ge=MIN_PART_SIZE, le=MAX_SINGLE_COPY, unit="bytes"),
    anything("client", example=object()),
    # A key id and its secret travel together; a session token needs both.
    requires={
        "secret_access_key": ("access_key_id",),
        "access_key_id": ("secret_access_key",),
        "session_token": ("access_key_id", "secret_access_key"),
    },
    conflicts=excluding(
        "client",
        "endpoint_url",
        "region",
        "access_key_id",
        "secret_access_key",
        "session_token",
        "profile",
    ),
)
"""The options of :class:`~omnistorage.backends.s3.S3Backend`, checked without I/O."""


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
