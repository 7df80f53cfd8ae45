"""Shared fixtures for the compression tests."""

from __future__ import annotations

import pytest

from omnistorage.compression import Codec, get_codec


@pytest.fixture(params=["gzip", "zstd", "snappy", "none"])
def codec(request: pytest.FixtureRequest) -> Codec:
    return get_codec(request.param)
