"""The streaming GCS writer: one simple upload, or a resumable session.

A writer buffers at most one chunk. An object that fits in one chunk goes up
in one simple request on :meth:`GCSWriter.close`; a larger one opens a
resumable upload session when the first chunk is full, and the final chunk —
which creates the object, checked against the CRC32C of the whole object — is
sent only by :meth:`GCSWriter.close`. A failed chunk is retried after asking
the session how many bytes it persisted. :meth:`GCSWriter.abort` cancels the
session. Session URIs never appear in messages (:class:`ResumableUploadError`).

A create-only write (``ifGenerationMatch=0``) whose reply is lost is retried;
the retry meets the object the first attempt created and GCS answers 412. The
writer knows whether the request that created the object was retried (the
simple upload runs under the backend's retry with an ``on_error`` callback;
the final chunk of a resumable upload is retried by the writer's own loop),
and only then examines the object there: it is ours, and the write succeeds,
when its size, CRC32C, user metadata and (for a simple upload) MD5 are those
of what this writer sent. A 412 on the first attempt is another writer's
object and stays a conflict (:meth:`GCSWriter._is_ours`).
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from typing import TYPE_CHECKING, Any

import google_crc32c
from google.api_core import exceptions as api_exceptions

from omnistorage.backends.gcs._errors import (
    CONNECTION_ERRORS,
    TEMPORARY_STATUS,
    ResumableUploadError,
    classify,
)
from omnistorage.backends.gcs._metadata import MTIME_KEY, crc32c_header, format_mtime
from omnistorage.driver import WriteOptions, Writer
from omnistorage.errors import ErrorKind

if TYPE_CHECKING:
    from omnistorage.backends.gcs._backend import GCSBackend

__all__ = ["CHUNK_GRANULARITY", "GCSWriter"]

CHUNK_GRANULARITY = 256 * 1024
"""Resumable upload chunks (all but the last) are multiples of this."""
_DEFAULT_CONTENT_TYPE = "application/octet-stream"
_UPLOAD_ATTEMPTS = 3
_UPLOAD_BACKOFF = 0.5

_LOOKUP_ERRORS: tuple[type[BaseException], ...] = (
    api_exceptions.GoogleAPIError,
    *CONNECTION_ERRORS,
)

_OPEN, _CLOSING, _CLOSED, _ABORTED = "open", "closing", "closed", "aborted"


class GCSWriter(Writer):
    """Buffers one chunk; small objects go up in one request on close, larger ones
    through a resumable session whose final chunk is sent only by close."""

    def __init__(self, backend: GCSBackend, key: str, options: WriteOptions) -> None:
        self._backend = backend
        self._key = key
        blob = backend._bucket.blob(key)
        metadata = dict(options.metadata)
        if options.modified_ns is not None:
            metadata[MTIME_KEY] = format_mtime(options.modified_ns)
        if metadata:
            blob.metadata = metadata
        self._content_type = options.content_type or _DEFAULT_CONTENT_TYPE
        blob.content_type = self._content_type
        self._blob = blob
        self._generation_match = None if options.overwrite else 0
        self._chunk_size = backend._chunk_size
        self._buffer = bytearray()
        self._offset = 0  # bytes the session has persisted; the buffer starts there
        self._crc = 0  # CRC32C of the persisted bytes
        self._session: str | None = None
        self._upload_id = ""
        self._retried = False  # the request that creates the object was sent again
        self._state = _OPEN

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._state != _OPEN:
            raise ValueError(f"write to a finished GCS writer ({self._state})")
        view = memoryview(data).cast("B")
        total = len(view)
        pos = 0
        while pos < total:
            room = self._chunk_size - len(self._buffer)
            if room == 0:  # a full chunk and more to come: it is not the last one
                self._send(final=False)
                continue
            take = min(room, total - pos)
            self._buffer += view[pos : pos + take]
            pos += take
        return total

    def close(self) -> None:
        if self._state != _OPEN:
            raise ValueError(f"GCS writer already finished ({self._state})")
        self._state = _CLOSING
        if self._session is None:
            self._upload_simple(bytes(self._buffer))
        else:
            size = self._offset + len(self._buffer)
            crc = google_crc32c.extend(self._crc, bytes(self._buffer))
            try:
                self._send(final=True)
            except ResumableUploadError as exc:
                if exc.status != 412 or not self._is_ours(size, crc, None):
                    raise
                # Our final chunk created the object; its retry met our own object.
        self._state = _CLOSED
        self._buffer = bytearray()

    def abort(self) -> None:
        if self._state in (_CLOSED, _ABORTED):
            return
        self._state = _ABORTED
        self._buffer = bytearray()
        session, self._session = self._session, None
        if session is not None:
            self._backend._cancel_session(session)

    # -------------------------------------------------------------- simple upload

    def _upload_simple(self, data: bytes) -> None:
        """One multipart request, retried under the backend's policy, noting each retry."""
        blob = self._blob

        def upload() -> None:
            blob.upload_from_string(
                data,
                content_type=self._content_type,
                if_generation_match=self._generation_match,
                timeout=self._backend._timeout,
                retry=None,  # retried here, so that a retry is known (see _is_ours)
            )

        retry = self._backend._retry
        try:
            with self._backend.bucket_404():  # an upload's 404 is the bucket's
                if retry is None:
                    upload()
                else:
                    retry(upload, on_error=self._note_retry)()
        except api_exceptions.PreconditionFailed:
            md5 = hashlib.md5(data, usedforsecurity=False).digest()
            if not self._is_ours(len(data), google_crc32c.value(data), md5):
                raise
            # Our first attempt stored it; the retry met our own object.
            return
        # The upload's reply set the blob's properties: the generation it created.
        self.version = _generation(blob.generation)

    def _note_retry(self, exc: Exception) -> None:
        self._retried = True

    def _is_ours(self, size: int, crc32c: int, md5: bytes | None) -> bool:
        """After a create-only conflict: is the object there the one this writer sent?

        Only a conflict met after the creating request was retried is examined:
        on the first attempt it can only be another writer's object. The object
        is ours when its size, CRC32C, user metadata and (when both sides have
        one) MD5 are those of what we sent; an object whose hashes cannot be
        read stays a conflict.
        """
        if self._generation_match != 0 or not self._retried:
            return False
        blob = self._backend._bucket.blob(self._key)
        try:
            blob.reload(timeout=self._backend._timeout, retry=self._backend._retry)
        except _LOOKUP_ERRORS:
            # the conflict is reported, not this lookup's failure
            return False
        if blob.size is None or int(blob.size) != size:
            return False
        if blob.crc32c != _b64(crc32c.to_bytes(4, "big")):
            return False
        if md5 is not None and blob.md5_hash is not None and blob.md5_hash != _b64(md5):
            return False
        if dict(blob.metadata or {}) != dict(self._blob.metadata or {}):
            return False
        self.version = _generation(blob.generation)
        return True

    # -------------------------------------------------------------- resumable session

    def _send(self, *, final: bool) -> None:
        """Send the buffer to the session (the last chunk when ``final``)."""
        if self._session is None:
            try:
                self._session = self._blob.create_resumable_upload_session(
                    content_type=self._content_type,
                    if_generation_match=self._generation_match,
                    timeout=self._backend._timeout,
                    retry=self._backend._retry,
                    checksum=None,
                )
            except Exception as exc:
                if classify(exc).kind is ErrorKind.NOT_FOUND:  # no session: no bucket
                    self._backend._bucket_check.raise_if_missing()
                raise
            self._upload_id = _upload_id(self._session)
        failures = 0
        recover = False
        started = time.monotonic()
        while True:
            try:
                if recover:
                    recover = False
                    if self._query_status(final=final):
                        return
                    if not final and len(self._buffer) < self._chunk_size:
                        return  # the session kept (part of) the chunk: refill the buffer
                if self._put(final=final):
                    return
            except ResumableUploadError as exc:
                if not exc.temporary:
                    raise
                failures += 1
                if failures >= _UPLOAD_ATTEMPTS:
                    raise
                backoff = _UPLOAD_BACKOFF * 2 ** (failures - 1)
                if not self._backend._budget.allows(started, backoff):
                    raise  # a silent service is not waited for again past the retry budget
                if final:
                    self._retried = True  # the last chunk, which creates the object, goes again
                time.sleep(backoff)
                recover = True

    def _put(self, *, final: bool) -> bool:
        """One PUT of the buffer. True when this step is done: for a middle chunk, once the
        session answers (keeping any unpersisted tail for the next chunk); for the last one,
        once the object exists."""
        data = bytes(self._buffer)
        start = self._offset
        end = start + len(data)
        headers = {}
        if final:
            headers["Content-Range"] = (
                f"bytes {start}-{end - 1}/{end}" if data else f"bytes */{end}"
            )
            crc = google_crc32c.extend(self._crc, data) if data else self._crc
            headers["X-Goog-Hash"] = crc32c_header(crc)
        else:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/*"
        response = self._request("PUT", data, headers)
        status = response.status_code
        if status in (200, 201):
            if not final:
                raise ResumableUploadError(
                    self._message("the session completed before its last chunk"),
                    status=status,
                    temporary=False,
                )
            self._note_created(response)
            return True
        if status == 308:
            if not self._advance(response, data):
                raise ResumableUploadError(
                    self._message("the session accepted none of the chunk"),
                    status=status,
                    temporary=False,
                )
            return not final
        raise self._status_error(response)

    def _query_status(self, *, final: bool) -> bool:
        """Ask the session how much it has; True when the object already exists."""
        response = self._request("PUT", b"", {"Content-Range": "bytes */*"})
        status = response.status_code
        if status in (200, 201):
            if not final:
                raise ResumableUploadError(
                    self._message("the session completed before its last chunk"),
                    status=status,
                    temporary=False,
                )
            self._note_created(response)
            return True
        if status == 308:
            self._advance(response, bytes(self._buffer))
            return False
        raise self._status_error(response)

    def _note_created(self, response: Any) -> None:
        """Keep the generation the session's last reply created (the version token)."""
        try:
            self.version = _generation(response.json().get("generation"))
        except (ValueError, AttributeError, TypeError):
            self.version = None

    def _advance(self, response: Any, data: bytes) -> bool:
        """Drop what the session reports persisted from the buffer; True if anything was."""
        persisted = 0
        match = re.fullmatch(r"bytes=0-(\d+)", (response.headers.get("Range") or "").strip())
        if match is not None:
            persisted = int(match.group(1)) + 1
        start = self._offset
        if not start <= persisted <= start + len(data):
            raise ResumableUploadError(
                self._message(
                    f"the session reports {persisted} bytes persisted, "
                    f"expected {start} to {start + len(data)}"
                ),
                status=response.status_code,
                temporary=False,
            )
        done = persisted - start
        if done:
            self._crc = google_crc32c.extend(self._crc, data if done == len(data) else data[:done])
            del self._buffer[:done]
            self._offset = persisted
        return done > 0

    def _request(self, method: str, data: bytes, headers: dict[str, str]) -> Any:
        assert self._session is not None
        try:
            return self._backend._http.request(
                method, self._session, data=data, headers=headers, timeout=self._backend._timeout
            )
        except CONNECTION_ERRORS as exc:
            # Re-raised without the original: its message holds the session URI.
            raise ResumableUploadError(
                self._message(f"connection failed ({type(exc).__name__})"),
                status=None,
                temporary=True,
            ) from None

    def _status_error(self, response: Any) -> ResumableUploadError:
        status = int(response.status_code)
        detail = ""
        try:
            detail = str(response.json()["error"]["message"])
        except (ValueError, KeyError, TypeError):
            detail = (response.text or "")[:200]
        if self._upload_id:
            detail = detail.replace(self._upload_id, "***")
        reason = f"HTTP {status} {response.reason or ''}".rstrip()
        return ResumableUploadError(
            self._message(f"{reason}: {detail}" if detail else reason),
            status=status,
            temporary=status in TEMPORARY_STATUS or status >= 500,
        )

    def _message(self, what: str) -> str:
        return f"resumable upload of {self._key!r} to bucket {self._backend.bucket!r}: {what}"


def _generation(value: object) -> str | None:
    """A generation as the version token (``None`` when the reply carried none)."""
    return str(int(str(value))) if value not in (None, "") else None


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _upload_id(session: str) -> str:
    match = re.search(r"[?&]upload_id=([^&#]+)", session)
    return match.group(1) if match else session
