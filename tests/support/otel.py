"""An in-memory OpenTelemetry span exporter for tests, on the one global tracer provider.

OpenTelemetry lets a process set its tracer provider once; tests that each set their
own would see no spans after the first. :func:`span_exporter` adds a fresh in-memory
exporter to the SDK provider, setting that provider the first time.
"""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["span_exporter"]


def span_exporter() -> Any:
    """A new ``InMemorySpanExporter`` receiving every span finished from now on."""
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter
