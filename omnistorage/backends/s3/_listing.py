"""``ListObjectsV2`` pages, with the server's pagination checked where it is used.

botocore's paginator stops silently at a truncated page without a token and catches a
token only when it comes back on the very next page; a listing that ends early looks
like deleted files to a sync, and a loop never ends. Here a page that says it is
truncated must carry a token, and no token may come back: either is
:class:`~omnistorage.errors.CorruptDataError`, never a silently short listing.

While a page is parsed and used, the next one is already asked for: the raw body shows
the next continuation token before botocore's call returns (``_page.raw_pages``), so the
request for the next page goes out on a worker thread while this page is parsed (on
clients whose pages ``_page.py`` parses). That request is only a guess until the page
is parsed: its answer is used only if the parsed token, checked as above, is the token
it asked with; otherwise it is dropped and no more pages are asked for ahead. A listing
closed early asks for nothing more. (Asking ahead only after botocore had parsed the
page was measured before and gained nothing: the token came too late.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from omnistorage.backends.s3._page import raw_pages
from omnistorage.errors import CorruptDataError

__all__ = ["list_pages"]

_SEND_WAIT = 0.05  # seconds a page waits for the next request to go out before parsing
_OPEN = b"<NextContinuationToken>"
_CLOSE = b"</NextContinuationToken>"

_Fetched = tuple[dict[str, Any], "tuple[str, Future[Any]] | None"]


def list_pages(client: Any, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The pages of ``client.list_objects_v2(**request)``, in order."""
    ahead = _Ahead(client, request)
    seen: set[str] = set()
    try:
        page, guess = ahead.fetch(None)
        while True:
            token = _next_token(page, seen, request)
            if guess is not None and guess[0] != token:
                ahead.stop()  # a wrong guess: dropped, and no more guessing
                guess[1].cancel()
                guess = None
            yield page
            if token is None:
                return
            page, guess = guess[1].result() if guess is not None else ahead.fetch(token)
    finally:
        ahead.stop()


class _Ahead:
    """Requests for the pages of one listing, each asking for the next one as soon as
    its raw answer shows the token (on a worker thread: at most two in flight)."""

    def __init__(self, client: Any, request: dict[str, Any]) -> None:
        self._client = client
        self._request = request
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._stopped = False

    def fetch(self, token: str | None, sent: threading.Event | None = None) -> _Fetched:
        """The page after ``token``, and the request already sent for the page after it
        (its guessed token and its future), if one was. ``sent`` is set once the request
        has gone out (or failed before)."""
        guessed: list[tuple[str, Future[Any]]] = []

        def seen(body: bytes) -> None:
            guess = _raw_token(body)
            if guess is not None and not guessed:
                sent = threading.Event()
                future = self._submit(guess, sent)
                if future is not None:
                    guessed.append((guess, future))
                    # The parse ahead holds the GIL for milliseconds in one C call: the
                    # worker sends its request first (then it waits on the socket).
                    sent.wait(_SEND_WAIT)

        extra = {} if token is None else {"ContinuationToken": token}
        before = raw_pages.seen, raw_pages.sending
        raw_pages.seen, raw_pages.sending = seen, (None if sent is None else sent.set)
        try:
            page: dict[str, Any] = self._client.list_objects_v2(**self._request, **extra)
        finally:
            raw_pages.seen, raw_pages.sending = before
            if sent is not None:
                sent.set()
        return page, (guessed[0] if guessed else None)

    def _submit(self, token: str, sent: threading.Event) -> Future[Any] | None:
        with self._lock:
            if self._stopped:
                return None
            if self._pool is None:
                self._pool = ThreadPoolExecutor(2, thread_name_prefix="omnistorage-s3-list")
            return self._pool.submit(self.fetch, token, sent)

    def stop(self) -> None:
        """Ask for nothing more (what is in flight finishes, unused)."""
        with self._lock:
            self._stopped = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _raw_token(body: bytes) -> str | None:
    """The next continuation token as it stands in the raw ``body``, when it can be read
    without parsing (no markup or character reference inside); ``None`` otherwise."""
    start = body.find(_OPEN)
    if start < 0:
        return None
    start += len(_OPEN)
    end = body.find(_CLOSE, start)
    raw = body[start:end] if end > start else b""
    if not raw or b"&" in raw or b"<" in raw or body.find(_OPEN, end) >= 0:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


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
