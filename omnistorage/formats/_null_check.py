"""Whether encoded NDJSON holds ``null``: the hot check of the NDJSON write paths.

orjson writes NaN and ±Infinity as ``null``, so bytes without ``null`` hold
none of them, and only records whose line holds one need a closer look. The
test runs on every record of ``RecordWriter.write`` and over every batch of
``write_many``, so its speed shows in their throughput. With `stringzilla
<https://github.com/ashvardanian/StringZilla>`_ installed (``pip install
'omnistorage[stringzilla]'``) it is a SIMD substring search; otherwise a
compiled ``re`` pattern. Both give the same answers (``benchmarks/records.py``
times them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["NULL_TEST", "RE_NULL_TEST", "NullTest", "null_test"]

#: ``(test, arg)``: ``test(data, arg)`` is true when ``data`` contains ``b"null"``.
#: A pair rather than one callable so that the hot paths call either
#: implementation directly, with no Python frame in between:
#: ``stringzilla.contains(data, b"null")`` or ``pattern.search(data, 0)``
#: (``0`` being the position to search from).
NullTest = tuple[Callable[[Any, Any], object], Any]

_PATTERN = re.compile(b"null")
RE_NULL_TEST: NullTest = (_PATTERN.search, 0)


def null_test() -> NullTest:
    """The fastest implementation installed: stringzilla's, else ``re``'s."""
    try:
        from stringzilla import contains  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return RE_NULL_TEST
    return (contains, b"null")


#: The test new NDJSON encoders take (each keeps the one it took).
NULL_TEST: NullTest = null_test()
