"""Secrets are scrubbed at the error boundary, the chained causes included: whatever a
driver raises (a message, an ``OSError``'s file name, an exception held in ``args``, a
``__context__`` or ``__cause__`` further down, a note, bytes, or a ``__str__`` built
from attributes nobody knows), the ``StorageError`` the Store raises carries no secret
in ``str``, ``repr``, the chain's messages or ``traceback.format_exception``.

The driver here is a layer over the memory backend that raises the chosen exception:
fault injection, the one use of a fake the project allows.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from typing import BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnistorage import MemoryBackend, Store
from omnistorage._redact import ScrubbedError, protect_secrets
from omnistorage.aio import AsyncStore, SyncBackendAdapter
from omnistorage.errors import StorageError
from omnistorage.ext._layer import Layer
from omnistorage.models import Leftover, ObjectInfo

OWN = "backend-own-S3cret-1"  # in the backend's secret_values only
REGISTERED = "registered-S3cret-2"  # registered with the log scrubber only
UNREGISTERED_TOKEN = "never-registered-T0ken-3"  # only its shape (Bearer …) gives it away
SECRETS = (OWN, REGISTERED, UNREGISTERED_TOKEN)
SHOWN = {OWN: OWN, REGISTERED: REGISTERED, UNREGISTERED_TOKEN: f"Bearer {UNREGISTERED_TOKEN}"}


class _Raising(Layer):
    """Raises ``make()`` from every read and stat (fault injection)."""

    def __init__(self, make: Callable[[], BaseException]) -> None:
        super().__init__(MemoryBackend())
        self.secret_values = (OWN,)
        self._make = make

    def new_reader(self, key: str, *, offset: int = 0, length: int | None = None) -> BinaryIO:
        raise self._make()

    def stat(self, key: str) -> ObjectInfo:
        raise self._make()

    def list_leftovers(self, prefix: str) -> Iterator[Leftover]:
        raise self._make()


class _Opaque(Exception):
    """Builds its text from a private attribute: it cannot be cleaned in place."""

    def __init__(self, hidden: str) -> None:
        super().__init__()
        self._hidden = hidden

    def __str__(self) -> str:
        return f"opaque failure {self._hidden}"


def _texts(error: BaseException) -> list[str]:
    out = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        out += [str(current), repr(current), *getattr(current, "__notes__", [])]
        for held in (*current.args, getattr(current, "reason", None)):
            if isinstance(held, BaseException):
                out += [str(held), repr(held)]
        for link in (current.__cause__, current.__context__):
            if link is not None and id(link) not in seen:
                out += [str(link), repr(link)]
        current = current.__cause__ or current.__context__
    return out


def _assert_clean(error: BaseException) -> None:
    for text in _texts(error):
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked: {text[:300]!r}"


def _chained(inner: BaseException, outer: BaseException, how: str) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as caught:
            if how == "cause":
                raise outer from caught
            raise outer  # noqa: B904 - the implicit __context__ is the point
    except BaseException as raised:  # noqa: BLE001 - returned to the test
        return raised


def _with_note(error: BaseException, note: str) -> BaseException:
    error.add_note(note)
    return error


CASES: dict[str, Callable[[str], BaseException]] = {
    "message": lambda s: RuntimeError(f"server said {s}"),
    "oserror": lambda s: OSError(13, f"denied {s}", f"/srv/{s}"),
    "keyerror": lambda s: KeyError(s),
    "bytes": lambda s: ValueError(f"raw {s}".encode()),
    "nested in args": lambda s: ConnectionError("aborted", ValueError(f"line {s}")),
    "note": lambda s: _with_note(RuntimeError("plain"), f"note {s}"),
    "cause": lambda s: _chained(RuntimeError(f"low {s}"), ConnectionError("high"), "cause"),
    "context": lambda s: _chained(RuntimeError(f"low {s}"), ConnectionError("high"), "context"),
    "opaque": lambda s: _Opaque(s),
    "opaque cause": lambda s: _chained(_Opaque(s), ConnectionError("wrapped"), "cause"),
    "storage error from a layer": lambda s: _chained(
        RuntimeError(f"native {s}"), StorageError(f"layer saw {s}", temporary=True), "cause"
    ),
}


@pytest.fixture(autouse=True)
def _registered() -> None:
    protect_secrets(REGISTERED)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("secret", SECRETS)
def test_no_secret_survives_the_error_boundary(case: str, secret: str) -> None:
    store = Store(_Raising(lambda: CASES[case](SHOWN[secret])))
    calls = (
        lambda: store.read_bytes("k"),
        lambda: store.get_file_info("k"),
        lambda: store.cleanup(),
    )
    for call in calls:
        with pytest.raises(StorageError) as info:
            call()
        _assert_clean(info.value)
        assert "***" in "".join(_texts(info.value))  # the text was there, and masked


class _Final(_Opaque):
    """An opaque exception whose class refuses subclasses."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        raise TypeError("final")


_ELSEWHERE: dict[int, str] = {}


class _Unreachable(Exception):
    """A final exception whose text lives outside the instance: nothing can clean it."""

    def __init__(self, hidden: str) -> None:
        super().__init__()
        _ELSEWHERE[id(self)] = hidden

    def __init_subclass__(cls, **kwargs: object) -> None:
        raise TypeError("final")

    def __str__(self) -> str:
        return f"unreachable {_ELSEWHERE.get(id(self), '')}"


def test_an_opaque_exception_keeps_its_type_and_shows_its_text_cleaned() -> None:
    store = Store(_Raising(lambda: _Opaque(OWN)))
    with pytest.raises(StorageError) as info:
        store.read_bytes("k")
    cause = info.value.__cause__
    assert isinstance(cause, _Opaque)
    assert type(cause).__qualname__ == "_Opaque"
    assert str(cause) == "opaque failure ***"
    assert cause._hidden == OWN  # its data stays for code that inspects it


def test_a_final_class_has_its_instance_text_cleaned() -> None:
    store = Store(_Raising(lambda: _Final(OWN)))
    with pytest.raises(StorageError) as info:
        store.read_bytes("k")
    _assert_clean(info.value)
    assert type(info.value.__cause__) is _Final
    assert str(info.value.__cause__) == "opaque failure ***"


def test_an_exception_that_cannot_be_cleaned_is_replaced_by_a_stand_in() -> None:
    store = Store(_Raising(lambda: _chained(_Unreachable(OWN), ConnectionError("outer"), "cause")))
    with pytest.raises(StorageError) as info:
        store.read_bytes("k")
    _assert_clean(info.value)
    cause = info.value.__cause__
    assert isinstance(cause, ConnectionError)
    stand_in = cause.__cause__
    assert isinstance(stand_in, ScrubbedError)
    assert stand_in.original_type == "_Unreachable"
    assert str(stand_in) == "_Unreachable: unreachable ***"
    assert cause.__context__ is stand_in  # the implicit link is replaced too


@pytest.mark.parametrize("call", ["read_bytes", "cleanup"])
def test_an_uncleanable_driver_exception_is_chained_as_its_stand_in(call: str) -> None:
    store = Store(_Raising(lambda: _Unreachable(OWN)))
    with pytest.raises(StorageError) as info:
        store.read_bytes("k") if call == "read_bytes" else store.cleanup()
    error = info.value
    assert OWN not in str(error) + repr(error)
    assert isinstance(error.__cause__, ScrubbedError)
    assert OWN not in "".join(traceback.format_exception(error))
    # Python's implicit __context__ (not shown by tracebacks after ``raise … from``) is
    # the one link the boundary cannot replace: documented in omnistorage._redact.
    assert error.__suppress_context__


def test_the_async_store_scrubs_at_the_same_boundary() -> None:
    import asyncio

    async def run() -> StorageError:
        store = AsyncStore(SyncBackendAdapter(_Raising(lambda: CASES["cause"](OWN))))
        try:
            await store.read_bytes("k")
        except StorageError as error:
            return error
        finally:
            await store.close()
        raise AssertionError("the read did not fail")

    _assert_clean(asyncio.run(run()))


_BUILDERS = st.sampled_from(
    [
        lambda s: RuntimeError(s),
        lambda s: OSError(5, s, s),
        lambda s: KeyError(s),
        lambda s: ConnectionError("wrapped", RuntimeError(s)),
        lambda s: _Opaque(s),
        lambda s: _Final(s),
        lambda s: ValueError(s.encode()),
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    links=st.lists(
        st.tuples(_BUILDERS, st.booleans(), st.sampled_from(["cause", "context"])),
        min_size=1,
        max_size=5,
    ),
    secret=st.sampled_from(SECRETS),
)
def test_any_chain_of_native_exceptions_is_scrubbed(
    links: list[tuple[Callable[[str], BaseException], bool, str]], secret: str
) -> None:
    """A chain of up to five exceptions, each holding the secret or not, linked as causes
    or contexts: nothing of it survives."""

    def make() -> BaseException:
        error: BaseException | None = None
        for build, holds, how in links:
            made = build(SHOWN[secret] if holds else "harmless")
            error = made if error is None else _chained(error, made, how)
        assert error is not None
        return error

    protect_secrets(REGISTERED)
    with pytest.raises(StorageError) as info:
        Store(_Raising(make)).read_bytes("k")
    _assert_clean(info.value)
