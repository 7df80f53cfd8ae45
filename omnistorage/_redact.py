"""Keeping secrets out of logs: a scrubber for the SDK loggers the backends use.

Backends call :func:`protect_secrets` with every credential they hold
(passwords, secret keys, session tokens, SAS tokens, account keys). The first
call installs a log-record factory that, for records of the SDK loggers in
:data:`SDK_LOGGERS` (and their children), formats the message once and
replaces every protected value and every credential-shaped fragment
(``Authorization`` headers, ``x-amz-security-token``, signatures, SAS ``sig=``,
``AccountKey=`` …) with ``***``. A logger-level filter would not do: Python
consults a logger's filters only for records logged on that very logger, not
on its children (``botocore.endpoint``), so the factory is the one place every
record passes through.

Records are created only after the level check, so this costs nothing while
those loggers are quiet.

Errors are scrubbed at the one error boundary (:func:`omnistorage.errors.map_error`)
by :func:`scrub_exception`: the message of every exception along the chain a
raised error carries (``__cause__``, ``__context__``, exceptions held in
``args`` such as urllib3's ``ProtocolError('…', BadStatusLine(…))`` or
``MaxRetryError.reason``) is cleaned in place, so ``str``, ``repr`` and
``traceback.format_exception`` of the error hold no secret. An exception whose
text is built from attributes this module does not know keeps its type and
attributes but shows its cleaned text (it becomes an instance of a subclass of
its own type, with the same name, whose ``__str__`` and ``__repr__`` return
the text it had, cleaned); where its class cannot be changed, the text values
of its instance attributes are cleaned. One whose text still holds a secret
(kept in C-level state) is replaced in the chain by a :class:`ScrubbedError`
naming its type and carrying its cleaned message; if it is the driver's own
exception, the raised error's ``__cause__`` is the stand-in, while Python's
implicit ``__context__`` (hidden from tracebacks by ``raise … from``) still
points at the original.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = [
    "SDK_LOGGERS",
    "ScrubbedError",
    "protect_secrets",
    "redact_url",
    "scrub",
    "scrub_exception",
]

SDK_LOGGERS = (
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "azure",
    "paramiko",
    "google",
    "requests",
    "omnistorage",
)

_MASK = "***"
_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False

_PATTERNS = (
    # HTTP headers carrying credentials, in dict reprs or raw header dumps.
    re.compile(
        r"(?i)((?:authorization|x-amz-security-token|x-amz-credential|x-goog-signature"
        r"|x-ms-encryption-key|proxy-authorization)['\"]?\s*[:=]\s*(?:b?['\"])?)([^'\",&\r\n}]+)"
    ),
    # Query-string and connection-string credentials (also omnistorage's own option
    # names, as they appear in URL query strings), SigV4's ``Credential=AKID/…`` and
    # GCS's resumable-session ``upload_id`` (whoever holds the session URI can upload).
    re.compile(
        r"(?i)((?:X-Amz-Signature|X-Amz-Security-Token|X-Amz-Credential|Signature|sig"
        r"|AccountKey|SharedAccessSignature|access_token|refresh_token|client_secret"
        r"|password|passphrase|Credential|access_key_id|secret_access_key|session_token"
        r"|account_key|sas_token|connection_string|upload_id)=)([^&;,\s'\"]+)"
    ),
    # Bearer tokens wherever they appear (OAuth access tokens sent by google-auth).
    re.compile(r"(?i)(\bBearer\s+)([^\s'\",}]+)"),
)


def protect_secrets(*values: str | None) -> None:
    """Scrub these values (raw and URL-quoted) from SDK log records from now on.

    Values under 4 characters are ignored. Every call installs the scrubber, so
    calling it with no values still scrubs credential-shaped fragments
    (``Authorization`` headers, tokens, signatures) from SDK records."""
    global _installed
    fresh: set[str] = set()
    for value in values:
        if isinstance(value, str) and len(value) >= 4:
            # The value as it is and as it travels in URLs and query strings.
            fresh.update((value, quote(value, safe=""), quote_plus(value, safe="")))
    with _lock:
        _secrets.update(fresh)
        if not _installed:
            _install()
            _installed = True


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with protected values, ``secrets`` (values under 4 characters are
    ignored) and credential-shaped fragments replaced by ``***``."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    extra = sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True)
    for secret in (*extra, *known):
        if secret in text:
            text = text.replace(secret, _MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + _MASK, text)
    return text


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#@]*)@")


def redact_url(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part (and any query value
    named like a credential) replaced by ``***``; the user name is kept."""
    match = _USERINFO.match(url)
    if match is not None:
        user, sep, _ = match.group(2).partition(":")
        url = f"{match.group(1)}{user}{':' + _MASK if sep else ''}@{url[match.end() :]}"
    return scrub(url)


def _is_sdk_record(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in SDK_LOGGERS)


def _install() -> None:
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _is_sdk_record(record.name):
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a malformed record is logged as it is
                return record
            record.msg = scrub(message)
            record.args = None
        return record

    logging.setLogRecordFactory(factory)


# ---------------------------------------------------------------- exceptions


class ScrubbedError(Exception):
    """Stands in, in an error's chain, for a native exception whose text held a secret
    that could not be removed in place. ``original_type`` names the exception's type."""

    def __init__(self, original_type: str, message: str) -> None:
        super().__init__(f"{original_type}: {message}")
        self.original_type = original_type


# Attributes that builtin and common SDK exceptions build their text from.
_TEXT_ATTRIBUTES = ("strerror", "filename", "filename2", "msg", "message", "reason", "url")
_MAX_CHAIN = 64


def _texts(exc: BaseException) -> tuple[str, str, tuple[str, ...]]:
    try:
        shown, shown_repr = str(exc), repr(exc)
    except Exception:  # noqa: BLE001 - an exception that cannot show itself shows its type
        shown = shown_repr = type(exc).__name__
    notes = getattr(exc, "__notes__", None)
    return shown, shown_repr, tuple(n for n in notes if isinstance(n, str)) if notes else ()


def _leaks(exc: BaseException, secrets: tuple[str, ...]) -> bool:
    return any(scrub(text, secrets) != text for text in _flatten(_texts(exc)))


def _flatten(texts: tuple[str, str, tuple[str, ...]]) -> tuple[str, ...]:
    return (texts[0], texts[1], *texts[2])


def _clean_value(value: Any, secrets: tuple[str, ...], depth: int) -> Any:
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("latin-1")
        cleaned = scrub(text, secrets)
        return value if cleaned == text else cleaned.encode("latin-1")
    if isinstance(value, BaseException):
        return _scrub_one(value, secrets, depth + 1)
    if isinstance(value, tuple | list):
        return type(value)(_clean_value(v, secrets, depth) for v in value)
    return value


_masked_classes: dict[type[BaseException], type[BaseException]] = {}


def _masked_class(cls: type[BaseException]) -> type[BaseException]:
    with _lock:
        masked = _masked_classes.get(cls)
        if masked is None:
            namespace = {
                "__module__": cls.__module__,
                "__qualname__": cls.__qualname__,
                "__str__": lambda self: self._omnistorage_str,
                "__repr__": lambda self: self._omnistorage_repr,
            }
            masked = _masked_classes[cls] = type(cls.__name__, (cls,), namespace)
        return masked


def _mask(exc: BaseException, secrets: tuple[str, ...]) -> bool:
    """Make ``exc`` show its text cleaned, whatever its ``__str__`` reads; False when its
    class cannot be changed (a type whose layout forbids it)."""
    shown, shown_repr, _ = _texts(exc)
    try:
        masked = _masked_class(type(exc))
        exc._omnistorage_str = scrub(shown, secrets)  # type: ignore[attr-defined]
        exc._omnistorage_repr = scrub(shown_repr, secrets)  # type: ignore[attr-defined]
        exc.__class__ = masked
    except Exception:  # noqa: BLE001 - a builtin or final class: the caller stands in
        return False
    return not _leaks(exc, secrets)


def _clean_state(exc: BaseException, secrets: tuple[str, ...]) -> bool:
    """Clean every text value of ``exc``'s instance attributes (its ``__str__`` reads one
    this module does not know, and its class could not be masked)."""
    state = getattr(exc, "__dict__", None)
    if not isinstance(state, dict):
        return False
    for name, value in list(state.items()):
        if isinstance(value, str | bytes | bytearray):
            state[name] = _clean_value(value, secrets, 0)
    return not _leaks(exc, secrets)


def _scrub_one(exc: BaseException, secrets: tuple[str, ...], depth: int) -> BaseException:
    """``exc`` cleaned in place (its args, text attributes, notes and the exceptions it
    holds), or a :class:`ScrubbedError` standing in for it."""
    if depth > _MAX_CHAIN or not _leaks(exc, secrets):
        return exc
    exc.args = tuple(_clean_value(arg, secrets, depth) for arg in exc.args)
    for name in _TEXT_ATTRIBUTES:
        value = getattr(exc, name, None)
        if isinstance(value, str | bytes | BaseException):
            with contextlib.suppress(AttributeError, TypeError):  # read-only: masked below
                setattr(exc, name, _clean_value(value, secrets, depth))
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, list):
        notes[:] = [scrub(n, secrets) if isinstance(n, str) else n for n in notes]
    if not _leaks(exc, secrets) or _mask(exc, secrets) or _clean_state(exc, secrets):
        return exc
    stand_in = ScrubbedError(type(exc).__qualname__, scrub(_texts(exc)[0], secrets))
    stand_in.__cause__, stand_in.__context__ = exc.__cause__, exc.__context__
    stand_in.__suppress_context__ = exc.__suppress_context__
    stand_in.__traceback__ = exc.__traceback__
    return stand_in


def scrub_exception(exc: BaseException, secrets: Iterable[str] = ()) -> BaseException:
    """Clean ``exc`` and every exception it chains to of ``secrets`` and of what
    :func:`scrub` masks (see the module docstring). Returns ``exc``, cleaned in place, or
    the :class:`ScrubbedError` that stands in for it when its own text could not be
    cleaned. Links further down the chain are replaced in place."""
    known = tuple(s for s in secrets if s and len(s) >= 4)
    head = _scrub_one(exc, known, 0)
    replaced: dict[int, BaseException] = {id(exc): head, id(head): head}
    pending = [head]
    while pending and len(replaced) < 2 * _MAX_CHAIN:
        current = pending.pop()
        for link in ("__cause__", "__context__"):
            nxt = getattr(current, link)
            if nxt is None:
                continue
            cleaned = replaced.get(id(nxt))
            if cleaned is None:
                cleaned = replaced[id(nxt)] = _scrub_one(nxt, known, 0)
                replaced[id(cleaned)] = cleaned
                pending.append(cleaned)
            if cleaned is not nxt:
                setattr(current, link, cleaned)
    return head
