"""Racing create-only writers through mirrors over the real loopback servers: one winner
per key, the same on every destination, under every policy (threads and forked
processes); and a rollback that spares another client's overwrite on S3 and Azure.

Destination 0 (the arbiter) is always a server that enforces create-only atomically
(moto S3, Azurite, local files): the GCS emulator ignores ``ifGenerationMatch``, so it
serves as a replica only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from omnistorage import LocalBackend, Store
from omnistorage.multi import ALL, MirrorBackend, MirrorWriteError, quorum
from tests.multi.test_mirror_ownership import (
    IDS,
    POLICIES,
    _holds,
    _MeanwhileLayer,
    _payload,
    _race,
)
from tests.support.forked import race_forked
from tests.support.remote import azure_store, gcs_store, s3_store, wipe

pytestmark = pytest.mark.server

ROUNDS = 16
WRITERS = 8


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Store]]:
    stores = [s3_store(), azure_store(), gcs_store(), Store(LocalBackend(tmp_path / "local"))]
    yield stores
    for store in stores[:3]:
        wipe(store)


@pytest.mark.parametrize("policy", POLICIES, ids=IDS)
def test_racing_create_only_writers_through_a_server_mirror_never_diverge(
    servers: list[Store], policy: object
) -> None:
    s3, azure, gcs, local = servers
    stores = [s3, azure, gcs, local]
    mirror = Store(MirrorBackend(stores, policy=policy))  # type: ignore[arg-type]
    diverged = []
    for round_ in range(ROUNDS):
        key = f"race/{round_}.bin"
        winners = _race(mirror, key, WRITERS)
        assert len(winners) == 1, (round_, winners)
        held = [_holds(s, key) for s in stores]
        if held != [_payload(key, winners[0])] * len(stores):
            diverged.append(round_)
    assert diverged == []


@pytest.mark.parametrize("policy", [ALL, quorum(1)], ids=["all", "quorum(1)"])
def test_forked_writers_through_a_mirror_have_one_winner_per_key(
    tmp_path: Path, policy: object
) -> None:
    s3 = s3_store()
    local = Store(LocalBackend(tmp_path / "local"))
    mirror = Store(MirrorBackend([local, s3], policy=policy))  # type: ignore[arg-type]
    mirror.write("warm.bin", b"pools and module state exist before the fork")
    rounds = 12
    try:
        wins, failures = race_forked(mirror, workers=6, rounds=rounds)
        assert failures == []
        assert wins == rounds
        for round_ in range(rounds):
            key = f"shared/create-{round_}.bin"
            assert local.read_bytes(key) == s3.read_bytes(key), key
    finally:
        wipe(s3)


@pytest.mark.parametrize("arbiter", ["s3", "azure"])
@pytest.mark.parametrize("policy", [ALL, quorum(4)], ids=["all", "quorum(4)"])
def test_a_rollback_on_a_server_spares_another_clients_overwrite(
    tmp_path: Path, arbiter: str, policy: object
) -> None:
    make: Callable[[], Store] = s3_store if arbiter == "s3" else azure_store
    first, second = make(), azure_store() if arbiter == "s3" else s3_store()
    local = Store(LocalBackend(tmp_path / "local"))

    def other_client() -> None:  # overwrites on the arbiter while our write is half done
        first.write("k.bin", b"another client's overwrite", overwrite=True)

    failing = Store(_MeanwhileLayer(LocalBackend(tmp_path / "failing"), other_client))
    mirror = Store(MirrorBackend([first, second, local, failing], policy=policy))  # type: ignore[arg-type]
    try:
        with pytest.raises(MirrorWriteError) as info:
            mirror.write("k.bin", b"mine")
        report = info.value.report
        assert report is not None
        assert [d.state for d in report.destinations] == [
            "superseded",
            "rolled_back",
            "rolled_back",
            "failed",
        ]
        assert first.read_bytes("k.bin") == b"another client's overwrite"
        assert not second.is_file("k.bin")
        assert not local.is_file("k.bin")
    finally:
        wipe(first)
        wipe(second)
