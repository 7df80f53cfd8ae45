"""Layers: backends that wrap a backend (OpenDAL's layers, Go CDK's wrapping drivers).

Each layer takes a backend and is a backend, so the Store contract and the
conformance suite apply unchanged, and layers stack::

    from omnistorage import Store
    from omnistorage.ext import LoggingLayer, MetricsLayer, RetryLayer

    metrics = MetricsLayer(RetryLayer(s3_backend))
    store = Store(LoggingLayer(metrics))

Order reads outside-in and matters: ``MetricsLayer(RetryLayer(b))`` measures a
call with all its retries once; ``RetryLayer(MetricsLayer(b))`` measures every
attempt. Put ``ConcurrencyLimitLayer`` inside ``RetryLayer`` so a backoff does
not hold a permit, and ``FaultInjectionLayer`` innermost in tests.

- :class:`RetryLayer`: temporary errors only, exponential backoff with full
  jitter, ``Retry-After``, attempt and time budgets; streams resume only at the
  same version.
- :class:`ConcurrencyLimitLayer` (with a shareable :class:`Limiter`).
- :class:`FaultInjectionLayer`: fail the Nth call, fail with probability p
  from a seed, cut a stream after N bytes, throttle, add latency.
- :class:`MetricsLayer` (optionally OpenTelemetry) and :class:`LoggingLayer`.
- :class:`ReadCacheLayer`: a local-disk cache keyed by version, bounded, LRU,
  safe for concurrent processes.
- :class:`ReadOnlyLayer`.

Adapters (imported on demand): :mod:`omnistorage.ext.fsspec` (an fsspec
filesystem, so pandas, Dask and DuckDB reach any Store) and
:mod:`omnistorage.ext.arrow` (a pyarrow filesystem).
"""

from omnistorage.ext._cache import ReadCacheLayer
from omnistorage.ext._faults import Fault, FaultInjectionLayer, InjectedFault, InjectedThrottle
from omnistorage.ext._layer import Layer
from omnistorage.ext._limit import ConcurrencyLimitLayer, Limiter
from omnistorage.ext._observe import LoggingLayer, MetricsLayer, Observation, OpStats
from omnistorage.ext._readonly import ReadOnlyLayer
from omnistorage.ext._retry import RetryLayer, retry_after

__all__ = [
    "ConcurrencyLimitLayer",
    "Fault",
    "FaultInjectionLayer",
    "InjectedFault",
    "InjectedThrottle",
    "Layer",
    "Limiter",
    "LoggingLayer",
    "MetricsLayer",
    "Observation",
    "OpStats",
    "ReadCacheLayer",
    "ReadOnlyLayer",
    "RetryLayer",
    "retry_after",
]
