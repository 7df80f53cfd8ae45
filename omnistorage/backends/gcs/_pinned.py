"""Pinned reads (``Capability.PINNED_READ``): ranged reads of one generation.

:class:`GCSPinned` learns the object's generation and size once, then asks
for every range of *that* generation (``generation=<n>`` on the media
``GET``). Once the object is overwritten (without object versioning, its old
generation is gone) or deleted, GCS answers 404, and :meth:`read_range`
raises :class:`~omnistorage.errors.ObjectChanged` instead of returning bytes
of another version. With versioning the old generation stays readable:
that is still one version. Every reply's ``X-Goog-Generation`` header, when
the service sends one, must name the pinned generation too, so a server or
proxy that ignored the parameter cannot mix versions unnoticed (the
gcp-storage-emulator ignores ``generation`` and sends no such header: there
the pin is not enforced, which the tests name as an emulator gap).
"""

from __future__ import annotations

from typing import Any

from google.api_core import exceptions as api_exceptions

from omnistorage.driver import PinnedReader
from omnistorage.errors import ObjectChanged

__all__ = ["GCSPinned"]


class GCSPinned(PinnedReader):
    """Ranged reads of generation ``generation`` of the object at ``url``.

    ``url`` is the object's media download URL (``…?alt=media``); ``http`` the
    client's authorized session. Errors other than "gone" are raised as the
    google-api-core exceptions the backend classifies.
    """

    def __init__(
        self, http: Any, url: str, key: str, generation: int, size: int, timeout: Any
    ) -> None:
        self._http = http
        self._url = f"{url}&generation={generation}"
        self._key = key
        self._generation = str(generation)
        self._timeout = timeout
        self.size = size
        self.version = self._generation

    def read_range(self, offset: int, length: int) -> bytes:
        length = max(0, min(length, self.size - offset))
        if length == 0:
            return b""
        headers = {"Accept-Encoding": "gzip", "Range": f"bytes={offset}-{offset + length - 1}"}
        response = self._http.request("GET", self._url, headers=headers, timeout=self._timeout)
        status = response.status_code
        if status in (404, 412):
            response.close()
            raise ObjectChanged(
                f"{self._key!r} was overwritten or deleted after it was opened "
                f"(generation {self._generation} is gone)"
            )
        if status not in (200, 206):
            try:
                raise api_exceptions.from_http_response(response)  # type: ignore[no-untyped-call]
            finally:
                response.close()
        served = response.headers.get("X-Goog-Generation")
        if served is not None and served != self._generation:
            response.close()
            raise ObjectChanged(
                f"{self._key!r} changed after it was opened (generation {served} served, "
                f"{self._generation} pinned)"
            )
        data: bytes = response.content
        if status == 200:  # the whole object: the service ignored the range
            data = data[offset : offset + length]
        if len(data) != length:
            raise ObjectChanged(
                f"{self._key!r} changed after it was opened ({len(data)} bytes where "
                f"{length} were pinned)"
            )
        return data
