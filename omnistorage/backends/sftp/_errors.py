"""The SFTP backend's own exceptions and what native exceptions mean.

paramiko reports SFTP status errors as ``FileNotFoundError``
(``SSH_FX_NO_SUCH_FILE``, which OpenSSH also sends for ``ENOTDIR``: a path
through a file), ``PermissionError`` (``SSH_FX_PERMISSION_DENIED``),
``EOFError`` (``SSH_FX_EOF``) or a bare ``OSError`` carrying only the
server's message for every other status. For those, :func:`status_of` tells
the status by its standard message (the text every server built on OpenSSH's
tables sends): ``SSH_FX_FAILURE`` (:func:`is_failure`: exists, not empty, is
a folder … which the driver resolves by looking), ``SSH_FX_OP_UNSUPPORTED``
(``NOT_SUPPORTED``), ``SSH_FX_NO_CONNECTION`` and ``SSH_FX_CONNECTION_LOST``
(temporary ``UNAVAILABLE``), ``SSH_FX_BAD_MESSAGE``. A message it does not
know counts as a generic failure. Connection problems arrive as
``SSHException``, ``EOFError``, socket errors and timeouts.
:func:`classify` is the one place all of them are mapped to error kinds:

- ``FileNotFoundError``, ``NotADirectoryError``, ``IsADirectoryError`` (a
  folder read as a file): ``NOT_FOUND``;
- ``FileExistsError``: ``ALREADY_EXISTS``;
- ``PermissionError``, refused credentials, unknown or changed host key:
  ``PERMISSION_DENIED`` (never temporary);
- ``OSError(ENOTEMPTY)``: ``DIRECTORY_NOT_EMPTY``;
- ``SSH_FX_OP_UNSUPPORTED``: ``NOT_SUPPORTED``;
- ``SSHException``, ``EOFError``, socket errors, timeouts,
  ``SSH_FX_NO_CONNECTION``, ``SSH_FX_CONNECTION_LOST``: ``UNAVAILABLE``,
  temporary;
- anything else (``SSH_FX_FAILURE``, ``SSH_FX_BAD_MESSAGE`` …): ``UNKNOWN``.
"""

from __future__ import annotations

import errno

import paramiko

from omnistorage.errors import Classification, ErrorKind, classify_builtin

__all__ = [
    "SFTPAuthenticationError",
    "SFTPConnectionError",
    "UnknownHostKeyError",
    "classify",
    "is_connection_problem",
    "is_failure",
    "status_of",
]

# paramiko keeps only the message of these statuses; the standard texts name them.
_STATUS_TEXTS = {
    "failure": "failure",
    "bad message": "bad_message",
    "no connection": "no_connection",
    "connection lost": "connection_lost",
    "operation unsupported": "unsupported",
}


class SFTPConnectionError(ConnectionError):
    """The SSH connection could not be made or was lost (temporary)."""


class SFTPAuthenticationError(paramiko.AuthenticationException):
    """The server refused the credentials (names the user and host, never a secret)."""


class UnknownHostKeyError(paramiko.SSHException):
    """The server's host key is not in known_hosts and the policy is ``"reject"``."""


def status_of(exc: BaseException) -> str | None:
    """For a bare SFTP status error (an ``OSError`` without errno): ``"failure"``,
    ``"bad_message"``, ``"no_connection"``, ``"connection_lost"`` or
    ``"unsupported"`` (an unknown message counts as ``"failure"``); else ``None``."""
    if type(exc) is not OSError or exc.errno is not None:
        return None
    text = str(exc.args[0]) if exc.args else ""
    return _STATUS_TEXTS.get(text.strip().lower(), "failure")


def is_failure(exc: BaseException) -> bool:
    """A generic SFTP failure status (``SSH_FX_FAILURE``: exists, not empty, is a
    folder …) that a second look at the server may explain."""
    return status_of(exc) == "failure"


def is_connection_problem(exc: BaseException) -> bool:
    if status_of(exc) in ("no_connection", "connection_lost"):
        return True
    return isinstance(exc, (paramiko.SSHException, EOFError, ConnectionError, TimeoutError))


def classify(exc: BaseException) -> Classification:
    """What an exception raised by the SFTP driver means (``SFTPBackend.classify_error``)."""
    if isinstance(exc, (UnknownHostKeyError, paramiko.BadHostKeyException)):
        return Classification(ErrorKind.PERMISSION_DENIED)
    if isinstance(exc, paramiko.AuthenticationException):
        return Classification(ErrorKind.PERMISSION_DENIED)
    if isinstance(exc, (paramiko.SSHException, EOFError)):
        return Classification(ErrorKind.UNAVAILABLE, temporary=True)
    if isinstance(exc, IsADirectoryError):
        return Classification(ErrorKind.NOT_FOUND)
    status = status_of(exc)
    if status == "unsupported":
        return Classification(ErrorKind.NOT_SUPPORTED)
    if status in ("no_connection", "connection_lost"):
        return Classification(ErrorKind.UNAVAILABLE, temporary=True)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        return Classification(ErrorKind.UNKNOWN)
    return classify_builtin(exc)
