"""The SFTP backend's own exceptions and what native exceptions mean.

paramiko reports SFTP status errors as ``FileNotFoundError``,
``PermissionError`` or a bare ``OSError("Failure")`` (:func:`is_failure`:
the generic ``SSH_FX_FAILURE`` the driver resolves by looking); connection
problems as ``SSHException``, ``EOFError``, socket errors and timeouts.
:func:`classify` is the one place they are mapped to error kinds.
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
]


class SFTPConnectionError(ConnectionError):
    """The SSH connection could not be made or was lost (temporary)."""


class SFTPAuthenticationError(paramiko.AuthenticationException):
    """The server refused the credentials (names the user and host, never a secret)."""


class UnknownHostKeyError(paramiko.SSHException):
    """The server's host key is not in known_hosts and the policy is ``"reject"``."""


def is_failure(exc: BaseException) -> bool:
    """A bare SFTP status error (``SSH_FX_FAILURE``: exists, not empty, is a folder …)."""
    return type(exc) is OSError and exc.errno is None


def is_connection_problem(exc: BaseException) -> bool:
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
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        return Classification(ErrorKind.UNKNOWN)
    return classify_builtin(exc)
