"""A ``slow://`` backend for benchmarks/distributed.py: a local folder behind a
FaultInjectionLayer that waits ``OMNI_BENCH_LATENCY`` seconds (default 0.02) before
every request-like call (open_read, publish, stat, exists, list, delete, copy), as a
remote object store does. Imported on each Dask worker (spawned workers inherit
``sys.path``); ``install()`` registers the scheme, ``publishes()`` counts the
publishes into stores whose root ends with a ``/dst*`` folder in this process."""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import SplitResult, unquote

from omnistorage import LocalBackend
from omnistorage.driver import Backend, WriteOptions, Writer
from omnistorage.ext import FaultInjectionLayer
from omnistorage.ext._faults import Fault
from omnistorage.ext._layer import Layer
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


class ThrottledLayer(Layer):
    """A store behind a link: each write waits for its bytes at ``bytes_per_second``, and
    opening and publishing a write each wait ``latency`` seconds (a request's round trip).
    The waits sleep, as network I/O does, so the writer's CPU stays free: the mirror row
    of ``run_all.py`` measures the fan-out itself, not emulators sharing the cores."""

    def __init__(self, inner: Backend, bytes_per_second: float, latency: float = 0.02) -> None:
        super().__init__(inner)
        self.bytes_per_second, self.latency = bytes_per_second, latency

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        time.sleep(self.latency)
        return _ThrottledWriter(self.inner.new_writer(key, options), self)


class _ThrottledWriter(Writer):
    def __init__(self, inner: Writer, link: ThrottledLayer) -> None:
        self._inner, self._link = inner, link

    def write(self, data: bytes | bytearray | memoryview) -> int:
        time.sleep(memoryview(data).nbytes / self._link.bytes_per_second)
        return self._inner.write(data)

    def flush(self) -> None:
        self._inner.flush()

    def close(self) -> None:
        time.sleep(self._link.latency)
        self._inner.close()

    def abort(self) -> None:
        self._inner.abort()

    @property
    def version(self) -> str | None:  # type: ignore[override]
        return self._inner.version
