"""decide: the pure comparison rule, one case per clause of the documented rule."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from omnistorage import LocalBackend, MemoryBackend, ObjectInfo, Store
from omnistorage.sync._conventions import Side, describe
from omnistorage.sync._decide import Facts, Policy, decide, quick_decide
from omnistorage.sync._entry import Entry

T0 = 1_700_000_000_000_000


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def local(tmp_path: object) -> Side:
    return describe(Store(LocalBackend(str(tmp_path))))


@pytest.fixture
def memory() -> Side:
    return describe(Store(MemoryBackend()))


@pytest.fixture
def s3(memory: Side) -> Side:
    """A side with S3's traits: no SET_MOD_TIME, mtime in metadata, ETags as MD5 candidates."""
    return dataclasses.replace(
        memory,
        name="s3",
        settable_mtime=False,
        mtime_in_metadata=True,
        etag_md5_candidate=True,
        hash_types=frozenset({"md5"}),
    )


def entry(
    size: int | None = 5,
    mtime: int | None = T0,
    etag: str | None = None,
    hashes: dict[str, str] | None = None,
) -> Entry:
    return Entry("f", size, mtime, etag, hashes, None, None)


def run(src: Facts, dst: Facts, policy: Policy) -> tuple[str, str]:
    verdict = decide(src, dst, policy)
    return verdict.kind, verdict.reason


def test_different_sizes_transfer(local: Side) -> None:
    policy = Policy(local, local)
    assert run(Facts.of(entry(5)), Facts.of(entry(6)), policy) == ("transfer", "size differs")


def test_equal_size_and_mtime_skip_between_settable_sides(local: Side) -> None:
    policy = Policy(local, local)
    verdict = quick_decide(entry(), entry(mtime=T0 + 1), policy)
    assert verdict is not None
    assert verdict.kind == "skip"


def test_a_content_change_at_equal_size_with_a_new_mtime_transfers(local: Side) -> None:
    policy = Policy(local, local)
    verdict = quick_decide(entry(mtime=T0 + 5_000_000), entry(), policy)
    assert verdict is not None
    assert (verdict.kind, verdict.reason) == ("transfer", "mtime differs")


def test_the_window_is_the_coarser_precision(local: Side) -> None:
    sftp = dataclasses.replace(local, name="sftp", precision_us=1_000_000, reads_local=False)
    policy = Policy(local, sftp, window_us=1_000_000)
    assert run(Facts.of(entry(mtime=T0 + 700_000)), Facts.of(entry(mtime=T0)), policy)[0] == "skip"
    assert run(Facts.of(entry(mtime=T0 + 1_700_000)), Facts.of(entry()), policy)[0] == "transfer"


def test_size_only_skips_equal_sizes_whatever_the_content(local: Side) -> None:
    policy = Policy(local, local, compare="size")
    assert run(Facts.of(entry(mtime=1)), Facts.of(entry(mtime=2)), policy) == ("skip", "same size")


def test_an_unknown_size_is_never_equal(memory: Side) -> None:
    policy = Policy(memory, memory)
    assert run(Facts.of(entry(None)), Facts.of(entry(5)), policy)[0] == "transfer"
    assert (
        run(Facts.of(entry(None)), Facts.of(entry(None)), Policy(memory, memory, compare="size"))[0]
        == "transfer"
    )


def test_an_unknown_size_with_a_matching_hash_skips(memory: Side) -> None:
    digest = {"md5": md5(b"hello")}
    assert run(
        Facts.of(entry(None, hashes=digest)),
        Facts.of(entry(5, hashes=digest)),
        Policy(memory, memory),
    ) == ("skip", "same hash")


def test_a_shared_listed_hash_decides_before_mtimes(memory: Side) -> None:
    policy = Policy(memory, memory)
    same = {"md5": md5(b"x")}
    other = {"md5": md5(b"y")}
    assert run(Facts.of(entry(hashes=same)), Facts.of(entry(mtime=1, hashes=same)), policy)[0] == (
        "skip"
    )
    assert run(Facts.of(entry(hashes=same)), Facts.of(entry(hashes=other)), policy) == (
        "transfer",
        "hash differs",
    )


def test_local_to_s3_asks_for_the_local_md5_first(local: Side, s3: Side) -> None:
    verdict = decide(Facts.of(entry()), Facts.of(entry(etag=md5(b"abcde"))), Policy(local, s3))
    assert (verdict.kind, verdict.side, verdict.hash_kind) == ("need_hash", "src", "md5")


def test_an_etag_equal_to_the_local_md5_skips_without_a_head(local: Side, s3: Side) -> None:
    src = Facts.of(entry())
    src.hashes["md5"] = md5(b"abcde")
    src.hashed.add("md5")
    dst = Facts.of(entry(etag=f'"{md5(b"abcde")}"'))
    assert run(src, dst, Policy(local, s3)) == ("skip", "same hash")


def test_an_etag_that_differs_proves_nothing_and_asks_for_a_stat(local: Side, s3: Side) -> None:
    src = Facts.of(entry())
    src.hashes["md5"] = md5(b"abcde")
    src.hashed.add("md5")
    dst = Facts.of(entry(etag="0123456789abcdef0123456789abcdef"))
    verdict = decide(src, dst, Policy(local, s3))
    assert (verdict.kind, verdict.side) == ("need_meta", "dst")


def test_md5chksum_metadata_settles_a_multipart_object(local: Side, s3: Side) -> None:
    import base64

    digest = md5(b"abcde")
    src = Facts.of(entry())
    src.hashes["md5"] = digest
    src.hashed.add("md5")
    dst = Facts.of(entry(etag="ffffffffffffffffffffffffffffffff-3"))
    chksum = base64.b64encode(bytes.fromhex(digest)).decode()
    dst.add_meta(ObjectInfo("f", 5, metadata={"md5chksum": chksum}))
    assert run(src, dst, Policy(local, s3)) == ("skip", "same hash")


def test_the_mtime_metadata_entry_settles_when_no_hash_can(local: Side, s3: Side) -> None:
    no_local = dataclasses.replace(local, reads_local=False)
    src = Facts.of(entry())
    dst = Facts.of(entry(mtime=T0 + 999_000_000))  # the listing's upload time
    assert decide(src, dst, Policy(no_local, s3)).kind == "need_meta"
    dst.add_meta(ObjectInfo("f", 5, metadata={"mtime": "1700000000"}))
    assert run(src, dst, Policy(no_local, s3)) == ("skip", "same size and mtime")
    changed = Facts.of(entry(mtime=T0 + 3_000_000))
    assert run(changed, dst, Policy(no_local, s3)) == ("transfer", "mtime differs")


def test_an_object_without_any_evidence_is_transferred(local: Side, s3: Side) -> None:
    no_local = dataclasses.replace(local, reads_local=False)
    dst = Facts.of(entry())
    dst.add_meta(ObjectInfo("f", 5, metadata={}))
    assert run(Facts.of(entry()), dst, Policy(no_local, s3)) == (
        "transfer",
        "no proof of equal content",
    )


def test_s3_to_local_hashes_the_local_file_before_any_head(local: Side, s3: Side) -> None:
    verdict = decide(Facts.of(entry(etag=md5(b"abcde"))), Facts.of(entry()), Policy(s3, local))
    assert (verdict.kind, verdict.side) == ("need_hash", "dst")


def test_a_source_without_kept_mtime_uses_its_upload_time(local: Side, s3: Side) -> None:
    no_local = dataclasses.replace(local, reads_local=False)
    src = Facts.of(entry(etag="ffffffffffffffffffffffffffffffff-2"))
    src.add_meta(ObjectInfo("f", 5, metadata={}))
    assert run(src, Facts.of(entry()), Policy(s3, no_local))[0] == "skip"


def test_ignore_existing_skips_any_existing_file(local: Side) -> None:
    policy = Policy(local, local, ignore_existing=True)
    assert run(Facts.of(entry(5)), Facts.of(entry(9)), policy) == ("skip", "exists on destination")


def test_update_skips_a_newer_destination_only(local: Side) -> None:
    policy = Policy(local, local, update=True)
    assert run(Facts.of(entry(5)), Facts.of(entry(9, mtime=T0 + 10_000_000)), policy) == (
        "skip",
        "newer on destination",
    )
    assert run(Facts.of(entry(5, mtime=T0 + 10_000_000)), Facts.of(entry(9)), policy)[0] == (
        "transfer"
    )


def test_checksum_mode_asks_for_the_hash_of_both_local_sides(local: Side) -> None:
    policy = Policy(local, local, compare="checksum", checksum_kind="sha256")
    src, dst = Facts.of(entry()), Facts.of(entry())
    first = decide(src, dst, policy)
    assert (first.kind, first.side, first.hash_kind) == ("need_hash", "src", "sha256")
    src.hashes["sha256"] = "aa"
    src.hashed.add("sha256")
    second = decide(src, dst, policy)
    assert (second.kind, second.side) == ("need_hash", "dst")
    dst.hashes["sha256"] = "aa"
    assert run(src, dst, policy) == ("skip", "same checksum")
    dst.hashes["sha256"] = "bb"
    assert run(src, dst, policy) == ("transfer", "checksum differs")


def test_checksum_mode_ignores_equal_mtimes(local: Side) -> None:
    policy = Policy(local, local, compare="checksum", checksum_kind="md5")
    src = Facts.of(entry(hashes={"md5": "aa"}))
    dst = Facts.of(entry(hashes={"md5": "bb"}))
    assert quick_decide(src.entry, dst.entry, policy) is None
    assert run(src, dst, policy) == ("transfer", "checksum differs")
