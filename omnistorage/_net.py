"""Network defaults every network backend shares (S3, GCS, Azure, SFTP, HTTP), and the
retry budget that bounds how long one call may take when a server goes silent.

Each network backend takes ``connect_timeout`` (seconds to connect), ``read_timeout``
(seconds a server may stay silent: the wait for the first byte of an answer, and any
pause inside one), ``retries`` (extra attempts after the first, for temporary errors
only, inside the client library) and ``retry_budget`` (seconds), with these defaults.

**The budget.** A retry starts only when it could still end within ``retry_budget``
seconds of the call's start if the server stayed silent through it, i.e. when
``elapsed + backoff + max(connect_timeout, read_timeout) <= retry_budget``. So:

- a refused connection, a reset or a 5xx fails fast and is retried ``retries`` times
  (a server that is down fails within a few seconds);
- a server that accepts connections and never answers, or answers the headers and
  then stalls the body, fails after one ``read_timeout`` (10 s): another silent
  attempt would end past the budget;
- a host that drops packets fails after one or two ``connect_timeout``.

Every failure of that kind is :class:`~omnistorage.errors.BackendUnavailable` with
``temporary=True``, so callers and :class:`~omnistorage.ext.RetryLayer` decide what
to do next. A transfer that makes progress is never cut by the budget: only the
decision to start another attempt is. Raise ``read_timeout`` (and the budget) for
a server that legitimately thinks longer than 10 s before its first byte.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_RETRIES",
    "DEFAULT_RETRY_BUDGET",
    "RetryBudget",
    "endpoint_authority",
]

DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
DEFAULT_RETRY_BUDGET = 15.0


class RetryBudget:
    """Whether one more attempt of a call fits the budget (see the module docstring).

    Args:
        budget: seconds from the call's start within which any attempt must be able
            to end.
        connect_timeout, read_timeout: the longest one silent attempt waits.
    """

    __slots__ = ("budget", "wait")

    def __init__(
        self,
        budget: float = DEFAULT_RETRY_BUDGET,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        if not budget > 0:
            raise ValueError(f"retry_budget must be positive, got {budget!r}")
        self.budget = float(budget)
        self.wait = max(float(connect_timeout), float(read_timeout))

    @staticmethod
    def start() -> float:
        """The clock at a call's start (what :meth:`allows` takes)."""
        return time.monotonic()

    def allows(self, started: float, delay: float = 0.0) -> bool:
        """True when an attempt starting after ``delay`` more seconds could still end
        within the budget of a call that started at ``started``."""
        return time.monotonic() - started + delay + self.wait <= self.budget

    def __repr__(self) -> str:
        return f"RetryBudget(budget={self.budget:g}, wait={self.wait:g})"


def endpoint_authority(url: str) -> str:
    """A service endpoint URL as a canonical, credential-free authority for
    :class:`~omnistorage.models.Location`: lowercase scheme and host, the default port
    dropped, no user-info, query or trailing ``/`` (the path stays: an emulator's account
    may live there). ``https://S3.example.com:443/`` and ``https://s3.example.com`` are
    one authority."""
    split = urlsplit(url.strip())
    scheme = split.scheme.lower()
    host = (split.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = split.port
    except ValueError:
        port = None
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    path = split.path.rstrip("/")
    return f"{scheme}://{host}{path}" if scheme else f"{host}{path}"


_DEFAULT_PORTS = {"http": 80, "https": 443}
