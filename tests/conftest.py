"""Suite-wide pytest hooks: long tests first, and a short summary of the
capability-gated skips.

The suite runs in parallel workers (pytest-xdist, ``--dist loadscope``).
Tests marked ``scale`` or ``slow`` run for minutes, so they are collected
first. loadscope by default hands out the scopes with the most tests first
and keeps collection order only among equal sizes (``--no-loadscope-reorder``
keeps it everywhere), so in a default run a one-test module such as the
million-key sync may still start late.

The conformance suite skips every test a backend's capabilities do not
declare (about a hundred). Listing each one drowns the summary, so
``pyproject.toml`` reports only failures, errors and unexpected passes
(``-rfEX``), and this hook prints one line per backend instead; any other
skip is listed with its reason, since it may hide a problem.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

_GATED = re.compile(r"^(?P<backend>[\w.-]+) \((?P<variant>\w+)\) does not declare (?P<cap>\w+)$")
_NOT_APPLICABLE = re.compile(r"^not applicable to (?P<backend>[\w.-]+):")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the long tests (marked ``scale`` or ``slow``) first, keeping the order
    otherwise (a stable sort)."""
    items.sort(
        key=lambda item: (
            item.get_closest_marker("scale") is None and item.get_closest_marker("slow") is None
        )
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    gated: Counter[str] = Counter()
    other: list[str] = []
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        gated_match = _GATED.match(reason) or _NOT_APPLICABLE.match(reason)
        if gated_match is not None:
            gated[gated_match.group("backend")] += 1
        else:
            other.append(f"{report.nodeid}: {reason}")
    if gated:
        parts = ", ".join(f"{backend} {count}" for backend, count in sorted(gated.items()))
        terminalreporter.write_line(
            f"capability-gated or not-applicable skips ({sum(gated.values())}): {parts}"
        )
    for line in other:
        terminalreporter.write_line(f"SKIPPED {line}")
