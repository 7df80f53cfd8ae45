"""Create-only through a mirror is decided in one place under every policy, and a
rollback removes only this write's own version.

- The primary (destination 0) arbitrates: a create-only write that loses there, or that
  the primary cannot take part in, publishes nowhere, under ``ALL``, ``quorum(k)`` and
  ``BEST_EFFORT`` alike; racing create-only writers have one winner, the same everywhere.
- Undoing a create-only write deletes, on each destination, the version this write
  published (a conditional delete): an object another client wrote there meanwhile
  and was told succeeded stays. A destination that cannot delete conditionally is left
  as it is and named in :class:`PartialPublish`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from omnistorage import AlreadyExists, LocalBackend, MemoryBackend, Store
from omnistorage.driver import Backend, WriteOptions, Writer
from omnistorage.errors import PreconditionFailed
from omnistorage.ext import FaultInjectionLayer, Layer
from omnistorage.multi import (
    ALL,
    BEST_EFFORT,
    MirrorBackend,
    MirrorReport,
    MirrorWriteError,
    PartialPublish,
    WritePolicy,
    quorum,
)
from omnistorage.testing import BasicOnly

POLICIES = [ALL, quorum(1), quorum(2), BEST_EFFORT]
IDS = [str(p) for p in POLICIES]


def _holds(store: Store, key: str) -> bytes | None:
    return store.read_bytes(key) if store.is_file(key) else None


def _mirror(stores: list[Store], policy: WritePolicy) -> tuple[Store, list[MirrorReport]]:
    reports: list[MirrorReport] = []
    return Store(MirrorBackend(stores, policy=policy, on_report=reports.append)), reports


# ------------------------------------------------------------------ one arbiter


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_a_create_only_write_the_primary_refuses_publishes_nowhere(policy: WritePolicy) -> None:
    a, b, c = Store(MemoryBackend()), Store(MemoryBackend()), Store(MemoryBackend())
    a.write("k.bin", b"theirs")
    mirror, reports = _mirror([a, b, c], policy)
    with pytest.raises(AlreadyExists):
        mirror.write("k.bin", b"mine")
    assert [_holds(s, "k.bin") for s in (a, b, c)] == [b"theirs", None, None]
    assert [d.state for d in reports[-1].destinations] == ["failed", "aborted", "aborted"]


@pytest.mark.parametrize("policy", [quorum(1), BEST_EFFORT], ids=["quorum(1)", "best_effort"])
@pytest.mark.parametrize("fault", ["open_write", "write"])
def test_a_create_only_write_without_its_primary_publishes_nowhere(
    policy: WritePolicy, fault: str
) -> None:
    faulty = FaultInjectionLayer(MemoryBackend())
    faulty.fail_nth(fault, 1, times=None)
    a, b = Store(faulty), Store(MemoryBackend())
    mirror, _ = _mirror([a, b], policy)
    with pytest.raises(MirrorWriteError) as info:
        mirror.write("k.bin", b"mine" * 1000)
    assert "decided by destination 0" in str(info.value)
    assert info.value.temporary  # the primary's failure was temporary: worth a retry
    assert _holds(b, "k.bin") is None
    mirror.write("k.bin", b"an overwrite keeps the policy's availability", overwrite=True)
    assert _holds(b, "k.bin") == b"an overwrite keeps the policy's availability"


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_racing_create_only_writers_have_one_winner_everywhere(
    policy: WritePolicy, tmp_path: Path
) -> None:
    stores = [
        Store(MemoryBackend()),
        Store(LocalBackend(tmp_path / "b")),
        Store(MemoryBackend()),
    ]
    mirror, _ = _mirror(stores, policy)
    for round_ in range(16):
        key = f"race-{round_}.bin"
        winners = _race(mirror, key, 8)
        assert len(winners) == 1, (round_, winners)
        expected = _payload(key, winners[0])
        assert [_holds(s, key) for s in stores] == [expected] * 3, round_


def _payload(key: str, i: int) -> bytes:
    return f"{key} from writer {i}".encode() * 50


def _race(mirror: Store, key: str, writers: int) -> list[int]:
    barrier = threading.Barrier(writers)
    winners: list[int] = []
    errors: list[BaseException] = []

    def write(i: int) -> None:
        barrier.wait()
        try:
            mirror.write(key, _payload(key, i))
        except AlreadyExists:
            return
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
            return
        winners.append(i)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return winners


# ------------------------------------------------------------------ rolling back only our own


class _MeanwhileLayer(Layer):
    """Publishing here first runs ``meanwhile`` (another client acting between two
    destinations' publishes), then fails (fault injection)."""

    def __init__(self, inner: Backend, meanwhile: Callable[[], None]) -> None:
        super().__init__(inner)
        self.meanwhile = meanwhile

    def new_writer(self, key: str, options: WriteOptions) -> Writer:
        return _FailingPublish(self.inner.new_writer(key, options), self.meanwhile)


class _FailingPublish(Writer):
    def __init__(self, inner: Writer, meanwhile: Callable[[], None]) -> None:
        self._inner = inner
        self._meanwhile = meanwhile

    def write(self, data: bytes | bytearray | memoryview) -> int:
        return self._inner.write(data)

    def close(self) -> None:
        self._meanwhile()
        self._inner.abort()
        raise ConnectionError("injected: the publish failed")

    def abort(self) -> None:
        self._inner.abort()


@pytest.mark.parametrize("policy", [ALL, quorum(3)], ids=["all", "quorum(3)"])
def test_a_rollback_spares_an_overwrite_another_client_made_meanwhile(
    policy: WritePolicy, tmp_path: Path
) -> None:
    a, b = Store(MemoryBackend()), Store(LocalBackend(tmp_path / "b"))

    def other_client() -> None:  # told "succeeded": it must stay
        a.write("k.bin", b"another client's overwrite", overwrite=True)

    c = Store(_MeanwhileLayer(MemoryBackend(), other_client))
    mirror, _ = _mirror([a, b, c], policy)
    with pytest.raises(MirrorWriteError) as info:
        mirror.write("k.bin", b"mine")
    assert not isinstance(info.value, PartialPublish)
    assert _holds(a, "k.bin") == b"another client's overwrite"
    assert _holds(b, "k.bin") is None
    report = info.value.report
    assert report is not None
    assert [d.state for d in report.destinations] == ["superseded", "rolled_back", "failed"]


def test_a_destination_without_conditional_delete_is_not_rolled_back_but_named() -> None:
    a = Store(MemoryBackend())
    plain = MemoryBackend()
    b = Store(BasicOnly(plain))  # no extended interface: no conditional delete

    def meanwhile() -> None:  # another client's object under the same key
        pass

    c = Store(_MeanwhileLayer(MemoryBackend(), meanwhile))
    mirror, _ = _mirror([a, b, c], ALL)
    with pytest.raises(PartialPublish) as info:
        mirror.write("k.bin", b"mine")
    assert (info.value.new, info.value.old) == ((1,), (0, 2))
    assert _holds(a, "k.bin") is None
    assert _holds(Store(plain), "k.bin") == b"mine"  # left: it could have been another's
    report = info.value.report
    assert report is not None
    assert [d.state for d in report.destinations] == ["rolled_back", "published", "failed"]
    assert "no conditional delete" in (report.destinations[1].error or "")


def test_a_mirror_names_its_version_and_deletes_only_it() -> None:
    a, b = Store(MemoryBackend()), Store(MemoryBackend())
    mirror, _ = _mirror([a, b], ALL)
    mine = mirror.write("k.bin", b"mine")
    assert mine.version is not None
    b.write("k.bin", b"another client's, on one replica", overwrite=True)
    with pytest.raises(PreconditionFailed) as info:
        mirror.delete("k.bin", if_version=mine.version)
    assert "another writer" in str(info.value)
    assert _holds(a, "k.bin") is None  # ours: deleted
    assert _holds(b, "k.bin") == b"another client's, on one replica"
