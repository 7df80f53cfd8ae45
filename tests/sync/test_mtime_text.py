"""rclone's ``mtime`` metadata values: decimal seconds with up to nine fraction digits
(S3, Swift) and RFC 3339 (GCS, Azure), exact to the nanosecond both ways. rclone itself
reading and writing them is in test_rclone_interop.py."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnistorage.sync._conventions import format_mtime_seconds, metadata_mtime, parse_mtime_text

NANOS = st.integers(min_value=-(2**63), max_value=2**63 - 1)  # Go's time.UnixNano range


def model(ns: int) -> str:
    """Decimal seconds with the fraction's trailing zeros dropped (Decimal does the digits)."""
    text = format(Decimal(ns).scaleb(-9), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@given(NANOS)
def test_decimal_seconds_round_trip_every_nanosecond(ns: int) -> None:
    text = format_mtime_seconds(ns)
    assert text == model(ns)
    assert parse_mtime_text(text) == ns
    whole, _, fraction = text.lstrip("-").partition(".")
    assert whole.isdigit()
    assert len(fraction) <= 9
    assert not fraction.endswith("0")


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1795441226.34274385", 1_795_441_226_342_743_850),  # issue 26's time, as rclone
        ("1795441226.342744", 1_795_441_226_342_744_000),  # what we wrote before: 150 ns off
        ("1614834367", 1_614_834_367_000_000_000),
        ("1614834367.", 1_614_834_367_000_000_000),
        ("1614834367.1234567891", 1_614_834_367_123_456_789),  # cut past nine, as rclone
        ("+5.5", 5_500_000_000),
        ("-1.5", -1_500_000_000),  # the sign applies to the whole value
        ("-0.000000001", -1),
        (" 7.25 ", 7_250_000_000),
        ("2021-03-04T05:06:07.123456789Z", 1_614_834_367_123_456_789),
        ("2021-03-04T05:06:07.000000000Z", 1_614_834_367_000_000_000),
    ],
)
def test_mtime_values_parse_to_their_nanoseconds(text: str, ns: int) -> None:
    assert parse_mtime_text(text) == ns
    assert metadata_mtime({"Mtime": text}) == ns


@pytest.mark.parametrize("text", ["", ".5", "1e9", "12:00", "yesterday", "1.2.3", "--1"])
def test_what_is_no_mtime_value_parses_to_none(text: str) -> None:
    assert parse_mtime_text(text) is None
    assert metadata_mtime({"mtime": text}) is None
