"""Suite tests for staged writes published later (``DEFERRED_PUBLISH``).

Mixed into :class:`omnistorage.testing.StoreConformance`. A staged write shows nothing at
its path or in a listing; its token survives JSON; publishing it from the token lands the
whole object (create-only kept, a retry after a lost reply succeeds); discarding leaves
nothing; a malformed, foreign or re-aimed token is a typed error that changes nothing.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest

from omnistorage.capabilities import Capability
from omnistorage.errors import AlreadyExists, NotFound, StorageError
from omnistorage.models import HashType
from omnistorage.staged import InvalidToken, StagedObject, discard, open_staged, publish
from omnistorage.store import Store
from omnistorage.testing._marks import requires

__all__ = ["StagedTests"]


def _stage(store: Store, path: str, data: bytes, *, overwrite: bool = False) -> StagedObject:
    with open_staged(store, path, overwrite=overwrite, hashes=[HashType.MD5]) as writer:
        for start in range(0, len(data), 1 << 20):
            writer.write(data[start : start + (1 << 20)])
    token = writer.close()
    # Every token travels as JSON: what comes back is what is published.
    return StagedObject.from_json(token.to_json())


def _listed(store: Store) -> set[str]:
    return {info.path for info in store.list_files("", recursive=True)}


class StagedTests:
    """Deferred publish (see the module docstring)."""

    large_size: ClassVar[int]

    @requires(Capability.DEFERRED_PUBLISH)
    def test_a_staged_write_is_invisible_until_published(self, store: Store) -> None:
        data = b"staged bytes\n" * 1000
        token = _stage(store, "ds/part-0.bin", data)
        assert token.size == len(data)
        assert not store.is_file("ds/part-0.bin")
        assert "ds/part-0.bin" not in _listed(store)
        result = publish(store, token)
        assert result.path == "ds/part-0.bin"
        assert result.size == len(data)
        assert store.read_bytes("ds/part-0.bin") == data
        assert _listed(store) == {"ds/part-0.bin"}
        assert result.hashes[HashType.MD5] == token.hashes[HashType.MD5]

    @requires(Capability.DEFERRED_PUBLISH)
    def test_a_publish_retried_finds_its_own_object(self, store: Store) -> None:
        token = _stage(store, "again.bin", b"once")
        first = publish(store, token)
        second = publish(store, token)  # the reply of the first was lost, say
        assert store.read_bytes("again.bin") == b"once"
        if first.version is not None:
            assert second.version == first.version

    @requires(Capability.DEFERRED_PUBLISH)
    def test_empty_and_large_objects_stage(self, store: Store) -> None:
        large = bytes(range(256)) * (self.large_size // 256 + 1)
        empty, big = _stage(store, "empty.bin", b""), _stage(store, "big.bin", large)
        assert not store.is_file("empty.bin")
        assert not store.is_file("big.bin")
        publish(store, big)
        publish(store, empty)
        assert store.read_bytes("empty.bin") == b""
        assert store.read_bytes("big.bin") == large

    @requires(Capability.DEFERRED_PUBLISH, Capability.CONDITIONAL_WRITE)
    def test_a_create_only_publish_keeps_another_writers_object(self, store: Store) -> None:
        token = _stage(store, "taken.bin", b"staged")
        store.write("taken.bin", b"theirs")
        with pytest.raises(AlreadyExists):
            publish(store, token)
        assert store.read_bytes("taken.bin") == b"theirs"
        discard(store, token)
        assert store.read_bytes("taken.bin") == b"theirs"

    @requires(Capability.DEFERRED_PUBLISH)
    def test_an_overwriting_stage_replaces_on_publish(self, store: Store) -> None:
        store.write("over.bin", b"old")
        token = _stage(store, "over.bin", b"new and longer", overwrite=True)
        assert store.read_bytes("over.bin") == b"old"
        publish(store, token)
        assert store.read_bytes("over.bin") == b"new and longer"

    @requires(Capability.DEFERRED_PUBLISH)
    def test_a_discarded_stage_is_gone(self, store: Store) -> None:
        token = _stage(store, "dropped.bin", b"never")
        discard(store, token)
        discard(store, token)  # gone already is fine
        with pytest.raises(NotFound):
            publish(store, token)
        assert not store.is_file("dropped.bin")
        assert _listed(store) == set()

    @requires(Capability.DEFERRED_PUBLISH)
    def test_discard_never_touches_a_published_object(self, store: Store) -> None:
        token = _stage(store, "kept.bin", b"kept")
        publish(store, token)
        discard(store, token)
        assert store.read_bytes("kept.bin") == b"kept"

    @requires(Capability.DEFERRED_PUBLISH)
    def test_an_aborted_staging_writer_stages_nothing(self, store: Store) -> None:
        with pytest.raises(RuntimeError), open_staged(store, "boom.bin") as writer:
            writer.write(b"half")
            raise RuntimeError("task died")
        assert not store.is_file("boom.bin")
        assert _listed(store) == set()

    @requires(Capability.DEFERRED_PUBLISH)
    def test_malformed_tokens_are_typed_errors(self, store: Store) -> None:
        token = _stage(store, "real.bin", b"real")
        good = token.to_dict()
        hostile: list[object] = [
            "not json",
            {**good, "format": "other"},
            {**good, "version": 99},
            {**good, "path": "../escape.bin"},
            {**good, "path": "/etc/passwd"},
            {**good, "path": "a//b"},
            {**good, "size": -1},
            {**good, "overwrite": "yes"},
            {**good, "hashes": {"md5": 5}},
            {**good, "staged": []},
        ]
        for value in hostile:
            text = value if isinstance(value, str) else json.dumps(value)
            with pytest.raises(InvalidToken):
                StagedObject.from_json(text)
        forgeries: list[dict[str, Any]] = [{}, {"upload": 1}, {k: [] for k in good["staged"]}]
        for staged in forgeries:
            forged = StagedObject.from_dict({**good, "staged": staged})
            with pytest.raises(InvalidToken):
                publish(store, forged)
            with pytest.raises(InvalidToken):
                discard(store, forged)
        foreign = StagedObject.from_dict({**good, "backend": "elsewhere"})
        with pytest.raises(InvalidToken):
            publish(store, foreign)
        assert _listed(store) == set()
        publish(store, token)  # the real one still works
        assert store.read_bytes("real.bin") == b"real"

    @requires(Capability.DEFERRED_PUBLISH)
    def test_a_token_aimed_at_another_path_publishes_nothing(self, store: Store) -> None:
        token = _stage(store, "mine/a.bin", b"aimed")
        moved = StagedObject.from_dict({**token.to_dict(), "path": "other/b.bin"})
        with pytest.raises((InvalidToken, NotFound)):
            publish(store, moved)
        assert _listed(store) == set()
        publish(store, token)
        assert store.read_bytes("mine/a.bin") == b"aimed"

    @requires(Capability.DEFERRED_PUBLISH)
    def test_a_token_stays_inside_the_store_that_publishes_it(self, store: Store) -> None:
        inner = store.child("inner")
        token = _stage(inner, "x.bin", b"inside")
        # The same token handed to the parent store names the parent's "x.bin", which
        # holds no staged data: the token cannot reach outside the root it is used with.
        with pytest.raises((InvalidToken, NotFound)):
            publish(store, token)
        assert not store.is_file("x.bin")
        publish(inner, token)
        assert store.read_bytes("inner/x.bin") == b"inside"

    @requires(Capability.DEFERRED_PUBLISH)
    def test_a_token_carries_no_secret(self, store: Store) -> None:
        token = _stage(store, "s.bin", b"s")
        # Everything but the fixed format name ("omnistorage.staged", which a test
        # server's password may happen to contain).
        text = json.dumps({k: v for k, v in token.to_dict().items() if k != "format"})
        for secret in store.unwrap().secret_values:
            if secret:
                assert secret not in text
        discard(store, token)

    @requires(Capability.DEFERRED_PUBLISH)
    def test_a_failed_publish_is_a_storage_error(self, store: Store) -> None:
        token = _stage(store, "f.bin", b"f")
        discard(store, token)
        with pytest.raises(StorageError) as info:
            publish(store, token)
        assert info.value.path == "f.bin"
