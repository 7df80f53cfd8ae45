"""Sealed record objects: a cut at any byte is caught when the reader knows the seal.

RecordWriter ends gzip, zstd and snappy objects with a seal and marks them
sealed in user metadata where the store keeps it; open_reader then requires
the seal, so a cut exactly at a member or frame boundary (which the formats
alone cannot tell from a complete object) raises instead of reading short.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from omnistorage import LocalBackend, MemoryBackend, Store
from omnistorage.capabilities import Capability
from omnistorage.compression import Seal, get_codec, seal_bytes
from omnistorage.errors import CorruptRecordError, TruncatedDataError, TruncatedRecordError
from omnistorage.records import open_reader, open_writer

CODECS = ["gzip", "zstd", "snappy"]
FORMATS = {"ndjson": ".ndjson", "csv": ".csv", "length-prefixed": ".lp"}


def _options(key: str) -> dict[str, object]:
    return {"fieldnames": ["seq", "msg"]} if ".csv" in key else {}


def _record(key: str, i: int) -> object:
    if ".csv" in key:
        return {"seq": str(i), "msg": f"event {i}"}
    if ".lp" in key:
        return f"event {i}".encode()
    return {"seq": i, "msg": f"event {i}"}


def _write(store: Store, key: str, n: int, *, flush_every: int = 4) -> None:
    with open_writer(store, key, **_options(key)) as writer:
        for i in range(n):
            writer.write(_record(key, i))
            if i % flush_every == flush_every - 1:
                writer.flush()  # members/frames end here: cuts at these boundaries


def _read(store: Store, key: str, **options: object) -> list[object]:
    with open_reader(store, key, **_options(key), **options) as reader:  # type: ignore[arg-type]
        return list(reader)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_cut_of_a_sealed_object_raises(codec: str, fmt: str) -> None:
    store = Store(MemoryBackend())
    ext = {"gzip": ".gz", "zstd": ".zst", "snappy": ".sz"}[codec]
    key = f"r{FORMATS[fmt]}{ext}"
    _write(store, key, 12)
    whole = store.read_bytes(key)
    assert len(_read(store, key)) == 12
    metadata = store.get_file_info(key).metadata
    assert metadata.get("omnistorage_sealed") == "1"
    for cut in range(len(whole)):
        store.write("cut" + key, whole[:cut], overwrite=True, metadata=dict(metadata))
        with pytest.raises((TruncatedDataError, CorruptRecordError)):
            _read(store, "cut" + key)


def test_without_the_mark_a_boundary_cut_reads_short_and_sealed_true_catches_it(
    tmp_path: Path,
) -> None:
    store = Store(LocalBackend(tmp_path))  # local keeps no user metadata: no mark
    _write(store, "a.ndjson.zst", 12)
    whole = store.read_bytes("a.ndjson.zst")
    codec = get_codec("zstd")
    # Find the first frame boundary: the prefix that decodes to exactly 4 records.
    for cut in range(1, len(whole)):
        decompressor = codec.decompressor()
        try:
            text = decompressor.decompress(whole[:cut]) + decompressor.finish()
        except Exception:  # noqa: BLE001 - not a boundary
            continue
        if text.count(b"\n") == 4:
            break
    else:
        pytest.fail("no frame boundary found")
    store.write("cut.ndjson.zst", whole[:cut])
    assert len(_read(store, "cut.ndjson.zst")) == 4  # the format alone cannot tell
    with pytest.raises(TruncatedDataError, match="seal"):
        _read(store, "cut.ndjson.zst", sealed=True)
    assert len(_read(store, "a.ndjson.zst", sealed=True)) == 12


def test_a_seal_whose_record_count_disagrees_is_corrupt() -> None:
    store = Store(MemoryBackend())
    compressor = get_codec("zstd").compressor()
    lines = b'{"a":1}\n{"a":2}\n'
    data = compressor.compress(lines) + compressor.finish()
    store.write("x.ndjson.zst", data + seal_bytes("zstd", Seal(records=3, size=len(lines))))
    with pytest.raises(CorruptRecordError, match="3 records"):
        _read(store, "x.ndjson.zst", sealed=True)


def test_seal_false_writes_no_seal_and_no_mark() -> None:
    store = Store(MemoryBackend())
    with open_writer(store, "p.ndjson.gz", seal=False) as writer:
        writer.write({"a": 1})
    assert "omnistorage_sealed" not in store.get_file_info("p.ndjson.gz").metadata
    with pytest.raises(TruncatedDataError):
        _read(store, "p.ndjson.gz", sealed=True)
    assert _read(store, "p.ndjson.gz") == [{"a": 1}]


@pytest.mark.parametrize(
    ("codec", "argv"),
    [("zstd", ["zstd", "-dc"]), ("gzip", ["gzip", "-dc"])],
)
def test_the_command_line_tools_read_a_sealed_object_unchanged(
    tmp_path: Path, codec: str, argv: list[str]
) -> None:
    assert shutil.which(argv[0]), f"{argv[0]} is not installed"
    store = Store(LocalBackend(tmp_path))
    key = f"t.ndjson.{'zst' if codec == 'zstd' else 'gz'}"
    _write(store, key, 10)
    out = subprocess.run([*argv, str(tmp_path / key)], capture_output=True, check=True).stdout
    assert out.count(b"\n") == 10
    assert out.startswith(b'{"seq":0,"msg":"event 0"}\n')


@pytest.mark.parametrize("codec", ["none", *CODECS])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_cut_of_an_unsealed_object_has_the_documented_outcome(codec: str, fmt: str) -> None:
    """Without a seal only the formats and codecs themselves tell a cut.

    Compressed: a cut raises ``TruncatedDataError`` except exactly at a
    member/frame boundary (here the flushes after records 4 and 8) or before
    any data, where the object reads as a shorter, valid stream. Uncompressed
    NDJSON and length-prefixed records: a cut raises ``TruncatedRecordError``
    except at a record boundary (NDJSON: also just before a line's newline,
    the line being complete). Uncompressed CSV: a cut inside the last row
    reads that row cut short, the documented limit of CSV.
    """
    store = Store(MemoryBackend())
    ext = {"none": "", "gzip": ".gz", "zstd": ".zst", "snappy": ".sz"}[codec]
    key = f"r{FORMATS[fmt]}{ext}"
    with open_writer(store, key, seal=False, **_options(key)) as writer:  # type: ignore[arg-type]
        for i in range(12):
            writer.write(_record(key, i))
            if i % 4 == 3:
                writer.flush()
    whole = store.read_bytes(key)
    expected = _read(store, key)
    assert len(expected) == 12
    read_short: dict[int, int] = {}  # cut -> records read without an error
    cut_rows = 0
    for cut in range(len(whole)):
        store.write("cut" + key, whole[:cut], overwrite=True)
        try:
            got = _read(store, "cut" + key)
        except TruncatedRecordError:
            continue  # a record cut short (the codec's stream, if any, ended cleanly)
        except TruncatedDataError:
            assert codec != "none"
            continue
        except CorruptRecordError:
            assert (codec, fmt) == ("none", "csv")  # a cut row that no longer parses
            continue
        if (codec, fmt) == ("none", "csv") and got and got != expected[: len(got)]:
            assert got[:-1] == expected[: len(got) - 1]
            cut_rows += 1
            continue
        assert got == expected[: len(got)]
        read_short[cut] = len(got)
    if codec != "none":
        assert set(read_short.values()) == {0, 4, 8}
    elif fmt == "ndjson":
        line_ends = {i for i, byte in enumerate(whole) if byte == ord("\n")}
        assert set(read_short) == {0} | line_ends | {
            end + 1 for end in line_ends if end + 1 < len(whole)
        }
    elif fmt == "length-prefixed":
        assert sorted(read_short.values()) == list(range(12))  # one cut per record boundary
    else:
        assert cut_rows > 0  # the limit is real: a CSV row cut short reads silently


@pytest.mark.parametrize("kind", ["memory", "s3", "gcs", "azure", "sftp"])
def test_every_backend_with_user_metadata_takes_the_sealed_mark(kind: str) -> None:
    """The mark is user metadata under one name; a backend that refuses the name (Azure
    takes only C# identifiers) would refuse every sealed write."""
    from tests.support import remote

    store = Store(MemoryBackend()) if kind == "memory" else getattr(remote, f"{kind}_store")()
    try:
        _write(store, "r.ndjson.zst", 8)
        assert len(_read(store, "r.ndjson.zst")) == 8
        whole = store.read_bytes("r.ndjson.zst")
        metadata = store.get_file_info("r.ndjson.zst").metadata
        if store.supports(Capability.USER_METADATA):
            assert metadata.get("omnistorage_sealed") == "1"
            store.write("cut.ndjson.zst", whole[:-1], metadata=dict(metadata))
            with pytest.raises((TruncatedDataError, CorruptRecordError)):
                _read(store, "cut.ndjson.zst")  # the mark alone makes the reader ask
        else:
            assert metadata == {}
    finally:
        if kind != "memory":
            remote.wipe(store)


def test_objects_marked_under_the_old_name_still_require_the_seal() -> None:
    store = Store(MemoryBackend())
    _write(store, "r.ndjson.zst", 8)
    whole = store.read_bytes("r.ndjson.zst")
    store.write("old.ndjson.zst", whole[:-1], metadata={"omnistorage-sealed": "1"})
    with pytest.raises((TruncatedDataError, CorruptRecordError)):
        _read(store, "old.ndjson.zst")
