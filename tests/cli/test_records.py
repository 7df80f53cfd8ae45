"""records cat|head|count|convert: streaming, any store to any store, nothing partial."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnistorage import Store, open_store
from omnistorage.records import RollingRecordWriter, open_reader, open_writer
from tests.cli.conftest import CliInvoker

ROWS = [{"id": str(i), "name": f"user {i}", "note": 'line\nbreak, "quoted"'} for i in range(500)]


@pytest.fixture
def space(request: pytest.FixtureRequest) -> Iterator[tuple[str, Store]]:
    name = f"records-{abs(hash(request.node.nodeid))}"
    store = open_store(f"memory://{name}")
    yield f"memory://{name}", store
    store.close()


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Store]:
    store = open_store(str(tmp_path / "data"))
    yield store
    store.close()


def write(store: Store, key: str, records: list[object]) -> None:
    with open_writer(store, key) as out:
        out.write_many(records)


def read(store: Store, key: str) -> list[object]:
    with open_reader(store, key) as records:
        return list(records)


def json_lines(text: bytes) -> list[object]:
    return [json.loads(line) for line in text.decode().splitlines()]


def test_records_cat_prints_each_csv_row_as_a_json_object(
    cli: CliInvoker, local: Store, tmp_path: Path
) -> None:
    write(local, "rows.csv.gz", ROWS)
    out = cli("records", "cat", str(tmp_path / "data" / "rows.csv.gz")).stdout_bytes
    assert json_lines(out) == ROWS


def test_records_cat_prints_length_prefixed_records_as_base64(
    cli: CliInvoker, space: tuple[str, Store]
) -> None:
    url, store = space
    payloads = [b"\x00\xff binary", b"", b"\n"]
    write(store, "blobs.tfrecord", payloads)
    out = cli("records", "cat", f"{url}/blobs.tfrecord").stdout_bytes
    assert [base64.b64decode(v) for v in json_lines(out)] == payloads  # type: ignore[arg-type]


def test_records_cat_takes_the_format_when_the_key_has_none(
    cli: CliInvoker, space: tuple[str, Store]
) -> None:
    url, store = space
    store.write("dump.bin", gzip.compress(b'{"a": 1}\n[2]\n'))
    out = cli(
        "records", "cat", "--format", "ndjson", "--compression", "gzip", f"{url}/dump.bin"
    ).stdout_bytes
    assert json_lines(out) == [{"a": 1}, [2]]


def test_records_head_prints_the_first_records(cli: CliInvoker, space: tuple[str, Store]) -> None:
    url, store = space
    write(store, "e.ndjson.zst", [{"n": i} for i in range(10_000)])
    out = cli("records", "head", "-n", "3", f"{url}/e.ndjson.zst").stdout_bytes
    assert json_lines(out) == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert len(json_lines(cli("records", "head", f"{url}/e.ndjson.zst").stdout_bytes)) == 10


def test_records_count_counts_each_file(cli: CliInvoker, space: tuple[str, Store]) -> None:
    url, store = space
    write(store, "a.ndjson.gz", [{"n": i} for i in range(1234)])
    write(store, "b.csv", ROWS[:7])
    out = cli("records", "count", f"{url}/a.ndjson.gz", f"{url}/b.csv").stdout
    assert out.splitlines() == [f"1234\t{url}/a.ndjson.gz", f"7\t{url}/b.csv", "1241\ttotal"]


def test_records_count_json_reports_a_damaged_file_and_exits_1(
    cli: CliInvoker, space: tuple[str, Store]
) -> None:
    url, store = space
    write(store, "good.ndjson.zst", [{"n": 1}])
    whole = b"".join(gzip.compress(json.dumps({"n": i}).encode() + b"\n") for i in range(50))
    store.write("cut.ndjson.gz", whole[: len(whole) - 7])
    result = cli(
        "records", "count", "--json", f"{url}/good.ndjson.zst", f"{url}/cut.ndjson.gz", expect=1
    )
    report = json.loads(result.stdout)
    assert report[0] == {"address": f"{url}/good.ndjson.zst", "records": 1, "ok": True}
    assert report[1]["ok"] is False
    assert "truncated" in report[1]["error"].lower()


def test_records_convert_csv_gz_to_ndjson_zst_across_stores(
    cli: CliInvoker, local: Store, space: tuple[str, Store], tmp_path: Path
) -> None:
    url, store = space
    write(local, "in.csv.gz", ROWS)
    cli("records", "convert", str(tmp_path / "data" / "in.csv.gz"), f"{url}/out.ndjson.zst")
    assert read(store, "out.ndjson.zst") == ROWS


def test_records_convert_writes_what_the_zstd_tool_reads(
    cli: CliInvoker, local: Store, tmp_path: Path
) -> None:
    write(local, "in.csv", ROWS)
    data = tmp_path / "data"
    cli("records", "convert", str(data / "in.csv"), str(data / "out.ndjson.zst"))
    plain = subprocess.run(
        ["zstd", "-dc", str(data / "out.ndjson.zst")], capture_output=True, check=True
    ).stdout
    assert json_lines(plain) == ROWS


def test_records_convert_values_to_tfrecord_and_back(
    cli: CliInvoker, space: tuple[str, Store]
) -> None:
    url, store = space
    values = [{"n": i, "tags": ["a", "b"]} for i in range(100)]
    write(store, "v.ndjson", values)
    cli("records", "convert", f"{url}/v.ndjson", f"{url}/v.tfrecord.gz")
    cli("records", "convert", f"{url}/v.tfrecord.gz", f"{url}/back.jsonl")
    assert read(store, "back.jsonl") == values


def test_records_convert_json_summary(cli: CliInvoker, space: tuple[str, Store]) -> None:
    url, store = space
    write(store, "a.ndjson", [{"n": i} for i in range(42)])
    report = json.loads(
        cli("records", "convert", "--json", f"{url}/a.ndjson", f"{url}/a.csv").stdout
    )
    assert report["records"] == 42
    assert report["bytes_written"] == store.get_file_info("a.csv").size


def test_records_convert_of_a_non_json_payload_to_ndjson_publishes_nothing(
    cli: CliInvoker, space: tuple[str, Store]
) -> None:
    url, store = space
    write(store, "b.tfrecord", [b'{"ok": 1}', b"\x00 not json"])
    result = cli("records", "convert", f"{url}/b.tfrecord", f"{url}/b.ndjson", expect=1)
    assert "record 1 is not JSON" in result.stderr
    assert not store.exists("b.ndjson")


def test_records_convert_of_rows_csv_cannot_hold_publishes_nothing(
    cli: CliInvoker, space: tuple[str, Store]
) -> None:
    url, store = space
    write(store, "mixed.ndjson", [{"a": 1}, {"b": 2}])
    result = cli("records", "convert", f"{url}/mixed.ndjson", f"{url}/mixed.csv", expect=1)
    assert "missing the field 'a'" in result.stderr
    assert not store.exists("mixed.csv")


def test_records_convert_no_clobber_keeps_the_existing_target(
    cli: CliInvoker, space: tuple[str, Store]
) -> None:
    url, store = space
    write(store, "a.ndjson", [{"n": 1}])
    store.write("t.ndjson", b'{"old": true}\n')
    cli("records", "convert", "-n", f"{url}/a.ndjson", f"{url}/t.ndjson", expect=1)
    assert store.read_bytes("t.ndjson") == b'{"old": true}\n'
    cli("records", "convert", f"{url}/a.ndjson", f"{url}/t.ndjson")
    assert read(store, "t.ndjson") == [{"n": 1}]


def test_records_of_a_key_without_a_known_format_is_a_usage_error(
    cli: CliInvoker, space: tuple[str, Store]
) -> None:
    url, store = space
    store.write("mystery.dat", b"?")
    cli("records", "cat", f"{url}/mystery.dat", expect=2)


def test_records_cat_of_a_missing_file_exits_1(cli: CliInvoker, space: tuple[str, Store]) -> None:
    url, _ = space
    result = cli("records", "cat", f"{url}/none.ndjson", expect=1)
    assert "no such file" in result.stderr


def rolled(store: Store, records: int = 25, per_object: int = 4) -> None:
    """A stream the rolling writer cut into many objects, plus a file that is no record file."""
    with RollingRecordWriter(
        store,
        "{prefix}/{date:%Y/%m/%d}/{stream}-{seq:020d}.ndjson.zst",
        prefix="logs",
        stream="app",
        max_records=per_object,
    ) as log:
        for i in range(records):
            log.write({"i": i})
    store.write("logs/_SUCCESS", b"")


def test_records_over_a_folder_read_a_rolled_stream_in_order(
    cli: CliInvoker, space: tuple[str, Store]
) -> None:
    url, store = space
    rolled(store)
    out = cli("records", "cat", f"{url}/logs/").stdout_bytes
    assert json_lines(out) == [{"i": i} for i in range(25)]
    head = cli("records", "head", "-n", "6", f"{url}/logs")
    assert json_lines(head.stdout_bytes) == [{"i": i} for i in range(6)]
    assert "skipped 1 file(s)" in head.stderr
    counted = cli("records", "count", f"{url}/logs").stdout.splitlines()
    assert len(counted) == 8
    assert [line.split("\t")[0] for line in counted] == ["4"] * 6 + ["1", "25"]
    assert counted[-1] == "25\ttotal"


def test_records_over_a_glob(cli: CliInvoker, space: tuple[str, Store]) -> None:
    url, store = space
    rolled(store)
    out = cli("records", "count", f"{url}/logs/*/*/*/app-*0006.ndjson.zst").stdout
    assert out.splitlines()[0].startswith("1\t")
    assert len(out.splitlines()) == 1
    every = cli("records", "cat", f"{url}/logs/**/app-*.ndjson.zst").stdout_bytes
    assert json_lines(every) == [{"i": i} for i in range(25)]
    result = cli("records", "count", f"{url}/logs/*/nothing-*.csv", expect=1)
    assert "no file matches" in result.stderr


def test_records_over_a_local_glob_the_shell_did_not_expand(
    cli: CliInvoker, local: Store, tmp_path: Path
) -> None:
    rolled(local)
    day = next((tmp_path / "data" / "logs").glob("*/*/*"))
    out = cli("records", "count", str(day / "app-*.ndjson.zst")).stdout
    assert out.splitlines()[-1] == "25\ttotal"


def test_records_over_a_folder_with_a_format_reads_every_file(
    cli: CliInvoker, space: tuple[str, Store]
) -> None:
    url, store = space
    store.write("dump/part-1", b'{"a": 1}\n')
    store.write("dump/part-2", b'{"a": 2}\n{"a": 3}\n')
    cli("records", "count", f"{url}/dump", expect=1)  # no format in the names
    out = cli("records", "cat", "--format", "ndjson", "--compression", "none", f"{url}/dump")
    assert json_lines(out.stdout_bytes) == [{"a": 1}, {"a": 2}, {"a": 3}]
