"""Finding the test servers that ``scripts/servers.sh`` starts.

In CI (``CI`` or ``OMNI_REQUIRE_SERVERS`` set) a missing server is a test
failure, never a skip.
"""

from __future__ import annotations

import os

import pytest


def servers_required() -> bool:
    return bool(os.environ.get("OMNI_REQUIRE_SERVERS") or os.environ.get("CI"))


def server_env(*names: str) -> dict[str, str]:
    """The values of ``names``; fail (CI) or skip (elsewhere) when any is unset."""
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        message = (
            f"test server settings {', '.join(missing)} are not set: run "
            "'bash scripts/servers.sh start' and 'eval \"$(bash scripts/servers.sh env)\"'"
        )
        if servers_required():
            pytest.fail(message)
        pytest.skip(message)
    return {name: os.environ[name] for name in names}
