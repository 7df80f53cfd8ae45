"""Modification times in nanoseconds: one time seen two ways (``modified_ns`` and
``modified``), RFC 3339 stamps as rclone writes them, and writes that keep what they are
given."""

from __future__ import annotations

import calendar
import os
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnistorage import LocalBackend, MemoryBackend, ObjectInfo, Store
from omnistorage._times import format_rfc3339, from_ns, parse_rfc3339, split_mtime, to_ns
from omnistorage.driver import WriteOptions

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Every nanosecond a datetime can hold the second of (years 1 to 9999).
NANOS = st.integers(
    min_value=to_ns(datetime(1, 1, 2, tzinfo=UTC)),
    max_value=to_ns(datetime(9999, 12, 30, tzinfo=UTC)),
)
DATETIMES = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)


@given(NANOS)
def test_a_nanosecond_time_has_its_datetime_truncated_to_the_microsecond(ns: int) -> None:
    info = ObjectInfo("f", modified_ns=ns)
    assert info.modified_ns == ns
    assert info.modified is not None
    assert info.modified.tzinfo is UTC
    # The model: whole microseconds since the epoch, rounded toward the past.
    assert info.modified == EPOCH + timedelta(microseconds=ns // 1000)
    assert ObjectInfo("f", modified=info.modified, modified_ns=ns) == info


@given(DATETIMES, st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]))
def test_a_datetime_alone_gives_its_exact_nanoseconds(when: datetime, zone: timezone) -> None:
    info = ObjectInfo("f", modified=when.astimezone(zone))
    assert info.modified == when
    assert info.modified.tzinfo is UTC
    assert (
        info.modified_ns == calendar.timegm(when.utctimetuple()) * 10**9 + when.microsecond * 1000
    )


@given(NANOS, st.integers(min_value=1000, max_value=10**12))
def test_two_different_times_are_refused(ns: int, off: int) -> None:
    with pytest.raises(ValueError, match="different times"):
        ObjectInfo("f", modified=from_ns(ns + off), modified_ns=ns)
    with pytest.raises(ValueError, match="differ"):
        WriteOptions(modified=from_ns(ns - off), modified_ns=ns)


def test_no_time_stays_no_time() -> None:
    info = ObjectInfo("f")
    assert (info.modified, info.modified_ns) == (None, None)
    assert (WriteOptions().modified, WriteOptions().modified_ns) == (None, None)


@given(NANOS)
def test_rfc3339_round_trips_every_nanosecond(ns: int) -> None:
    short, fixed = format_rfc3339(ns), format_rfc3339(ns, fixed=True)
    assert parse_rfc3339(short) == parse_rfc3339(fixed) == ns
    fraction = fixed[20:-1]
    assert fixed.endswith("Z")
    assert fixed[19] == "."
    assert len(fraction) == 9
    # Go's RFC3339Nano: trailing zeros (and a bare dot) dropped.
    assert short == fixed[:19] + ("." + fraction.rstrip("0") if int(fraction) else "") + "Z"
    assert datetime.fromisoformat(fixed[:19] + "+00:00") == from_ns(ns - ns % 10**9)


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2021-03-04T05:06:07Z", 1_614_834_367_000_000_000),
        ("2021-03-04T05:06:07.1Z", 1_614_834_367_100_000_000),
        ("2021-03-04T05:06:07.123456789Z", 1_614_834_367_123_456_789),
        ("2021-03-04T05:06:07.1234567891234Z", 1_614_834_367_123_456_789),  # cut, as Go
        ("2021-03-04T07:06:07.000000001+02:00", 1_614_834_367_000_000_001),
        ("2021-03-04t05:06:07z", 1_614_834_367_000_000_000),
        ("1969-12-31T23:59:58.999999999Z", -1_000_000_001),
    ],
)
def test_rfc3339_stamps_parse_to_their_nanoseconds(text: str, ns: int) -> None:
    assert parse_rfc3339(text) == ns


@pytest.mark.parametrize(
    "text", ["", "2021-03-04", "2021-03-04T05:06:07", "2021-13-04T05:06:07Z", "1614834367"]
)
def test_what_is_no_rfc3339_stamp_parses_to_none(text: str) -> None:
    assert parse_rfc3339(text) is None


@pytest.mark.parametrize("bad", [1.5, True, "1614834367", Decimal(1)])
def test_a_write_refuses_a_time_that_is_neither_datetime_nor_nanoseconds(bad: object) -> None:
    store = Store(MemoryBackend())
    with pytest.raises(TypeError, match="modified must be a datetime or an int of nanoseconds"):
        store.write("f", b"x", modified=bad)  # type: ignore[arg-type]
    assert not store.exists("f")


def test_a_time_out_of_range_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="outside the years 1 to 9999"):
        split_mtime(10**30)


@pytest.fixture(scope="module")
def local_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return Store(LocalBackend(tmp_path_factory.mktemp("times")))


@given(ns=st.integers(min_value=0, max_value=4_102_444_800 * 10**9))  # 1970 to 2100
def test_a_local_write_keeps_the_nanoseconds_it_is_given(local_store: Store, ns: int) -> None:
    # Local files keep nanoseconds (Features.mtime_precision_ns == 1): what is given is
    # what stat and listings give back, and what the file system holds.
    store = local_store
    store.write("n.bin", b"n", modified=ns, overwrite=True)
    assert store.get_file_info("n.bin").modified_ns == ns
    assert [i.modified_ns for i in store.list_files()] == [ns]
    assert os.stat(store.native_path("n.bin")).st_mtime_ns == ns


def test_a_local_file_lists_its_st_mtime_ns(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"f")
    os.utime(tmp_path / "f", ns=(1, 1_795_441_226_342_743_850))
    store = Store(LocalBackend(tmp_path))
    (listed,) = store.list_files()
    assert listed.modified_ns == store.get_file_info("f").modified_ns == 1_795_441_226_342_743_850
    assert listed.modified == datetime(2026, 11, 23, 13, 40, 26, 342743, tzinfo=UTC)
