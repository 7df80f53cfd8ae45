"""``ListObjectsV2`` pages, with the server's pagination checked where it is used.

botocore's paginator stops silently at a truncated page without a token and catches a
token only when it comes back on the very next page; a listing that ends early looks
like deleted files to a sync, and a loop never ends. Here a page that says it is
truncated must carry a token, and no token may come back: either is
:class:`~omnistorage.errors.CorruptDataError`, never a silently short listing.

(Asking for the next page in a worker thread while this one is used was measured: no
gain against moto, whose answer time per page dominates, since the token is known only
once botocore has parsed the whole page.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from omnistorage.errors import CorruptDataError

__all__ = ["list_pages"]


def list_pages(client: Any, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The pages of ``client.list_objects_v2(**request)``, in order."""
    seen: set[str] = set()
    token: str | None = None
    while True:
        extra = {} if token is None else {"ContinuationToken": token}
        page: dict[str, Any] = client.list_objects_v2(**request, **extra)
        token = _next_token(page, seen, request)
        yield page
        if token is None:
            return


def _next_token(page: dict[str, Any], seen: set[str], request: dict[str, Any]) -> str | None:
    """The token of the page after ``page`` (``None``: it is the last), checked."""
    if not page.get("IsTruncated"):
        return None
    token = page.get("NextContinuationToken")
    where = f"s3://{request.get('Bucket', '')}/{request.get('Prefix', '')}"
    if not isinstance(token, str) or not token:
        raise CorruptDataError(
            f"listing {where}: the server said the page is truncated but gave no continuation token"
        )
    if token in seen:
        raise CorruptDataError(
            f"listing {where}: the server sent a continuation token twice (a listing loop)"
        )
    seen.add(token)
    return token
