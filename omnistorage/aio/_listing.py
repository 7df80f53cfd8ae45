"""The lazy listing :class:`~omnistorage.aio.AsyncStore` hands out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Generic, TypeVar

from omnistorage._listing import ForeignKeys, SkippedCounts

__all__ = ["AsyncListing"]

T = TypeVar("T")


class AsyncListing(SkippedCounts, AsyncIterator[T], Generic[T]):
    """A lazy async listing that also tells what it skipped (as :class:`omnistorage.Listing`).

    ``async for`` it; ``invalid_count`` and ``invalid`` grow as it advances past
    foreign keys. Errors surface as omnistorage errors. ``aclose()`` releases the
    driver's listing when leaving early.
    """

    __slots__ = ("_foreign", "_source")

    def __init__(self, source: AsyncIterator[T], foreign: ForeignKeys) -> None:
        self._source = source
        self._foreign = foreign

    def __aiter__(self) -> AsyncListing[T]:
        return self

    async def __anext__(self) -> T:
        return await self._source.__anext__()

    async def aclose(self) -> None:
        """Stop the listing early and release what the driver holds for it."""
        aclose = getattr(self._source, "aclose", None)
        if aclose is not None:
            await aclose()
