"""A ``slow://`` backend for benchmarks/distributed.py: a local folder behind a
FaultInjectionLayer that waits ``OMNI_BENCH_LATENCY`` seconds (default 0.02) before
every request-like call (open_read, publish, stat, exists, list, delete, copy), as a
remote object store does. Imported on each Dask worker (spawned workers inherit
``sys.path``); ``install()`` registers the scheme, ``publishes()`` counts the
publishes into stores whose root ends with a ``/dst*`` folder in this process."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import SplitResult, unquote

from omnistorage import LocalBackend
from omnistorage.driver import Backend
from omnistorage.ext import FaultInjectionLayer
from omnistorage.ext._faults import Fault
from omnistorage.registry import register

OPS = ("open_read", "publish", "stat", "exists", "list", "delete", "copy")
_publish_rules: list[Fault] = []


def _parse(split: SplitResult) -> tuple[dict[str, Any], str]:
    return {"root": unquote(split.path)}, ""


def open_slow(root: str) -> Backend:
    layer = FaultInjectionLayer(LocalBackend(root))
    seconds = float(os.environ.get("OMNI_BENCH_LATENCY", "0.02"))
    for op in OPS:
        rule = layer.add_latency(op, seconds)
        if op == "publish" and os.path.basename(root.rstrip("/")).startswith("dst"):
            _publish_rules.append(rule)
    return layer


def install() -> None:
    register("slow", open_slow, schemes=("slow",), parse_url=_parse)


def publishes() -> int:
    return sum(rule.fired for rule in _publish_rules)


def reset() -> None:
    for rule in _publish_rules:
        rule.fired = 0
