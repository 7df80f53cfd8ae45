"""A Hypothesis state machine: random operation sequences on a Store against a dict model."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from omnistorage.errors import AlreadyExists, NotFound
from omnistorage.store import Store

__all__ = ["KEYS", "make_state_machine"]

KEYS = ("f1", "f2", "d/f3", "d/f4", "d/e/f5", "x/f6")
"""No key is the folder of another, so every backend can hold any subset."""

_keys = st.sampled_from(KEYS)
_data = st.binary(max_size=64)


def make_state_machine(
    make_store: Callable[[], Store],
    *,
    max_examples: int = 40,
    stateful_step_count: int = 25,
) -> type[RuleBasedStateMachine]:
    """A state machine class checking stores from ``make_store`` (each must start empty).

    Use ``TestX = make_state_machine(factory).TestCase`` in a test module.
    """

    class StoreModel(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.store = make_store()
            self.model: dict[str, bytes] = {}

        def teardown(self) -> None:
            self.store.delete_folder("", recursive=True, missing_ok=True)

        @rule(key=_keys, data=_data, overwrite=st.booleans())
        def write(self, key: str, data: bytes, overwrite: bool) -> None:
            if key in self.model and not overwrite:
                try:
                    self.store.write(key, data)
                except AlreadyExists:
                    return
                raise AssertionError(f"create-only write over {key!r} succeeded")
            self.store.write(key, data, overwrite=overwrite)
            self.model[key] = data

        @rule(key=_keys)
        def read(self, key: str) -> None:
            if key in self.model:
                assert self.store.read_bytes(key) == self.model[key]
            else:
                try:
                    self.store.read_bytes(key)
                except NotFound:
                    return
                raise AssertionError(f"read of missing {key!r} succeeded")

        @rule(key=_keys)
        def delete(self, key: str) -> None:
            self.store.delete(key, missing_ok=True)
            self.model.pop(key, None)

        @rule(src=_keys, dst=_keys, overwrite=st.booleans(), move=st.booleans())
        def transfer(self, src: str, dst: str, overwrite: bool, move: bool) -> None:
            call = self.store.move if move else self.store.copy
            if src not in self.model:
                try:
                    call(src, dst, overwrite=overwrite)
                except NotFound:
                    return
                raise AssertionError(f"transfer from missing {src!r} succeeded")
            if dst in self.model and not overwrite:
                try:
                    call(src, dst, overwrite=overwrite)
                except AlreadyExists:
                    return
                raise AssertionError(f"create-only transfer onto {dst!r} succeeded")
            call(src, dst, overwrite=overwrite)
            data = self.model[src]
            if move and src != dst:
                del self.model[src]
            self.model[dst] = data

        @precondition(lambda self: any(k.startswith("d/") for k in self.model))
        @rule()
        def delete_folder(self) -> None:
            self.store.delete_folder("d", recursive=True)
            self.model = {k: v for k, v in self.model.items() if not k.startswith("d/")}

        @invariant()
        def listing_matches(self) -> None:
            listed = {i.path: i.size for i in self.store.list_files(recursive=True)}
            assert listed == {k: len(v) for k, v in self.model.items()}
            shallow = sorted(i.path for i in self.store.list_files("d"))
            assert shallow == sorted(
                k for k in self.model if k.count("/") == 1 and k.startswith("d/")
            )

    StoreModel.TestCase.settings = settings(
        max_examples=max_examples,
        stateful_step_count=stateful_step_count,
        deadline=None,
    )
    return StoreModel
