"""Sizes and durations on the command line: binary suffixes, unit sums, clear refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnistorage.cli._units import parse_duration, parse_size

_POWER = {"": 0, "k": 1, "K": 1, "M": 2, "m": 2, "G": 3, "g": 3, "T": 4, "P": 5}
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@given(
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from(sorted(_POWER)),
    st.sampled_from(["", "B", "iB"]),
)
def test_a_size_is_its_number_times_a_power_of_1024(number: int, unit: str, tail: str) -> None:
    if not unit and tail == "iB":
        tail = "B"
    assert parse_size(f"{number}{unit}{tail}") == number * 1024 ** _POWER[unit]


def test_a_fractional_size_is_rounded_down_to_whole_bytes() -> None:
    assert parse_size("1.5k") == 1536
    assert parse_size("0.3") == 0


@pytest.mark.parametrize("text", ["", "k", "-1", "10X", "1.2.3M", "ten", "5 MiBs"])
def test_a_malformed_size_is_refused_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match="is not a size"):
        parse_size(text)


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=999), st.sampled_from(sorted(_SECONDS))),
        min_size=1,
        max_size=4,
    )
)
def test_a_duration_is_the_sum_of_its_parts(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{number}{unit}" for number, unit in parts)
    expected = sum(number * _SECONDS[unit] for number, unit in parts)
    assert parse_duration(text) == timedelta(seconds=expected)


@given(st.integers(min_value=0, max_value=10**7))
def test_a_plain_number_is_seconds(seconds: int) -> None:
    assert parse_duration(str(seconds)) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "h", "5x", "1h 30m", "-5s", "5s3", "m5"])
def test_a_malformed_duration_is_refused_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_a_bad_unit_on_the_command_line_is_a_usage_error(cli: object) -> None:
    result = cli("cat", "--count", "10X", "x", expect=2)  # type: ignore[operator]
    assert "is not a size" in result.stderr
