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
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["SDK_LOGGERS", "protect_secrets", "redact_url", "scrub"]

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


def scrub(text: str) -> str:
    """``text`` with protected values and credential-shaped fragments replaced by ``***``."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
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
